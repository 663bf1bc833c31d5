"""A shared retrieval server, wire-compatible with Search-R1's and MEM1's.

``POST /retrieve`` takes ``{"queries": [...], "topk": 3, "return_scores": true}`` and
answers ``{"result": [[{"document": {"id", "contents"}, "score"}, ...], ...]}`` (without
scores, the documents themselves), so existing MEM1 / Search-R1 rollout code can point
at it. ``GET /health`` reports the back-end and corpus size. Unlike the originals it
binds 127.0.0.1 by default, bounds every input (queries per request, top-k, query
length, body size), answers bad input with a 4xx and a message, and batches
concurrent requests into one back-end call.
"""

from __future__ import annotations

from collections.abc import Sized
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from envkit.retrieval.base import Retriever
from envkit.retrieval.batching import QueryBatcher

__all__ = ["RetrieveRequest", "ServerLimits", "create_app", "serve"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """Bounds on what one request may ask for, and the ``topk`` of a request that names none."""

    max_queries: int = 512
    max_topk: int = 100
    max_query_chars: int = 2048
    max_body_bytes: int = 4 * 1024 * 1024
    default_topk: int = 3


class RetrieveRequest(BaseModel):
    """The body of ``POST /retrieve``, read exactly as Search-R1's server reads it.

    Its pydantic model takes ``queries`` (a list of strings, possibly empty: MEM1's and
    Search-R1's rollouts call every turn, with ``[]`` when no row searched), ``topk``
    (an integer, a numeric string such as ``"3"``, or ``null``/``0`` for the server's
    default) and ``return_scores`` (pydantic's booleans: ``true``, ``1``, ``"yes"``...).
    """

    queries: list[str]
    topk: int | None = None
    return_scores: bool = False


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})


def _validate(payload: Any, limits: ServerLimits) -> tuple[list[str], int, bool] | str:
    try:
        request = RetrieveRequest.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return f"{where}: {first['msg']}"
    queries = request.queries
    if len(queries) > limits.max_queries:
        return f"{len(queries)} queries exceed the limit of {limits.max_queries} per request"
    longest = max((len(q) for q in queries), default=0)
    if longest > limits.max_query_chars:
        return f"a query of {longest} characters exceeds the limit of {limits.max_query_chars}"
    topk = request.topk or limits.default_topk  # Search-R1: a missing, null or 0 topk is the server's default
    if not 1 <= topk <= limits.max_topk:
        return f"'topk' must be from 1 to {limits.max_topk}, got {topk}"
    return queries, topk, request.return_scores


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it is known to exceed ``limit`` (never read past it)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    retriever: Retriever,
    limits: ServerLimits = ServerLimits(),
    max_batch: int = 256,
    window_ms: float = 0.5,
    name: str = "envkit",
) -> FastAPI:
    """The FastAPI app serving ``retriever``."""
    batcher = QueryBatcher(retriever, max_batch=max_batch, window_ms=window_ms)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title=f"{name} retrieval server", lifespan=lifespan)
    app.state.batcher = batcher

    @app.get("/health")
    async def health() -> dict[str, Any]:
        size = len(retriever) if isinstance(retriever, Sized) else None
        return {"status": "ok", "backend": type(retriever).__name__, "passages": size, "batches": batcher.batches}

    @app.post("/retrieve")
    async def retrieve(request: Request) -> Any:
        body = await _bounded_body(request, limits.max_body_bytes)
        if body is None:
            return _error(413, f"the body exceeds {limits.max_body_bytes} bytes")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            return _error(400, f"malformed JSON: {error}")
        checked = _validate(payload, limits)
        if isinstance(checked, str):
            return _error(422, checked)
        queries, topk, return_scores = checked
        if not queries:  # as the original: an empty batch is an empty result
            return Response(orjson.dumps({"result": []}), media_type="application/json")
        try:
            results = await batcher.search(queries, topk)
        except Exception as error:  # the back-end failed; the server keeps serving
            return _error(503, f"the retrieval back-end failed: {type(error).__name__}: {error}")
        # serialised here: FastAPI's generic encoder costs more than the search itself
        if return_scores:
            answer = {
                "result": [
                    [{"document": {"id": p.id, "contents": p.contents}, "score": p.score} for p in hits]
                    for hits in results
                ]
            }
        else:
            answer = {"result": [[{"id": p.id, "contents": p.contents} for p in hits] for hits in results]}
        return Response(orjson.dumps(answer), media_type="application/json")

    return app


def serve(retriever: Retriever, host: str = "127.0.0.1", port: int = 8000, sock: Any = None, **kwargs: Any) -> None:
    """Serve ``retriever`` with uvicorn until interrupted, on ``sock`` (from :func:`envkit.net.listen`) if given."""
    from envkit.net import listen, serve_app

    serve_app(create_app(retriever, **kwargs), sock if sock is not None else listen(host, port))
