"""A peer for the retrieval soak: the design of Search-R1's ``retrieval_server.py`` over envkit's BM25.

Search-R1's server (which MEM1 reuses) is a FastAPI app with a synchronous ``/retrieve``
endpoint: each request runs its own search in FastAPI's thread pool, with no batching
across requests and uvicorn's defaults. This module serves the same back-end (envkit's
BM25 over the same corpus) that way, so the soak compares server designs, not search
engines, in the same run. Benchmark only; it binds 127.0.0.1.

    python -m benchmarks.search_r1_peer --corpus synthetic:passages=10000,seed=0 --port 8001
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from envkit.retrieval.bm25 import BM25Retriever
from envkit.retrieval.corpus import Corpus


class QueryRequest(BaseModel):
    """Search-R1's request model."""

    queries: list[str]
    topk: int | None = None
    return_scores: bool = False


def build_app(corpus: str) -> FastAPI:
    retriever = BM25Retriever(Corpus.from_spec(corpus), jit=False)  # the scorer envkit's soak server uses
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/retrieve")
    def retrieve(request: QueryRequest) -> dict[str, list[list[dict[str, object]]]]:
        topk = request.topk or 3
        results = retriever.batch_search(request.queries, topk)
        return {
            "result": [
                [{"document": {"id": p.id, "contents": p.contents}, "score": p.score} for p in passages]
                for passages in results
            ]
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(build_app(args.corpus), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
