"""Browser mode against a real Chromium (Debian's, through Playwright) and the real server."""

from __future__ import annotations

import io
import os
import signal
import time

import gymnasium as gym
import pytest

from envkit.envs import SHOP_ENV_ID
from envkit.policy.scripted import ShopOracleAgent
from envkit.protocol.tags import SHOP_TAGS
from envkit.rollout.episode import run_episode
from envkit.shop.backends import BrowserSettings
from envkit.shop.browser import BrowserDriver, BrowserFailure, find_chromium
from envkit.shop.server import ShopServer
from tests.conftest import require
from tests.shop.conftest import SMALL_SHOP


def turn(action: str) -> str:
    return SHOP_TAGS.format_turn("notes", "action", action)


def chromium_processes() -> list[int]:
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name().lower() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def browser_ready():
    require("playwright", "psutil", "PIL")
    if find_chromium() is None:
        message = "needs Chromium (apt-get install chromium)"
        if os.environ.get("ENVKIT_REQUIRE_EXTRAS") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser_env(browser_ready, small_shop):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser", browser=BrowserSettings(screenshot=True, html=True))
    yield env
    env.close()


@pytest.mark.slow
def test_same_actions_give_same_observations_and_rewards_in_both_modes(browser_env, small_shop):
    text_env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP)
    oracle = ShopOracleAgent(small_shop)
    # refused actions and every detail tab (the oracle clicks < prev back to the item each time)
    detours = ["click[nonexistent]", "search[again]", "click[reviews]", "click[features]", "click[description]"]
    for index in range(4):
        obs_t, info_t = text_env.reset(options={"task_index": index})
        obs_b, info_b = browser_env.reset(options={"task_index": index})
        assert obs_t == obs_b
        oracle.reset(text_env.unwrapped.task)
        pending = list(detours) if index == 0 else []
        done, turns = False, 0
        while not done:
            action = turn(pending.pop(0)) if pending and info_t.get("page") == "item" else oracle.act(obs_t, info_t)
            obs_t, r_t, term_t, trunc_t, info_t = text_env.step(action)
            obs_b, r_b, term_b, trunc_b, info_b = browser_env.step(action)
            assert obs_b == obs_t
            assert (r_b, term_b, trunc_b) == (r_t, term_t, trunc_t)
            assert info_b["available_actions"] == info_t["available_actions"]
            done, turns = term_t or trunc_t, turns + 1
        assert r_t == 1.0 and turns >= 4
        assert info_b["url"].endswith("/done") and "data-score" in info_b["html"]


def test_screenshot_of_an_item_page_is_not_blank(browser_env, small_shop):
    from PIL import Image, ImageStat

    _, info = browser_env.reset(options={"task_index": 5})
    goal = small_shop.source.goal(browser_env.unwrapped.task.objectives[0].id)
    browser_env.step(turn(f"search[{goal.name}]"))
    _, _, _, _, info = browser_env.step(turn(f"click[{goal.asin}]"))
    assert info["page"] == "item"
    image = Image.open(io.BytesIO(info["screenshot"])).convert("L")
    assert image.size == (1024, 768)
    stats = ImageStat.Stat(image)
    assert stats.stddev[0] > 10  # text and buttons, not a blank page
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


@pytest.mark.slow
def test_navigation_outside_the_shop_is_refused(browser_ready, small_shop):
    server = ShopServer(small_shop)
    driver = BrowserDriver(server.url)
    try:
        driver.ensure_started()
        goal = small_shop.source.goals("test")[0]
        driver.open(f"/s/nav/?goal={goal.id}")
        with pytest.raises(BrowserFailure, match="outside the shop"):
            driver.open("http://example.com/")
        # a page that tries to leave on its own is stopped by the origin guard
        driver._page.evaluate("() => { window.location.href = 'http://127.0.0.2:9/away'; }")
        driver._page.wait_for_timeout(500)  # lets Playwright run the route guard
        assert driver.refused and driver.snapshot().page.kind == "search"
    finally:
        driver.close()
        server.stop()


@pytest.mark.slow
def test_a_chromium_crash_is_reported_and_reset_recovers(browser_ready, small_shop):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser", browser=BrowserSettings(action_timeout=5.0))
    try:
        env.reset(options={"task_index": 0})
        driver = env.unwrapped.backend.driver
        pid = driver.browser_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        observation, reward, terminated, truncated, info = env.step(turn("search[tea]"))
        assert truncated and not terminated and reward == 0.0
        assert "Chromium" in info["browser_error"] and "Browser failure" in observation
        observation, info = env.reset(options={"task_index": 1})
        assert info["page"] == "search" and driver.browser_pid() not in (None, pid)
        _, _, _, _, info = env.step(turn("search[tea]"))
        assert info["page"] == "results"
    finally:
        env.close()


def test_close_leaves_no_chromium_behind(browser_ready, small_shop):
    before = set(chromium_processes())
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser")
    env.reset(options={"task_index": 0})
    assert set(chromium_processes()) - before  # it did start Chromium
    env.close()
    deadline = time.monotonic() + 10
    while set(chromium_processes()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(chromium_processes()) - before


@pytest.mark.slow
def test_a_slow_action_times_out_into_info(browser_ready, small_shop, monkeypatch):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser", browser=BrowserSettings(action_timeout=1.0))
    try:
        env.reset(options={"task_index": 0})
        search = small_shop.search.search

        def slow_search(query: str):
            time.sleep(3)  # the server hangs on this search
            return search(query)

        monkeypatch.setattr(small_shop.search, "search", slow_search)
        started = time.monotonic()
        _, _, _, truncated, info = env.step(turn("search[tea]"))
        assert truncated and "timed out after 1 s" in info["browser_error"]
        assert time.monotonic() - started < 2.5
    finally:
        env.close()


@pytest.mark.slow
def test_webshop_goal_ids_travel_quoted_into_the_browser(browser_ready, webshop_folder):
    """WebShop's human goals are ``ASIN#k``: unquoted, the ``#`` cut the id and every browser reset failed."""
    from envkit.kinds.shop import ShopOracleAgent

    spec = f"shop:webshop={webshop_folder}"
    rewards = {}
    for mode in ("text", "browser"):
        env = gym.make(SHOP_ENV_ID, shop=spec, mode=mode, split="train")
        shop = env.get_wrapper_attr("shop")
        task = env.get_wrapper_attr("tasks")[0]
        assert "#" in task.objectives[0].id
        rewards[mode] = [run_episode(env, ShopOracleAgent(shop), task_index=i).reward for i in range(2)]
        env.close()
    assert rewards["browser"] == rewards["text"] and min(rewards["text"]) > 0  # bought, scored alike


@pytest.mark.slow
def test_a_dead_renderer_is_replaced_on_reset(browser_ready, small_shop):
    """With every renderer killed (as an OOM kill does), every later reset() raised 'Page crashed'."""
    import psutil

    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser", browser=BrowserSettings(action_timeout=5.0))
    try:
        env.reset(options={"task_index": 0})
        renderers = [
            child
            for child in psutil.Process().children(recursive=True)
            if any(arg == "--type=renderer" for arg in child.cmdline())
        ]
        assert renderers
        for renderer in renderers:
            renderer.kill()
        time.sleep(0.5)
        _, _, _, truncated, info = env.step(turn("search[tea]"))
        assert truncated and "browser_error" in info
        for index in (1, 2):  # not once: every later episode
            _, info = env.reset(options={"task_index": index})
            assert info["page"] == "search"
            _, _, _, _, info = env.step(turn("search[tea]"))
            assert info["page"] == "results"
    finally:
        env.close()


@pytest.mark.slow
def test_control_characters_in_product_text_keep_both_modes_alike(browser_ready, tmp_path, monkeypatch):
    """A NUL byte in product text broke text/browser parity."""
    import json

    from tests.shop.conftest import write_webshop_folder

    monkeypatch.setenv("ENVKIT_CACHE", str(tmp_path / "cache"))
    folder = write_webshop_folder(tmp_path / "webshop")
    products_file = folder / "items_shuffle_1000.json"
    products = json.loads(products_file.read_text())
    for product in products:
        product["name"] = product["name"].replace(" ", " \x00\x07", 1)
    products_file.write_text(json.dumps(products))
    spec = f"shop:webshop={folder}"
    observations = {}
    for mode in ("text", "browser"):
        env = gym.make(SHOP_ENV_ID, shop=spec, mode=mode, split="train")
        shop = env.get_wrapper_attr("shop")
        oracle = ShopOracleAgent(shop)
        observation, info = env.reset(options={"task_index": 0})
        oracle.reset(env.get_wrapper_attr("task"))
        seen, done = [observation], False
        while not done:
            observation, _, terminated, truncated, info = env.step(oracle.act(observation, info))
            seen.append(observation)
            done = terminated or truncated
        observations[mode] = seen
        env.close()
    assert observations["browser"] == observations["text"]


@pytest.mark.slow
def test_scripts_in_a_page_cannot_reach_other_servers_or_open_windows(browser_ready, small_shop):
    """A WebSocket reached another local server and window.open opened a page; the pages sent no CSP."""
    import socket
    import threading

    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser", browser=BrowserSettings(html=True))
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen()
    other.settimeout(0.2)
    port = other.getsockname()[1]
    accepted = []

    def listen() -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                accepted.append(other.accept()[0])
            except OSError:
                continue

    try:
        env.reset(options={"task_index": 0})
        driver = env.unwrapped.backend.driver
        watcher = threading.Thread(target=listen)
        watcher.start()
        driver._page.evaluate(f"() => {{ try {{ new WebSocket('ws://127.0.0.1:{port}/'); }} catch (e) {{}} }}")
        driver._page.evaluate(f"() => window.open('http://127.0.0.1:{port}/popup')")
        watcher.join()
        assert accepted == []  # the other local server heard nothing
        assert len(driver._page.context.pages) == 1  # no popup
        from envkit.shop.browser import NavigationRefused

        _, _, _, truncated, info = env.step(turn("search[tea]"))
        assert not truncated and info["page"] == "results"  # the shop still works
        with pytest.raises(NavigationRefused, match="outside the shop"):  # a failed off-site action: a refusal
            driver._run(lambda: driver._page.goto(f"http://127.0.0.1:{port}/elsewhere"))
    finally:
        other.close()
        env.close()


@pytest.mark.slow
def test_clicking_an_off_site_link_is_refused_and_the_episode_goes_on(browser_ready, small_shop):
    """The click was refused, but Chromium's error page landed after it: the episode ended in a browser failure."""
    away = "() => { for (const a of document.querySelectorAll('a')) a.href = 'http://127.0.0.2:9/x'; }"
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser")
    try:
        for episode in range(5):
            env.reset(options={"task_index": episode})
            env.step(turn("search[tea]"))
            driver = env.unwrapped.backend.driver
            driver._page.evaluate(away)
            label = env.unwrapped.backend._page.clickables[1]
            _, _, terminated, truncated, info = env.step(turn(f"click[{label}]"))
            assert not (terminated or truncated) and "browser_error" not in info
            assert "outside the shop" in info["refused"] and info["page"] == "results"
            _, _, _, truncated, info = env.step(turn("search[shoes]"))
            assert not truncated and info["page"] == "results"
    finally:
        env.close()


def test_shop_pages_carry_security_headers(small_shop):
    import httpx

    from envkit.shop.server import SECURITY_HEADERS

    server = ShopServer(small_shop)
    try:
        response = httpx.get(f"{server.url}/", follow_redirects=True)
        assert response.status_code == 200
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "connect-src 'self'" in response.headers["content-security-policy"]
    finally:
        server.stop()


@pytest.mark.slow
def test_a_long_run_starts_a_fresh_chromium_every_so_often(browser_ready, small_shop):
    env = gym.make(SHOP_ENV_ID, shop=SMALL_SHOP, mode="browser", browser=BrowserSettings(fresh_every=2))
    try:
        pids = []
        for index in range(4):
            env.reset(options={"task_index": index})
            pids.append(env.unwrapped.backend.driver.browser_pid())
            _, _, _, truncated, info = env.step(turn("search[tea]"))
            assert not truncated and info["page"] == "results"
        assert pids[1] != pids[0] and pids[2] == pids[1] and pids[3] != pids[2]  # fresh at goals 2 and 4
    finally:
        env.close()
