"""Micro-batching: many concurrent requests answered by one ``batch_search`` call.

Back-ends answer a batch far faster per query than they answer queries one by one
(bm25s scores a batch in one sparse product, Lucene and faiss use threads). The
:class:`QueryBatcher` collects the queries of requests that arrive within a short
window (or until ``max_batch`` queries), runs one ``batch_search`` in a worker thread,
and hands each request its own results. One request never waits longer than the
window for company.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from envkit.retrieval.base import Passage, Retriever

__all__ = ["QueryBatcher"]


@dataclass(slots=True)
class _Pending:
    queries: Sequence[str]
    k: int
    future: asyncio.Future[list[list[Passage]]] = field(repr=False)


class QueryBatcher:
    """Coalesce concurrent searches into batched back-end calls.

    Args:
        retriever: the back-end.
        max_batch: most queries per back-end call.
        window_ms: how long the first request of a batch waits for others.

    """

    def __init__(self, retriever: Retriever, max_batch: int = 256, window_ms: float = 2.0) -> None:
        self.retriever, self.max_batch, self.window = retriever, max_batch, window_ms / 1000
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # back-end calls made, for tests and metrics

    async def start(self) -> None:
        """Start the worker that groups concurrent queries into batches."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the worker; queued queries are answered first."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def search(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        """The top-``k`` passages of each query, batched with concurrent requests."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future[list[list[Passage]]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(queries, k, future))
        return await future

    async def _collect(self) -> list[_Pending]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        size = len(batch[0].queries)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        while size < self.max_batch:
            try:  # whatever queued up while the previous batch ran joins at once
                pending = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
            batch.append(pending)
            size += len(pending.queries)
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            queries = [q for pending in batch for q in pending.queries]
            k = max(pending.k for pending in batch)
            try:
                results = await asyncio.to_thread(self.retriever.batch_search, queries, k)
            except Exception as error:  # the back-end failed: every waiting request learns why
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
                continue
            self.batches += 1
            offset = 0
            for pending in batch:
                mine = results[offset : offset + len(pending.queries)]
                offset += len(pending.queries)
                if not pending.future.done():
                    pending.future.set_result([hits[: pending.k] for hits in mine])
