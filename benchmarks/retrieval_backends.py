"""Every retrieval back-end on one synthetic corpus, in one run: speed, build time, memory.

Back-ends: bm25s (the embedded default, and with its numba scorer), rank-bm25, Lucene
through pyserini, faiss Flat and HNSW. Each runs in its own subprocess so that its peak
RSS is its own; all read the same corpus and queries (the world's question texts).
Single = median latency of one ``search`` call; batched = wall time of one
``batch_search`` over 1000 queries divided by 1000 (Lucene and faiss with 2 threads,
bm25s' numba scorer with 2 threads, as the machine has 2 cores).

faiss is timed with :class:`~envkit.retrieval.dense.HashingEncoder` vectors (384-d):
all-MiniLM-L6-v2 encodes about 80 passages/s on these 2 cores (measured here on a
sample, reported as ``minilm``), so a 1M-passage neural encode would take hours; the
faiss figures measure index build, memory and search, which do not depend on where
the vectors came from. Targets (issue 3): the embedded default at least as fast as
Lucene, single and batched.

    python -m benchmarks.retrieval_backends --passages 100000
    python -m benchmarks.retrieval_backends --passages 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import RESULTS, batched_search_ms, peak_rss_mib, single_search_ms, write_result

SINGLE, BATCH = 200, 1000
BACKENDS = ("bm25s", "bm25s_jit", "rank_bm25", "lucene", "faiss_flat", "faiss_hnsw", "minilm")


def _load(work: Path):
    import pyarrow.parquet as pq

    from envkit.retrieval import Corpus

    table = pq.read_table(work / "corpus.parquet")
    corpus = Corpus(table.column("id").to_pylist(), table.column("title").to_pylist(), table.column("text").to_pylist())
    return corpus, json.loads((work / "queries.json").read_text())


def run_backend(name: str, work: Path) -> dict:
    corpus, queries = _load(work)
    single, batch = queries[:SINGLE], queries[SINGLE : SINGLE + BATCH]
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    result: dict = {}
    if name in ("bm25s", "bm25s_jit", "rank_bm25"):
        from envkit.retrieval import BM25Retriever

        jit = name == "bm25s_jit"
        backend = "rank_bm25" if name == "rank_bm25" else "bm25s"
        retriever = BM25Retriever(corpus, backend=backend, jit=jit, n_threads=2 if jit else 1)
        result["index_seconds" if not jit else "index_and_numba_compile_seconds"] = time.perf_counter() - start
        if name == "rank_bm25":
            result["single_ms"] = single_search_ms(retriever, single[: 5 if len(corpus) > 200_000 else 10])
        else:
            result["single_ms"] = single_search_ms(retriever, single)
            result["batched_ms"] = batched_search_ms(retriever, batch)
    elif name == "lucene":
        from envkit.retrieval.lucene import LuceneRetriever, build_lucene_index

        folder = Path(tempfile.mkdtemp(prefix="bench-lucene-")) / "index"
        build_lucene_index(corpus, folder, threads=2)
        retriever = LuceneRetriever(folder, threads=2)
        result["index_seconds"] = time.perf_counter() - start
        retriever.batch_search(batch[:50], 3)  # JIT warm-up of the JVM
        result["single_ms"] = single_search_ms(retriever, single)
        result["batched_ms"] = batched_search_ms(retriever, batch)
    elif name in ("faiss_flat", "faiss_hnsw"):
        import faiss

        from envkit.retrieval.dense import DenseRetriever, HashingEncoder

        faiss.omp_set_num_threads(2)
        retriever = DenseRetriever.build(corpus, HashingEncoder(), name.removeprefix("faiss_"))
        result["index_seconds"] = time.perf_counter() - start
        faiss.omp_set_num_threads(1)
        result["single_ms"] = single_search_ms(retriever, single)
        faiss.omp_set_num_threads(2)
        result["batched_ms"] = batched_search_ms(retriever, batch)
    elif name == "minilm":
        from envkit.retrieval.dense import SentenceEncoder

        encoder = SentenceEncoder()
        texts = corpus.index_texts()[:256]
        encoder.encode_passages(texts[:32])
        start = time.perf_counter()
        encoder.encode_passages(texts)
        rate = len(texts) / (time.perf_counter() - start)
        return {"passages_per_second": round(rate, 1), "hours_to_encode_corpus": round(len(corpus) / rate / 3600, 2)}
    result["peak_rss_mib"] = peak_rss_mib()
    result["peak_rss_growth_mib"] = peak_rss_mib() - rss_before
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help="comma-separated back-ends to leave out")
    parser.add_argument("--merge", action="store_true", help="update only the measured back-ends in the results file")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_backend(args.only, Path(args.work))))
        return

    import pyarrow as pa
    import pyarrow.parquet as pq

    from composers import SyntheticSource

    work = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    source = SyntheticSource(passages=args.passages, seed=0)
    start = time.perf_counter()
    ids, titles, texts = zip(*source.documents(), strict=True)
    render = time.perf_counter() - start
    pq.write_table(pa.table({"id": list(ids), "title": list(titles), "text": list(texts)}), work / "corpus.parquet")
    questions = [q.question for q in source.questions("test")][: SINGLE + BATCH]
    (work / "queries.json").write_text(json.dumps(questions))

    suffix = "100k" if args.passages == 100_000 else "1m" if args.passages == 1_000_000 else str(args.passages)
    results: dict = {"passages": args.passages, "corpus_render_seconds": round(render, 1)}
    previous = RESULTS / f"retrieval_backends_{suffix}.json"
    if args.merge and previous.is_file():
        results = json.loads(previous.read_text())["results"] | {"corpus_render_seconds": round(render, 1)}
    skip = set(filter(None, args.skip.split(",")))
    for name in BACKENDS:
        if name in skip:
            continue
        command = [sys.executable, "-m", "benchmarks.retrieval_backends", "--only", name, "--work", str(work)]
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"HF_HUB_OFFLINE": "1"})
        if done.returncode != 0:
            results[name] = {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
        else:
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, results[name], flush=True)
    lucene = results.get("lucene", {})
    if "single_ms" in lucene:
        results["bm25s_vs_lucene_single"] = round(lucene["single_ms"] / results["bm25s"]["single_ms"], 2)
        results["bm25s_vs_lucene_batched"] = round(lucene["batched_ms"] / results["bm25s"]["batched_ms"], 2)
        results["bm25s_jit_vs_lucene_batched"] = round(lucene["batched_ms"] / results["bm25s_jit"]["batched_ms"], 2)
    write_result(
        f"retrieval_backends_{suffix}",
        f"python -m benchmarks.retrieval_backends --passages {args.passages}",
        results,
        {"embedded_default_vs_lucene": ">= 1.0x, single and batched"},
    )


if __name__ == "__main__":
    main()
