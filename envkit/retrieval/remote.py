"""A client for a retrieval server: envs use it like any other back-end.

Many env workers share one server (one index in memory, batched scoring). The client
speaks the Search-R1 wire format, so it also works against Search-R1's and MEM1's own
servers. Connection failures, timeouts and 5xx answers are retried with backoff; a
4xx is a bad request and fails at once with the server's message; a server that stays
gone raises :class:`RetrieverError` naming the URL.
"""

from __future__ import annotations

import time
from typing import Any

from envkit.retrieval.base import BaseRetriever, Passage, RetrieverError
from envkit.retrieval.corpus import split_contents

__all__ = ["RemoteRetriever"]


class RemoteRetriever(BaseRetriever):
    """Search through ``POST {url}/retrieve``.

    Args:
        url: the server's base URL, e.g. ``http://127.0.0.1:8000``.
        timeout: seconds per request attempt.
        retries: attempts after the first, for connection errors, timeouts and 5xx.
        backoff: seconds before the first retry, doubled after each (at most 5 s).
        outage: keep retrying past ``retries`` until this many seconds were spent waiting,
            so a server that restarts (4 to 21 s here) is waited for, then a clear error.

    """

    def __init__(
        self, url: str, timeout: float = 10.0, retries: int = 3, backoff: float = 0.2, outage: float = 30.0
    ) -> None:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise RetrieverError(f"a retrieval server URL starts with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.retries, self.backoff, self.outage = retries, backoff, outage
        self._client = httpx.Client(timeout=timeout)

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        import httpx

        delay, last, waited, attempt = self.backoff, "no attempt made", 0.0, 0
        while attempt <= self.retries or waited < self.outage:
            if attempt:
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)
            attempt += 1
            try:
                response = self._client.post(f"{self.url}/retrieve", json=payload)
            except httpx.HTTPError as error:
                last = f"{type(error).__name__}: {error}"
                continue
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                try:
                    message = response.json().get("error") or response.text
                except ValueError:
                    message = response.text
                raise RetrieverError(f"retrieval server at {self.url} rejected the request: {message}")
            try:
                return response.json()
            except ValueError:
                raise RetrieverError(f"retrieval server at {self.url} answered with invalid JSON") from None
        raise RetrieverError(
            f"retrieval server at {self.url} is unreachable after {attempt} attempts over {waited:.1f} s ({last})"
        )

    def _batch_search(self, queries: list[str], k: int) -> list[list[Passage]]:
        answer = self._post({"queries": queries, "topk": k, "return_scores": True})
        try:
            results = answer["result"]
            return [[self._passage(hit) for hit in hits] for hits in results]
        except (KeyError, TypeError) as error:
            raise RetrieverError(f"retrieval server at {self.url} sent an unexpected answer ({error})") from None

    @staticmethod
    def _passage(hit: dict[str, Any]) -> Passage:
        document, score = (hit["document"], float(hit.get("score", 0.0))) if "document" in hit else (hit, 0.0)
        title, text = split_contents(str(document["contents"]))
        return Passage(str(document["id"]), title, text, score)

    def health(self) -> dict[str, Any]:
        """The server's ``/health`` answer."""
        import httpx

        try:
            return self._client.get(f"{self.url}/health").json()
        except (httpx.HTTPError, ValueError) as error:
            raise RetrieverError(f"retrieval server at {self.url} is unreachable ({error})") from None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __repr__(self) -> str:
        return f"RemoteRetriever({self.url!r})"
