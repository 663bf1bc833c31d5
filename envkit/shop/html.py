"""Shop pages as HTML: one element per page segment, every clickable a real link or button.

Pages work as plain HTML (links and forms, for a person or a browser without
JavaScript). A small inline script makes following a link or submitting a form fetch
the next page and swap it in (with ``history.pushState``), as Turbo-style sites do:
the same URLs and server, without paying Chromium's ~70 ms per full navigation here;
``window.envkitAfter(n)`` resolves once the page has changed ``n`` times, which is how
browser mode waits for an action to land.

Every segment carries ``data-seg`` (``instruction``, ``text``, ``click``, ``search``)
so browser mode can read the page back in order; the body carries ``data-page`` and,
on the done page, ``data-score`` (the exact reward, ``repr`` of the float). Jinja2
autoescapes everything: product text with ``<script>`` in it is shown, never run.
"""

from __future__ import annotations

from collections.abc import Callable

import jinja2

from envkit.shop.engine import BUY
from envkit.shop.pages import Page

__all__ = ["render_html"]

_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WebShop · {{ page.kind }}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f6f6f4; color: #222; }
header { background: #232f3e; color: #fff; padding: 10px 18px; }
header p { margin: 2px 0; }
main { padding: 14px 18px; display: flex; flex-direction: column; gap: 6px; align-items: flex-start; }
a[data-seg], button[data-seg] { color: #0b57d0; background: #fff; border: 1px solid #c8c8c8;
  border-radius: 4px; padding: 3px 9px; font: inherit; cursor: pointer; text-decoration: none; }
p[data-seg=text] { margin: 0; }
form { margin: 0; }
input[name=q] { font: inherit; padding: 4px 8px; width: 28em; }
</style>
<script>
window.envkitSeq = 0;
window.envkitWaiters = [];
function envkitSettle() {
  const ready = window.envkitWaiters.filter(w => window.envkitSeq > w.n);
  window.envkitWaiters = window.envkitWaiters.filter(w => window.envkitSeq <= w.n);
  ready.forEach(w => w.resolve());
}
window.envkitAfter = (n, ms) => new Promise((resolve, reject) => {
  window.envkitWaiters.push({n, resolve});
  envkitSettle();
  setTimeout(() => reject(new Error('the page did not change within ' + ms + ' ms')), ms);
});
async function envkitGo(url, init) {
  let response, html;
  try { response = await fetch(url, init); html = await response.text(); }
  catch (e) { window.location.href = url; return; }
  const doc = new DOMParser().parseFromString(html, 'text/html');
  document.title = doc.title;
  document.body.replaceWith(document.adoptNode(doc.body));
  history.pushState(null, '', response.url);
  window.envkitSeq += 1;
  envkitSettle();
}
document.addEventListener('click', e => {
  const link = e.target.closest('a[href]');
  if (!link || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  envkitGo(link.href, {method: 'GET'});
});
document.addEventListener('submit', e => {
  const form = e.target;
  e.preventDefault();
  if (form.method === 'post') { envkitGo(form.action, {method: 'POST'}); return; }
  const query = new URLSearchParams(new FormData(form)).toString();
  envkitGo(form.action + '?' + query, {method: 'GET'});
});
window.addEventListener('popstate', () => envkitGo(location.href, {method: 'GET'}));
</script></head>
<body data-page="{{ page.kind }}"{% if page.score is not none %} data-score="{{ score }}"{% endif %}>
<header><p>Instruction:</p><p data-seg="instruction">{{ page.instruction }}</p></header>
<main>
{% for seg, href in items %}
{%- if seg.kind == "search" %}
<form method="get" action="{{ search_action }}"><input name="q" aria-label="search" autocomplete="off">
<button data-seg="search" type="submit">{{ seg.text }}</button></form>
{%- elif seg.kind == "click" and seg.text == buy %}
<form method="post" action="{{ href }}"><button data-seg="click" type="submit">{{ seg.text }}</button></form>
{%- elif seg.kind == "click" %}
<a data-seg="click" href="{{ href }}">{{ seg.text }}</a>
{%- else %}
<p data-seg="text">{{ seg.text }}</p>
{%- endif %}
{% endfor %}
</main></body></html>
"""
)


def render_html(page: Page, href: Callable[[str], str], search_action: str) -> str:
    """``page`` as HTML; ``href(label)`` gives each clickable's target URL."""
    items = [(seg, href(seg.text) if seg.kind == "click" else "") for seg in page.segments]
    score = repr(page.score) if page.score is not None else ""
    return _TEMPLATE.render(page=page, items=items, search_action=search_action, score=score, buy=BUY)
