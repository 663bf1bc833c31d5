"""The shop's state machine, shared by text mode, the server and browser mode.

A :class:`ShopState` says which page a shopper is on (and the query, result page,
item, chosen options or detail tab that page needs); :meth:`ShopEngine.page` renders
a state to a :class:`~envkit.shop.pages.Page`, :meth:`ShopEngine.step` applies an
action to a state. The server encodes states in URLs and makes every clickable a link
to the state :meth:`step` gives, so clicking in Chromium and stepping in text mode
reach the same page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from composers.sources.shop.records import Goal, Product
from envkit.shop.catalog import Catalog
from envkit.shop.pages import BACK, BUY, DETAILS, NEXT, PREV, Page, Search, Segment, ShopAction, clean_text
from envkit.shop.reward import PurchaseReward, TypeWords, content_words, purchase_reward
from envkit.shop.search import ProductSearch

__all__ = ["BACK", "BUY", "DETAILS", "NEXT", "PREV", "RESULTS_PER_PAGE", "ShopEngine", "ShopState"]

RESULTS_PER_PAGE = 10


@dataclass(frozen=True, slots=True)
class ShopState:
    """Where a shopper is. ``options`` are the chosen ``(name, value)`` pairs."""

    page: str = "search"
    query: str = ""
    page_no: int = 1
    asin: str = ""
    options: tuple[tuple[str, str], ...] = ()
    detail: str = ""


def _t(text: str) -> Segment:
    return Segment("text", clean_text(text))


def _c(label: str) -> Segment:
    return Segment("click", clean_text(label))


class ShopEngine:
    """Pages and transitions over a catalog and a product search."""

    def __init__(self, catalog: Catalog, search: ProductSearch, type_words: TypeWords = content_words) -> None:
        self.catalog, self.search, self.type_words = catalog, search, type_words

    # -- rendering -----------------------------------------------------------------------

    def page(self, state: ShopState, instruction: str, score: float | None = None) -> Page:
        """The page a shopper in ``state`` sees (``score`` only for the done page)."""
        instruction = clean_text(instruction)
        if state.page == "search":
            return Page("search", instruction, (_t("WebShop"), Segment("search", "Search")))
        if state.page == "results":
            return Page("results", instruction, tuple(self._results_segments(state)))
        if state.page == "done":
            shown = "" if score is None else f"{score:.4f}"
            segments = (_t("Thank you for shopping with us!"), _t("Your score (min 0.0, max 1.0)"), _t(shown))
            return Page("done", instruction, segments, score)
        product = self._product(state.asin)
        if state.page == "item":
            return Page("item", instruction, tuple(self._item_segments(state, product)))
        return Page("detail", instruction, tuple(self._detail_segments(state, product)))

    def _results_segments(self, state: ShopState) -> list[Segment]:
        asins = self.search.search(state.query)
        start = (state.page_no - 1) * RESULTS_PER_PAGE
        segments = [_c(BACK), _t(f"Page {state.page_no} (Total results: {len(asins)})")]
        if state.page_no > 1:
            segments.append(_c(PREV))
        if start + RESULTS_PER_PAGE < len(asins):
            segments.append(_c(NEXT))
        shown = asins[start : start + RESULTS_PER_PAGE]
        listings = self.catalog.listings(shown)
        for asin in shown:
            name, price_tag = listings[asin]
            segments += [_c(asin), _t(name), _t(price_tag)]
        return segments

    def _item_segments(self, state: ShopState, product: Product) -> list[Segment]:
        segments = [_c(BACK), _c(PREV)]
        for name, values in product.options:
            segments.append(_t(name))
            segments += [_c(v) for v in values]
        if state.options:
            segments.append(_t("Selected: " + ", ".join(f"{n}: {v}" for n, v in state.options)))
        segments += [_t(product.name), _t(f"Price: {product.price_tag}")]
        segments.append(_t(f"Rating: {product.rating if product.rating is not None else 'N.A.'}"))
        segments += [_c(d) for d in DETAILS]
        segments.append(_c(BUY))
        return segments

    def _detail_segments(self, state: ShopState, product: Product) -> list[Segment]:
        segments = [_c(BACK), _c(PREV)]
        if state.detail == "description":
            segments.append(_t(product.description or "No description."))
        elif state.detail == "features":
            segments += [_t(b) for b in product.bullet_points] or [_t("No features.")]
        else:
            for review in product.reviews:
                segments += [_t(review.title), _t(f"{review.score:g}"), _t(review.body)]
            if not product.reviews:
                segments.append(_t("No reviews."))
        return segments

    def _product(self, asin: str) -> Product:
        product = self.catalog.get(asin)
        if product is None:
            raise KeyError(f"no product {asin!r} in the catalog")
        return product

    # -- transitions ---------------------------------------------------------------------

    def step(self, state: ShopState, action: ShopAction, page: Page) -> ShopState | str:
        """The state ``action`` leads to from ``state`` (showing ``page``), or why it is not allowed."""
        refusal = page.refusal(action)
        if refusal is not None:
            return refusal
        if isinstance(action, Search):
            return ShopState("results", query=action.query)
        label = page.find(action.label)
        assert label is not None
        if label == BACK:
            return ShopState()
        if state.page == "results":
            if label == PREV:
                return replace(state, page_no=state.page_no - 1)
            if label == NEXT:
                return replace(state, page_no=state.page_no + 1)
            return ShopState("item", state.query, state.page_no, asin=label)
        if state.page == "detail":  # only < Prev is left
            return replace(state, page="item", detail="")
        # item page
        if label == PREV:
            return ShopState("results", state.query, state.page_no)
        if label == BUY:
            return replace(state, page="done")
        if label in DETAILS:
            return replace(state, page="detail", detail=label.lower())
        return replace(state, options=self._choose(state, label))

    def _choose(self, state: ShopState, value: str) -> tuple[tuple[str, str], ...]:
        product = self._product(state.asin)
        name, raw = next((n, v) for n, values in product.options for v in values if clean_text(v) == value)
        chosen = dict(state.options)
        chosen[name] = raw
        return tuple((n, chosen[n]) for n, _ in product.options if n in chosen)

    def purchase(self, state: ShopState, goal: Goal) -> PurchaseReward:
        """WebShop's reward for buying the item of ``state`` with its chosen options."""
        return purchase_reward(self._product(state.asin), goal, dict(state.options), type_words=self.type_words)
