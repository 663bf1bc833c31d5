from __future__ import annotations

import re

import httpx
import pytest

from envkit.shop.server import ShopServer
from envkit.shop.shop import open_shop


@pytest.fixture(scope="module")
def webshop_server(webshop_folder, shop_cache):
    require_server()
    server = ShopServer(open_shop(f"shop:webshop={webshop_folder}"))
    yield server
    server.stop()


def require_server() -> None:
    from tests.conftest import require

    require("fastapi", "uvicorn", "jinja2")


def test_pages_escape_product_text(webshop_server):
    client = httpx.Client(base_url=webshop_server.url, follow_redirects=True)
    assert client.get("/s/esc/?goal=B000XSS003%230").status_code == 200
    page = client.get("/s/esc/item/B000XSS003", params={"q": "boot", "p": 1}).text
    assert "<script>window.pwned" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt; Evil Boot" in page
    features = client.get("/s/esc/item/B000XSS003/features").text
    assert "&lt;b&gt;bold&lt;/b&gt; claim &amp; more" in features


def test_sessions_are_isolated_and_purchases_scored(webshop_server):
    a = httpx.Client(base_url=webshop_server.url, follow_redirects=True)
    a.get("/s/alice/?goal=B000SHOE01%230")
    a.get("/s/bob/?goal=B000SHOE02%230")
    assert "navy blue" in a.get("/s/alice/").text and "brown" in a.get("/s/bob/").text
    options = '[["color","navy blue | white"],["size","10"]]'
    done = a.post("/s/alice/buy/B000SHOE01", params={"q": "shoe", "p": 1, "o": options})
    assert done.url.path == "/s/alice/done"
    score = float(re.search(r'data-score="([^"]+)"', done.text).group(1))
    assert score == 1.0
    assert a.get("/s/bob/done").status_code == 409  # bob bought nothing


def test_bad_requests_get_clear_errors_and_no_traversal(webshop_server):
    client = httpx.Client(base_url=webshop_server.url)
    client.get("/s/carol/?goal=B000SHOE01%230")
    cases = {
        "/s/carol/item/NOPE": 404,
        "/s/carol/item/..%2F..%2Fetc%2Fpasswd": 404,
        "/s/../../etc/passwd": 404,
        "/static/../../etc/passwd": 404,
        "/s/carol/item/B000SHOE01/secrets": 404,
        "/s/carol/item/B000SHOE01?o=[[%22color%22,%22purple%22]]": 400,
        "/s/carol/results?q=shoe&p=zero": 400,
        "/s/unknown-session/results?q=shoe": 404,
        "/s/carol/?goal=nope": 404,
    }
    for path, status in cases.items():
        response = client.get(path)
        assert response.status_code == status, path
        assert "root:" not in response.text
    assert client.get("/health").json()["products"] == 3


def test_root_starts_a_session_on_a_random_goal(webshop_server):
    client = httpx.Client(base_url=webshop_server.url, follow_redirects=True)
    page = client.get("/")
    assert re.match(r"/s/[0-9a-f]{16}/", page.url.path) and 'data-page="search"' in page.text


def test_option_json_nested_thousands_deep_is_a_400_not_a_500(webshop_server):
    client = httpx.Client(base_url=webshop_server.url)
    client.get("/s/dave/?goal=B000SHOE01%230")
    deep = "[" * 5000 + "]" * 5000
    response = client.get("/s/dave/item/B000SHOE01", params={"o": deep})
    assert response.status_code == 400 and "malformed" in response.text
