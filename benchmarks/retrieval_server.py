"""The retrieval server under load: 8 concurrent clients on loopback for 60 s.

Starts ``envkit retriever serve`` on a 100k-passage synthetic BM25 index (127.0.0.1,
a free port), then 8 client threads each send one-query ``POST /retrieve`` requests
back to back (top-3, the world's question texts) for the duration, bounded in time
and count. Reports request latency p50/p99, throughput, errors, and how many back-end
calls the server's batching made. Peer in the same run: the same queries through the
in-process retriever (no HTTP). Targets (issue 3): p99 under 20 ms, zero errors.

    python -m benchmarks.retrieval_server
    python -m benchmarks.retrieval_server --seconds 10      # a quick look
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.measure import envkit_server, percentile, write_result

CLIENTS = 8
MAX_REQUESTS_PER_CLIENT = 200_000


def main() -> None:
    import httpx

    from composers import SyntheticSource
    from envkit.retrieval.corpus import Corpus
    from envkit.retrieval.store import build_index, load_index

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--passages", type=int, default=100_000)
    args = parser.parse_args()

    source = SyntheticSource(passages=args.passages, seed=0)
    queries = [q.question for q in source.questions("test")][:5000]
    folder = Path(tempfile.mkdtemp(prefix="bench-server-")) / "index"
    build_index("bm25", Corpus.from_documents(source.documents()), folder)

    # peer: the same retriever in-process
    local = load_index(folder)
    direct = []
    for query in queries[:1000]:
        start = time.perf_counter()
        local.search(query, 3)
        direct.append(time.perf_counter() - start)

    with envkit_server("retriever", "serve", "--index", str(folder)) as port:
        url = f"http://127.0.0.1:{port}"
        batches_before = httpx.get(f"{url}/health").json()["batches"]
        latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
        errors: list[int] = [0] * CLIENTS
        stop_at = time.monotonic() + args.seconds

        def client(index: int) -> None:
            # a keep-alive stdlib connection: light enough not to starve the server of CPU
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            headers = {"Content-Type": "application/json"}
            try:
                for n in range(MAX_REQUESTS_PER_CLIENT):
                    if time.monotonic() >= stop_at:
                        return
                    query = queries[(index * 7919 + n) % len(queries)]
                    body = json.dumps({"queries": [query], "topk": 3, "return_scores": True})
                    start = time.perf_counter()
                    try:
                        connection.request("POST", "/retrieve", body, headers)
                        response = connection.getresponse()
                        payload = response.read()
                        ok = response.status == 200 and len(json.loads(payload)["result"]) == 1
                    except (OSError, http.client.HTTPException, ValueError, KeyError):
                        ok = False
                        connection.close()
                        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    latencies[index].append(time.perf_counter() - start)
                    errors[index] += not ok
            finally:
                connection.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        batches = httpx.get(f"{url}/health").json()["batches"] - batches_before

    every = [x for per_client in latencies for x in per_client]
    results = {
        "passages": args.passages,
        "clients": CLIENTS,
        "seconds": round(elapsed, 1),
        "requests": len(every),
        "errors": sum(errors),
        "requests_per_second": round(len(every) / elapsed, 1),
        "latency_ms_p50": round(statistics.median(every) * 1e3, 2),
        "latency_ms_p99": round(percentile(every, 0.99) * 1e3, 2),
        "latency_ms_max": round(max(every) * 1e3, 2),
        "backend_calls": batches,
        "queries_per_backend_call": round(len(every) / max(batches, 1), 2),
        "peer_in_process_search_ms_p50": round(statistics.median(direct) * 1e3, 3),
        "peer_in_process_search_ms_p99": round(percentile(direct, 0.99) * 1e3, 3),
    }
    write_result(
        "retrieval_server" if args.seconds >= 60 else "retrieval_server_quick",
        "python -m benchmarks.retrieval_server" + ("" if args.seconds >= 60 else f" --seconds {args.seconds:g}"),
        results,
        {"latency_ms_p99": "< 20", "errors": 0, "clients": CLIENTS, "seconds": 60},
    )


if __name__ == "__main__":
    main()
