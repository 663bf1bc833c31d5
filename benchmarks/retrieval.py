"""Embedded BM25 on a 100k-passage synthetic corpus, single and batched, against rank-bm25.

Queries are the bundled world's question texts (what an agent typically searches
first). Both back-ends share one tokenizer, so they score the same tokens. rank-bm25
scores every document in Python per query, so it gets fewer queries. Targets (issue
2): at most 2 ms/query single and 1 ms/query batched for the embedded default.

    python -m benchmarks.retrieval            # 100k passages
    python -m benchmarks.retrieval --passages 20000
"""

from __future__ import annotations

import argparse
import time

from benchmarks.measure import batched_search_ms, peak_rss_mib, single_search_ms, write_result
from composers import SyntheticSource
from envkit.retrieval import BM25Retriever, Corpus

SINGLE = 300
BATCH = 1000
RANK_BM25_QUERIES = 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=100_000)
    args = parser.parse_args()
    source = SyntheticSource(passages=args.passages, seed=0)
    questions = [q.question for q in source.questions("train")]
    single, batch = questions[:SINGLE], questions[SINGLE : SINGLE + BATCH]
    start = time.perf_counter()
    corpus = Corpus.from_documents(source.documents())
    results: dict[str, object] = {
        "passages": len(corpus),
        "corpus_render_seconds": round(time.perf_counter() - start, 2),
    }

    rss = peak_rss_mib()
    start = time.perf_counter()
    default = BM25Retriever(corpus)
    results["bm25s"] = {
        "index_seconds": round(time.perf_counter() - start, 2),
        "peak_rss_growth_mib": round(peak_rss_mib() - rss, 1),
        "single_ms_per_query_median": round(single_search_ms(default, single), 3),
        "batched_ms_per_query": round(batched_search_ms(default, batch, repeats=3), 3),
    }

    jit = BM25Retriever(corpus, jit=True)
    start = time.perf_counter()
    jit.batch_search(batch[:2], 3)
    compile_seconds = time.perf_counter() - start
    results["bm25s_jit"] = {
        "first_call_compile_seconds": round(compile_seconds, 2),
        "batched_ms_per_query": round(batched_search_ms(jit, batch, repeats=3), 3),
    }

    rss = peak_rss_mib()
    start = time.perf_counter()
    reference = BM25Retriever(corpus, backend="rank_bm25")
    results["rank_bm25"] = {
        "index_seconds": round(time.perf_counter() - start, 2),
        "peak_rss_growth_mib": round(peak_rss_mib() - rss, 1),
        "single_ms_per_query_median": round(single_search_ms(reference, single[:RANK_BM25_QUERIES]), 3),
    }
    agree = sum(
        a[0].id == b[0].id
        for a, b in zip(
            default.batch_search(single[:RANK_BM25_QUERIES]),
            reference.batch_search(single[:RANK_BM25_QUERIES]),
            strict=True,
        )
        if a and b
    )
    results["top1_agreement_with_rank_bm25"] = f"{agree}/{RANK_BM25_QUERIES}"
    rank = results["rank_bm25"]["single_ms_per_query_median"]
    results["speedup_vs_rank_bm25_single"] = round(rank / results["bm25s"]["single_ms_per_query_median"], 1)
    results["speedup_vs_rank_bm25_batched"] = round(rank / results["bm25s"]["batched_ms_per_query"], 1)
    suffix = "" if args.passages == 100_000 else f"_{args.passages}"
    write_result(
        f"retrieval{suffix}",
        "python -m benchmarks.retrieval" + ("" if not suffix else f" --passages {args.passages}"),
        results,
        {"bm25s_single_ms_per_query": "<= 2", "bm25s_batched_ms_per_query": "<= 1"},
    )


if __name__ == "__main__":
    main()
