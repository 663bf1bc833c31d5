"""The two ways to run a shop session, behind one interface.

- :class:`TextShop`: in process, no server, no browser; the engine renders pages
  straight to :class:`~envkit.shop.pages.Page` objects.
- :class:`BrowserShop`: the shop's server on 127.0.0.1 and Chromium driven by
  Playwright; every action is a DOM interaction and every page is read back from
  the DOM.

Both refuse the same actions with the same messages (``Page.refusal``) and read the
reward from the same computation (text: the engine; browser: the server's score page,
which the engine computed), so the same actions give the same observations and rewards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from composers.sources.shop.records import Goal
from envkit.shop.browser import BrowserDriver, NavigationRefused, Snapshot
from envkit.shop.engine import ShopState
from envkit.shop.pages import Click, Page, Search, ShopAction
from envkit.shop.shop import Shop

__all__ = ["BrowserShop", "ShopBackend", "ShopView", "TextShop"]


@dataclass(frozen=True, slots=True)
class ShopView:
    """What one action led to: the page, or the unchanged page and why the action was refused."""

    page: Page
    refused: str | None = None
    url: str | None = None
    html: str | None = None
    screenshot: bytes | None = None


class ShopBackend(Protocol):
    mode: str

    def start(self, goal: Goal) -> ShopView:
        """Open the search page of a new session on ``goal``."""
        ...

    def act(self, action: ShopAction) -> ShopView: ...

    def close(self) -> None: ...


class TextShop:
    """Shop sessions in process: pages from the engine, nothing rendered to HTML."""

    mode = "text"

    def __init__(self, shop: Shop) -> None:
        self.engine = shop.engine
        self._goal: Goal | None = None
        self._state = ShopState()
        self._page: Page | None = None

    def start(self, goal: Goal) -> ShopView:
        self._goal, self._state = goal, ShopState()
        self._page = self.engine.page(self._state, goal.instruction_text)
        return ShopView(self._page)

    def act(self, action: ShopAction) -> ShopView:
        if self._goal is None or self._page is None:
            raise RuntimeError("start() a session before act()")
        target = self.engine.step(self._state, action, self._page)
        if isinstance(target, str):
            return ShopView(self._page, refused=target)
        score = self.engine.purchase(self._state, self._goal).total if target.page == "done" else None
        self._state, self._page = target, self.engine.page(target, self._goal.instruction_text, score)
        return ShopView(self._page)

    def close(self) -> None:
        self._goal = self._page = None


@dataclass(frozen=True, slots=True)
class BrowserSettings:
    """How browser mode runs.

    Attributes:
        html: add each page's HTML to ``info``.
        screenshot: add a PNG of each page to ``info``.
        action_timeout: seconds an action may take before it is a browser failure.
        server_url: a running shop server to use instead of starting one on 127.0.0.1.
        chromium: the Chromium binary (default: found on ``PATH``).
        fresh_every: start a fresh Chromium every this many goals (its memory grows over
            hundreds of episodes: +15.8% in 300 in ``benchmarks.soak``); 0 never.

    """

    html: bool = False
    screenshot: bool = False
    action_timeout: float = 10.0
    server_url: str | None = None
    chromium: str | None = None
    fresh_every: int = 100


class BrowserShop:
    """Shop sessions in Chromium against the shop's server (started here unless ``settings.server_url`` is given)."""

    mode = "browser"

    def __init__(self, shop: Shop, settings: BrowserSettings = BrowserSettings()) -> None:
        from envkit.shop.server import ShopServer  # the shop extra (fastapi, uvicorn, jinja2)

        self._server = ShopServer(shop) if settings.server_url is None else None
        url = self._server.url if self._server is not None else str(settings.server_url)
        self.driver = BrowserDriver(url, executable_path=settings.chromium, action_timeout=settings.action_timeout)
        self.want_html, self.want_screenshot = settings.html, settings.screenshot
        self.fresh_every, self._goals_started = settings.fresh_every, 0
        self._page: Page | None = None
        self._url = ""

    def _view(self, snapshot: Snapshot, refused: str | None = None) -> ShopView:
        self._page, self._url = snapshot.page, snapshot.url
        html = self.driver.html() if self.want_html else None
        shot = self.driver.screenshot() if self.want_screenshot else None
        return ShopView(snapshot.page, refused, snapshot.url, html, shot)

    def start(self, goal: Goal) -> ShopView:
        self._goals_started += 1
        if self.fresh_every and self._goals_started % self.fresh_every == 0:
            self.driver.close()  # a fresh Chromium: its memory does not keep growing over a long run
        self.driver.ensure_started()
        session = uuid.uuid4().hex[:16]
        return self._view(self.driver.open(f"/s/{session}/?goal={quote(goal.id, safe='')}"))  # WebShop ids hold "#"

    def act(self, action: ShopAction) -> ShopView:
        if self._page is None:
            raise RuntimeError("start() a session before act()")
        refusal = self._page.refusal(action)
        if refusal is not None:  # the page stays; nothing to ask the browser
            return self._view(Snapshot(self._page, self._url), refusal)
        try:
            if isinstance(action, Search):
                return self._view(self.driver.search(action.query))
            assert isinstance(action, Click)
            label = self._page.find(action.label)
            return self._view(self.driver.click(self._page.clickables.index(label)))  # type: ignore[arg-type]  # find() returned a clickable
        except NavigationRefused as refused:
            return self._view(self.driver.snapshot(), str(refused))

    def close(self) -> None:
        self.driver.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
