"""Drive the shop's pages in Debian's Chromium through Playwright.

The driver launches the system Chromium (``executable_path``, never ``playwright
install``), opens shop URLs, types searches into the search box and clicks links and
buttons: real DOM interactions, each under a timeout. After every action it reads the
page back (kind, instruction, segments, score) from the ``data-seg`` elements' rendered
``innerText`` in the same round trip that waits for the page to change (the pages swap
in the next page themselves, see :mod:`envkit.shop.html`). Clicks are real mouse
clicks at the element's centre and searches are typed and submitted with Enter.
Requests that leave the shop's origin are aborted, and a navigation there is refused
with a message, so an agent cannot browse the web.

Failures (Chromium gone, a timeout) raise :class:`BrowserFailure` with one line saying
what happened; :meth:`BrowserDriver.ensure_started` launches a fresh Chromium after a
crash, and :meth:`close` leaves no Chromium process behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from envkit.shop.pages import Page, Segment

__all__ = ["CHROMIUM_FLAGS", "BrowserDriver", "BrowserFailure", "find_chromium"]

CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

_READ_PAGE = """() => {
  const body = document.body;
  if (!body || !body.dataset.page) return null;
  const instruction = document.querySelector('[data-seg=instruction]');
  const segments = Array.from(document.querySelectorAll('main [data-seg]')).map(e => [e.dataset.seg, e.innerText]);
  return {kind: body.dataset.page, score: body.dataset.score ?? null,
          instruction: instruction ? instruction.innerText : '', segments};
}"""


# scroll the clickable into view and return its centre (for a real mouse click) and the page counter
_LOCATE = """(i) => {
  const e = document.querySelectorAll('main [data-seg=click]')[i];
  e.scrollIntoView({block: 'center'});
  const r = e.getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2, window.envkitSeq];
}"""
_AFTER = f"""async ([n, ms]) => {{ await window.envkitAfter(n, ms); return ({_READ_PAGE})(); }}"""


_THREAD = threading.local()


def _acquire_playwright() -> Any:
    """Return this thread's Playwright driver, started on first use.

    Playwright's sync API allows one driver per thread (a second ``start()`` finds the
    first one's event loop), so every browser env of a thread shares it and each keeps
    its own Chromium; the driver stops when the last env releases it.
    """
    from playwright.sync_api import sync_playwright

    if getattr(_THREAD, "users", 0) == 0:
        _THREAD.playwright = sync_playwright().start()
        _THREAD.users = 0
    _THREAD.users += 1
    return _THREAD.playwright


def _release_playwright() -> None:
    _THREAD.users -= 1
    if _THREAD.users == 0:
        playwright, _THREAD.playwright = _THREAD.playwright, None
        with contextlib.suppress(Exception):  # already gone
            playwright.stop()


class BrowserFailure(RuntimeError):
    """Chromium crashed, hung or could not be started."""


def find_chromium() -> str | None:
    """Chromium's path: ``$ENVKIT_CHROMIUM``, else the first Chromium/Chrome on ``PATH``."""
    configured = os.environ.get("ENVKIT_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A page as read from the DOM, with the URL it is at."""

    page: Page
    url: str


class BrowserDriver:
    """One Chromium, one page, confined to ``origin``."""

    def __init__(
        self,
        origin: str,
        executable_path: str | None = None,
        action_timeout: float = 10.0,
        headless: bool = True,
        viewport: tuple[int, int] = (1024, 768),
    ) -> None:
        parts = urlsplit(origin)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.executable_path = executable_path or find_chromium()
        self.action_timeout, self.headless, self.viewport = action_timeout, headless, viewport
        self._playwright: Any = None
        self._browser: Any = None
        self._page: Any = None
        self._page_crashed = False
        self._pid: int | None = None
        self._last_url: str | None = None
        self.refused: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Chromium runs and its page can still render (a page whose renderer died is not alive)."""
        return (
            self._browser is not None
            and self._browser.is_connected()
            and not self._page.is_closed()
            and not self._page_crashed
        )

    def _on_crash(self, _page: Any) -> None:
        self._page_crashed = True  # every renderer killed (an OOM kill does that): reset() must start afresh

    def ensure_started(self) -> None:
        """Launch Chromium unless a live one is open (after a crash, a fresh one)."""
        if self.alive:
            return
        self.close()
        if self.executable_path is None:
            raise BrowserFailure("no Chromium found: apt-get install chromium, or set ENVKIT_CHROMIUM")
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            raise BrowserFailure("browser mode needs playwright: pip install 'mem1-envkit[shop]'") from None
        before = self._browser_processes()
        try:
            self._playwright = _acquire_playwright()
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable_path,
                headless=self.headless,
                args=list(CHROMIUM_FLAGS),
                timeout=max(30_000, self.action_timeout * 1000),
            )
            context = self._browser.new_context(
                viewport={"width": self.viewport[0], "height": self.viewport[1]}, service_workers="block"
            )
            context.set_default_timeout(self.action_timeout * 1000)
            context.set_default_navigation_timeout(self.action_timeout * 1000)
            context.route("**/*", self._guard)
            # a page's script gets no window.open: Chromium connects a popup's target before any route sees it
            context.add_init_script(_NO_POPUPS)
            self._page = context.new_page()
            context.on("page", self._close_popup)  # after ours: window.open gets no second page
            self._page_crashed = False
            self._page.on("crash", self._on_crash)
            launched = self._browser_processes() - before
            self._pid = launched.pop() if len(launched) == 1 else None
        except Exception as error:
            self.close()
            raise BrowserFailure(f"could not start Chromium at {self.executable_path}: {_one_line(error)}") from None

    def _close_popup(self, page: Any) -> None:
        if page is not self._page:
            with contextlib.suppress(Exception):
                page.close()

    def _guard(self, route: Any) -> None:
        request = route.request
        if _origin(request.url) == self.origin:
            route.continue_()
            return
        if request.is_navigation_request():
            self.refused.append(request.url)
        route.abort("blockedbyclient")

    def browser_pid(self) -> int | None:
        """The process id of this driver's Chromium (for tests and fault injection)."""
        return self._pid if self.alive else None

    @staticmethod
    def _browser_processes() -> set[int]:
        """Chromium browser processes below this one (their renderers and helpers carry ``--type=``)."""
        try:
            import psutil
        except ImportError:
            return set()
        found = set()
        for child in psutil.Process().children(recursive=True):
            try:
                cmdline = child.cmdline()
            except psutil.Error:
                continue
            if (
                cmdline
                and "chrom" in os.path.basename(cmdline[0])
                and not any(a.startswith("--type=") for a in cmdline)
            ):
                found.add(child.pid)
        return found

    def close(self) -> None:
        """Close Chromium and the Playwright driver; safe to call twice or after a crash."""
        if self._browser is not None:
            with contextlib.suppress(Exception):  # already gone: nothing left to close
                self._browser.close()
        if self._playwright is not None:
            _release_playwright()
        self._browser = self._playwright = self._page = None

    # -- actions -------------------------------------------------------------------------

    def open(self, url: str) -> Snapshot:
        """Navigate to ``url`` (a path, or a URL on the shop's origin)."""
        target = url if "://" in url else self.origin + url
        if _origin(target) != self.origin:
            raise NavigationRefused(f"navigation to {target} refused: it is outside the shop at {self.origin}")
        self._run(lambda: self._page.goto(target, wait_until="domcontentloaded"))
        return self.snapshot()

    def search(self, query: str) -> Snapshot:
        """Type ``query`` into the search box and press Enter."""

        def act() -> dict[str, Any] | None:
            seq = self._page.evaluate("() => window.envkitSeq")
            self._page.fill("input[name=q]", query)
            self._page.press("input[name=q]", "Enter")
            return self._page.evaluate(_AFTER, [seq, self.action_timeout * 1000])

        return self._remember(_snapshot(self._run(act), self._page.url))

    def click(self, index: int) -> Snapshot:
        """Click the ``index``-th clickable of the page (in document order) with the mouse."""

        def act() -> dict[str, Any] | None:
            x, y, seq = self._page.evaluate(_LOCATE, index)
            self._page.mouse.click(x, y)
            return self._page.evaluate(_AFTER, [seq, self.action_timeout * 1000])

        return self._remember(_snapshot(self._run(act), self._page.url))

    def _run(self, act: Callable[[], Any]) -> Any:
        """Run one browser action: failures become :class:`BrowserFailure`, off-site navigations a refusal.

        An action left the shop when the guard refused a navigation or the page is no
        longer on the shop's origin (Chromium shows its error page for a refused
        navigation, sometimes before the guard's event arrives): both are refusals.
        """
        self.ensure_alive()
        self.refused.clear()
        try:
            result = act()
        except Exception as error:
            if self._left_the_shop():  # the action failed because it left the shop: a refusal, not a failure
                raise self._refusal() from None
            raise self._failure(error) from None
        if self._left_the_shop():
            raise self._refusal()
        return result

    def _left_the_shop(self) -> bool:
        return bool(self.refused) or (self.alive and _origin(self._page.url) != self.origin)

    def _refusal(self) -> NavigationRefused:
        target = self.refused[0] if self.refused else self._page.url
        return NavigationRefused(f"navigation to {target} refused: it is outside the shop at {self.origin}")

    def snapshot(self, attempts: int = 3) -> Snapshot:
        """The current page, read from the DOM (back on the last shop page if the page left the shop).

        After a refused navigation Chromium loads its error page a moment later: a read
        that finds no shop page waits for that navigation to land and goes back again.
        """
        self.ensure_alive()
        try:
            for attempt in range(attempts):
                if _origin(self._page.url) != self.origin and self._last_url is not None:
                    self._return_to(self._last_url)
                try:
                    data, url = self._page.evaluate(_READ_PAGE), self._page.url
                except Exception as error:  # read while the page navigated away: look again once it lands
                    if "context was destroyed" not in str(error) or attempt == attempts - 1:
                        raise
                    data, url = None, self._page.url
                if (data is not None and _origin(url) == self.origin) or attempt == attempts - 1:
                    break
                self._page.wait_for_load_state("domcontentloaded")
        except Exception as error:
            raise self._failure(error) from None
        return self._remember(_snapshot(data, url))

    def _return_to(self, url: str, attempts: int = 3) -> None:
        """Navigate back to ``url``; Chromium's own error page may still be loading and interrupt the first try."""
        for attempt in range(attempts):
            try:
                self._page.goto(url, wait_until="domcontentloaded")
                return
            except Exception as error:
                if "interrupted by another navigation" not in str(error) or attempt == attempts - 1:
                    raise
                self._page.wait_for_load_state("domcontentloaded")

    def _remember(self, snapshot: Snapshot) -> Snapshot:
        self._last_url = snapshot.url
        return snapshot

    def html(self) -> str:
        """The page's current HTML (the DOM, serialised)."""
        try:
            return self._page.content()
        except Exception as error:
            raise self._failure(error) from None

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        try:
            return self._page.screenshot(type="png")
        except Exception as error:
            raise self._failure(error) from None

    def ensure_alive(self) -> None:
        if not self.alive:
            raise BrowserFailure("Chromium is not running (it crashed or was closed); reset() starts a new one")

    def _failure(self, error: Exception) -> BrowserFailure:
        if type(error).__name__ == "TimeoutError" or "did not change within" in str(error):
            return BrowserFailure(f"the action timed out after {self.action_timeout:g} s")
        if not self.alive:
            return BrowserFailure(f"Chromium died during the action: {_one_line(error)}")
        return BrowserFailure(f"browser error: {_one_line(error)}")


_NO_POPUPS = "Object.defineProperty(window, 'open', {value: () => null, writable: false, configurable: false});"


class NavigationRefused(BrowserFailure):
    """A navigation outside the shop's origin (the page stays where it was)."""


def _snapshot(data: dict[str, Any] | None, url: str) -> Snapshot:
    if data is None:
        raise BrowserFailure(f"{url} is not a shop page")
    segments = tuple(Segment(kind, text) for kind, text in data["segments"])
    score = None if data["score"] in (None, "") else float(data["score"])
    return Snapshot(Page(data["kind"], data["instruction"], segments, score), url)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _one_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
