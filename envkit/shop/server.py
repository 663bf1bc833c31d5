"""The shop as a website: an ASGI app (FastAPI on uvicorn) serving WebShop's pages.

Every page state lives in its URL (``/s/{session}/results?q=…&p=2``,
``/s/{session}/item/{asin}?q=…&p=…&o=[["color","black"]]``, ``…/item/{asin}/reviews``),
so back, reload and links behave as on any site; a session only holds its goal and
its purchase. ``/s/{session}/?goal=ID`` starts a session on a goal (``/`` starts one on
a random goal, for a person browsing). Buying is a POST that redirects to the score
page. Sessions are isolated by id and bounded in number (least recently used go
first). Nothing is read from disk by path, so there is no path to traverse; ASINs,
goals, tabs and options are checked against the catalog; all text is escaped.
"""

from __future__ import annotations

import html
import json
import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from composers.sources.base import SourceError
from composers.sources.shop.records import Goal
from envkit.shop.engine import BUY, DETAILS, ShopState
from envkit.shop.html import render_html
from envkit.shop.pages import Click
from envkit.shop.shop import Shop

__all__ = ["ShopServer", "create_shop_app", "serve_shop", "state_url"]

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_DETAIL_TABS = frozenset(d.lower() for d in DETAILS)


def state_url(session: str, state: ShopState) -> str:
    """The URL path of ``state`` in ``session``."""
    base = f"/s/{session}"
    query = {"q": state.query, "p": str(state.page_no)}
    if state.options:
        query["o"] = json.dumps([list(pair) for pair in state.options], separators=(",", ":"))
    if state.page == "search":
        return f"{base}/"
    if state.page == "results":
        return f"{base}/results?{urlencode({'q': state.query, 'p': state.page_no})}"
    if state.page == "done":
        return f"{base}/done"
    item = f"{base}/item/{quote(state.asin, safe='')}"
    if state.page == "detail":
        item += f"/{state.detail}"
    return f"{item}?{urlencode(query)}"


def page_number(text: str) -> int | None:
    """A page number from a URL: 1 to 999,999 in ASCII digits, else ``None``.

    ``str.isdigit`` accepts "²" (which ``int`` refuses) and ``int`` refuses numbers past
    4,300 digits: both answered 500 before.
    """
    if not 1 <= len(text) <= 6 or not all("0" <= c <= "9" for c in text):
        return None
    number = int(text)
    return number if number >= 1 else None


@dataclass
class _Session:
    goal: Goal
    score: float | None = None


class _Sessions:
    """Sessions by id, at most ``limit`` (the least recently used are dropped)."""

    def __init__(self, limit: int) -> None:
        self._items: OrderedDict[str, _Session] = OrderedDict()
        self._limit, self._lock = limit, threading.Lock()

    def get(self, sid: str) -> _Session | None:
        with self._lock:
            session = self._items.get(sid)
            if session is not None:
                self._items.move_to_end(sid)
            return session

    def put(self, sid: str, session: _Session) -> None:
        with self._lock:
            self._items[sid] = session
            self._items.move_to_end(sid)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _error(status: int, message: str) -> HTMLResponse:
    body = f"<!doctype html><title>{status}</title><p data-error>{html.escape(message)}</p><p><a href='/'>Start</a>"
    return HTMLResponse(body, status_code=status)


class _ShopRoutes:
    """The app's handlers over one shop and its sessions (each route a method; FastAPI reads their signatures)."""

    def __init__(self, shop: Shop, split: str, max_sessions: int) -> None:
        self.shop, self.split, self.engine = shop, split, shop.engine
        self.sessions = _Sessions(max_sessions)

    # -- helpers ------------------------------------------------------------------------

    def _session(self, sid: str) -> _Session | HTMLResponse:
        if not _SESSION_ID.match(sid):
            return _error(404, "no such session")
        session = self.sessions.get(sid)
        if session is None:
            return _error(404, f"unknown session {sid}: start one at /s/{sid}/?goal=ID or at /")
        return session

    def _render(self, sid: str, session: _Session, state: ShopState) -> HTMLResponse:
        try:
            page = self.engine.page(state, session.goal.instruction_text, session.score)
        except KeyError:
            return _error(404, f"no product {state.asin}")

        def href(label: str) -> str:
            target = self.engine.step(state, Click(label), page)
            if isinstance(target, str):  # cannot happen for the page's own clickables
                return state_url(sid, state)
            if label == BUY and state.page == "item":
                return state_url(sid, state).replace("/item/", "/buy/", 1)
            return state_url(sid, target)

        return HTMLResponse(render_html(page, href, f"/s/{sid}/results"))

    def _item_state(self, request: Request, asin: str, page: str, detail: str = "") -> ShopState | HTMLResponse:
        product = self.shop.catalog.get(asin)
        if product is None:
            return _error(404, f"no product {asin}")
        params = request.query_params
        try:
            page_no = page_number(params.get("p", "1"))
            if page_no is None:
                raise ValueError("page number")
            options = tuple((str(n), str(v)) for n, v in json.loads(params.get("o", "[]")))
        except (ValueError, TypeError, RecursionError):  # JSON nested thousands deep is malformed too
            return _error(400, "malformed page number or options")
        allowed = dict(product.options)
        if any(v not in allowed.get(n, ()) for n, v in options):
            return _error(400, "page number or option not offered for this product")
        return ShopState(page, params.get("q", ""), page_no, asin, options, detail)

    def _item_page(self, sid: str, asin: str, request: Request, page: str, detail: str = "") -> HTMLResponse:
        session = self._session(sid)
        if isinstance(session, HTMLResponse):
            return session
        state = self._item_state(request, asin, page, detail)
        return state if isinstance(state, HTMLResponse) else self._render(sid, session, state)

    # -- routes -------------------------------------------------------------------------

    def health(self) -> JSONResponse:
        return JSONResponse({"status": "ok", "products": len(self.shop.catalog), "sessions": len(self.sessions)})

    def start(self) -> RedirectResponse:
        goals = self.shop.source.goals(self.split)
        goal = goals[random.randrange(len(goals))]
        return RedirectResponse(f"/s/{uuid.uuid4().hex[:16]}/?goal={quote(goal.id, safe='')}", status_code=303)

    def search_page(self, sid: str, goal: str | None = None) -> HTMLResponse:
        if not _SESSION_ID.match(sid):
            return _error(404, "no such session")
        if goal is not None:
            try:
                self.sessions.put(sid, _Session(self.shop.source.goal(goal)))
            except SourceError:
                return _error(404, f"no goal {goal}")
        session = self._session(sid)
        return session if isinstance(session, HTMLResponse) else self._render(sid, session, ShopState())

    def results(self, sid: str, q: str = "", p: str = "1") -> HTMLResponse:
        session = self._session(sid)
        if isinstance(session, HTMLResponse):
            return session
        page_no = page_number(p)
        if page_no is None or not q.strip():
            return _error(400, "a results page needs a query and a page number from 1")
        return self._render(sid, session, ShopState("results", " ".join(q.split()), page_no))

    def item(self, sid: str, asin: str, request: Request) -> HTMLResponse:
        return self._item_page(sid, asin, request, "item")

    def item_detail(self, sid: str, asin: str, detail: str, request: Request) -> HTMLResponse:
        if detail not in _DETAIL_TABS:
            session = self._session(sid)
            return session if isinstance(session, HTMLResponse) else _error(404, f"no tab {detail!r}")
        return self._item_page(sid, asin, request, "detail", detail)

    def buy(self, sid: str, asin: str, request: Request) -> Any:
        session = self._session(sid)
        if isinstance(session, HTMLResponse):
            return session
        state = self._item_state(request, asin, "item")
        if isinstance(state, HTMLResponse):
            return state
        session.score = self.engine.purchase(state, session.goal).total
        return RedirectResponse(f"/s/{sid}/done", status_code=303)

    def done(self, sid: str) -> HTMLResponse:
        session = self._session(sid)
        if isinstance(session, HTMLResponse):
            return session
        if session.score is None:
            return _error(409, "nothing bought yet in this session")
        return self._render(sid, session, ShopState("done"))


SECURITY_HEADERS = {
    # the pages' own inline script and style only; every fetch, form, frame and socket stays on the shop's origin
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def create_shop_app(shop: Shop, split: str = "test", max_sessions: int = 10_000) -> Any:
    """The FastAPI app of ``shop``; ``/`` starts sessions on random goals of ``split``."""
    app = FastAPI(title="envkit shop", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def secure(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    routes = _ShopRoutes(shop, split, max_sessions)
    app.state.sessions = routes.sessions
    app.get("/health")(routes.health)
    app.get("/")(routes.start)
    app.get("/s/{sid}/", response_class=HTMLResponse)(routes.search_page)
    app.get("/s/{sid}/results", response_class=HTMLResponse)(routes.results)
    app.get("/s/{sid}/item/{asin}", response_class=HTMLResponse)(routes.item)
    app.get("/s/{sid}/item/{asin}/{detail}", response_class=HTMLResponse)(routes.item_detail)
    app.post("/s/{sid}/buy/{asin}")(routes.buy)
    app.get("/s/{sid}/done", response_class=HTMLResponse)(routes.done)
    return app


class ShopServer:
    """The shop app on 127.0.0.1 in a background thread (what browser mode talks to)."""

    def __init__(self, shop: Shop, host: str = "127.0.0.1", port: int = 0, start_timeout: float = 30.0) -> None:
        import socket

        import uvicorn

        self._socket = socket.socket()
        self._socket.bind((host, port))
        self.host, self.port = host, self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        from envkit.net import uvicorn_config

        self._server = uvicorn.Server(uvicorn_config(create_shop_app(shop)))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the shop server did not start on {self.url}")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def serve_shop(shop: Shop, host: str = "127.0.0.1", port: int = 3000, split: str = "test", sock: Any = None) -> None:
    """Serve ``shop`` with uvicorn until interrupted (``envkit shop serve``), on ``sock`` if given."""
    from envkit.net import listen, serve_app

    serve_app(create_shop_app(shop, split), sock if sock is not None else listen(host, port))
