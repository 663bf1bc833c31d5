"""``envkit shop serve | play | doctor``: the shop for people, and a check of what browser mode needs."""

from __future__ import annotations

import importlib.util
import subprocess
from typing import Annotated, Any

import gymnasium as gym
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from envkit.cli.terminal import play_in_terminal
from envkit.envs import SHOP_ENV_ID
from envkit.net import listen
from envkit.protocol.tags import SHOP_TAGS
from envkit.shop.shop import DEFAULT_SHOP, cache_root

__all__ = ["shop_app"]

shop_app = typer.Typer(help="The WebShop-compatible shop: serve it, play it, check browser mode.", no_args_is_help=True)

ShopSpec = Annotated[str, typer.Option("--shop", help="Shop spec: shop[:products=N,seed=S] or shop:webshop=DIR.")]


@shop_app.command("serve")
def serve(
    shop: ShopSpec = DEFAULT_SHOP,
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 3000,
    split: Annotated[str, typer.Option(help="Goals that / starts sessions on: train, dev or test.")] = "test",
) -> None:
    """Serve the shop's pages; open http://HOST:PORT/ to shop for a random goal."""
    from envkit.shop.server import serve_shop
    from envkit.shop.shop import open_shop

    store = open_shop(shop)
    store.source.goals(split)  # a bad split fails here, in one line
    sock = listen(host, port)  # and a busy port here, before anything claims to serve
    Console(stderr=True).print(f"shop of {len(store.catalog)} products at http://{host}:{port}/ (Ctrl-C stops)")
    serve_shop(store, host, port, split, sock=sock)


@shop_app.command("play")
def play(
    shop: ShopSpec = DEFAULT_SHOP,
    mode: Annotated[str, typer.Option(help="text or browser.")] = "text",
    split: Annotated[str, typer.Option(help="train, dev or test.")] = "test",
    seed: Annotated[int, typer.Option(help="Seed: picks the goal.")] = 0,
    context: Annotated[str, typer.Option(help="consolidated, full, window(K), summary(K) or fold.")] = "consolidated",
    title_words: Annotated[
        str, typer.Option(help="How rewards compare titles: content (offline) or spacy[:MODEL] (WebShop's nouns).")
    ] = "content",
) -> None:
    """Shop for one goal yourself: type search[...] / click[...] (or 'quit')."""
    console = Console(highlight=False)
    options: dict[str, Any] = {"split": split, "seed": seed, "context": context, "title_words": title_words}
    env = gym.make(SHOP_ENV_ID, shop=shop, mode=mode, **options)
    try:
        observation, info = env.reset(seed=seed)
        console.print("Type search[keywords], click[label], a full <IS>...</IS> turn, or 'quit'.\n")
        played = play_in_terminal(env, observation, info, _shop_turn, console)
        if played is None:
            return
        reward, info = played
        console.print(info["messages"][-1]["content"], markup=False)  # the score page
        console.print(f"reward {reward:.4f} (success = 1.0), peak context {info['peak_context_tokens']} tokens")
    finally:
        env.close()


def _shop_turn(line: str) -> str:
    """A typed ``search[...]``/``click[...]`` as a protocol turn (full turns pass through)."""
    return line if "<" in line else SHOP_TAGS.format_turn("(played by a person)", "action", line.strip())


@shop_app.command("doctor")
def doctor(
    launch: Annotated[bool, typer.Option(help="Also launch Chromium and open a page.")] = True,
) -> None:
    """Tell what browser mode needs and what is missing (exit 1 if anything is)."""
    from envkit.shop.browser import find_chromium

    console = Console(highlight=False)
    table = Table("check", "status", "detail")
    problems = 0

    def row(name: str, ok: bool, detail: str) -> None:
        nonlocal problems
        problems += not ok
        table.add_row(name, "ok" if ok else "MISSING", escape(detail))  # "[shop]" is text, not markup

    for module, extra in (("playwright", "shop"), ("fastapi", "shop"), ("uvicorn", "shop"), ("jinja2", "shop")):
        found = importlib.util.find_spec(module) is not None
        row(module, found, "installed" if found else f"pip install 'mem1-envkit[{extra}]'")
    chromium = find_chromium()
    if chromium is None:
        row("chromium", False, "apt-get install chromium (or set ENVKIT_CHROMIUM); never 'playwright install'")
    else:
        try:
            version = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
            row("chromium", True, f"{chromium}: {version or 'version unknown'}")
        except (OSError, subprocess.TimeoutExpired) as error:
            row("chromium", False, f"{chromium} does not run: {error}")
    cache = cache_root()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        row("cache folder", True, str(cache))
    except OSError as error:
        row("cache folder", False, f"{cache}: {error} (set ENVKIT_CACHE)")
    if launch and problems == 0:
        row(*_launch_check())
    console.print(table)
    if problems:
        console.print(f"{problems} problem(s): browser mode will not work until they are fixed (text mode needs none).")
        raise typer.Exit(1)
    console.print("browser mode is ready")


def _launch_check() -> tuple[str, bool, str]:
    import time

    from envkit.shop.browser import BrowserDriver, BrowserFailure

    driver = BrowserDriver("http://127.0.0.1:9")
    started = time.perf_counter()
    try:
        driver.ensure_started()
        driver._page.set_content("<p>envkit</p>")
        text = driver._page.inner_text("p")
        return (
            "launch",
            text == "envkit",
            f"Chromium launched and rendered a page in {time.perf_counter() - started:.1f} s",
        )
    except BrowserFailure as failure:
        return "launch", False, str(failure)
    finally:
        driver.close()
