"""The shop: text-mode steps/s, browser-mode ms/step, and the server under 16 sessions.

1. Text mode: the shop's oracle plays distinct goals of a 10k-product synthetic catalog
   through ``gym.make("envkit/WebShop-v0")`` (protocol parsing and the consolidated
   context included; searches are never repeated across episodes, so the search cache
   only helps paging). Steps/s per repeat of 300 episodes, median of 3.
2. Browser mode: the same oracle against Debian's Chromium through Playwright and the
   shop's server on 127.0.0.1; wall ms per ``step`` over 40 episodes, p50 and p99. Peer
   in the same run: text mode's ms/step on the same actions.
3. Server: ``envkit shop serve`` in its own process; 16 client threads on loopback, each
   its own session, shop the whole flow (start, search, next page, item, option,
   reviews, buy, score page) back to back for 60 s (bounded in count too); every
   request timed; errors are non-2xx/3xx answers or failed connections.

Targets (issue 4): text mode at least 2000 steps/s; browser p50 at most 100 ms; server
zero errors, p99 reported.

    python -m benchmarks.shop
    python -m benchmarks.shop --seconds 10 --skip-browser       # a quick look
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import tempfile
import threading
import time
from urllib.parse import quote, urlencode

from benchmarks.measure import envkit_server, peak_rss_mib, percentile, write_result

CLIENTS = 16
MAX_REQUESTS_PER_CLIENT = 100_000


def _play(env, oracle, index: int, step_times: list[float] | None = None) -> tuple[int, float]:
    observation, info = env.reset(options={"task_index": index})
    oracle.reset(env.unwrapped.task)
    done, steps, reward = False, 0, 0.0
    while not done:
        action = oracle.act(observation, info)
        start = time.perf_counter()
        observation, reward, terminated, truncated, info = env.step(action)
        if step_times is not None:
            step_times.append(time.perf_counter() - start)
        done, steps = terminated or truncated, steps + 1
    return steps, reward


def text_mode(shop_spec: str) -> dict:
    import gymnasium as gym

    import envkit  # noqa: F401
    from envkit.policy.scripted import ShopOracleAgent

    env = gym.make("envkit/WebShop-v0", shop=shop_spec)
    oracle = ShopOracleAgent(env.unwrapped.shop)
    for index in range(20):  # warm-up: imports, first SQLite pages
        _play(env, oracle, index)
    rates, rewards = [], []
    for repeat in range(3):
        first = 1000 + repeat * 300
        start, steps = time.perf_counter(), 0
        for index in range(first, first + 300):
            n, reward = _play(env, oracle, index)
            steps, rewards = steps + n, [*rewards, reward]
        rates.append(steps / (time.perf_counter() - start))
    step_times: list[float] = []
    for index in range(5000, 5040):  # per-step times on fresh goals, the browser's peer
        _play(env, oracle, index, step_times)
    return {
        "text_steps_per_s_median": round(statistics.median(rates)),
        "text_steps_per_s_repeats": [round(r) for r in rates],
        "text_ms_per_step_p50": round(statistics.median(step_times) * 1e3, 3),
        "oracle_mean_reward": round(sum(rewards) / len(rewards), 4),
        "episodes_per_repeat": 300,
    }


def browser_mode(shop_spec: str) -> dict:
    import gymnasium as gym

    from envkit.policy.scripted import ShopOracleAgent

    env = gym.make("envkit/WebShop-v0", shop=shop_spec, mode="browser")
    try:
        oracle = ShopOracleAgent(env.unwrapped.shop)
        _play(env, oracle, 0)  # warm-up: Chromium launch, first page
        step_times: list[float] = []
        rewards = [_play(env, oracle, index, step_times)[1] for index in range(5000, 5040)]
    finally:
        env.close()
    return {
        "browser_ms_per_step_p50": round(statistics.median(step_times) * 1e3, 1),
        "browser_ms_per_step_p99": round(percentile(step_times, 0.99) * 1e3, 1),
        "browser_steps": len(step_times),
        "browser_oracle_mean_reward": round(sum(rewards) / len(rewards), 4),
    }


def _client(port: int, goals: list[tuple[str, str, str, str]], deadline: float, out: dict, worker: int) -> None:
    latencies, errors, requests = [], 0, 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(method: str, path: str) -> str | None:
        nonlocal errors, requests
        start = time.perf_counter()
        try:
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read().decode()
            ok = response.status < 400
        except (OSError, http.client.HTTPException):
            connection.close()
            body, ok = None, False
        latencies.append(time.perf_counter() - start)
        requests += 1
        errors += not ok
        return body if ok else None

    episode = 0
    while time.monotonic() < deadline and requests < MAX_REQUESTS_PER_CLIENT:
        goal_id, query, asin, option = goals[(worker * 997 + episode) % len(goals)]
        sid = f"w{worker}e{episode}"
        episode += 1
        item = f"/s/{sid}/item/{asin}?" + urlencode({"q": query, "p": 1})
        with_option = item + ("&" + urlencode({"o": option}) if option else "")
        for method, path in (
            ("GET", f"/s/{sid}/?goal={quote(goal_id)}"),
            ("GET", f"/s/{sid}/results?" + urlencode({"q": query, "p": 1})),
            ("GET", f"/s/{sid}/results?" + urlencode({"q": query, "p": 2})),
            ("GET", item),
            ("GET", with_option),
            ("GET", f"/s/{sid}/item/{asin}/reviews?" + urlencode({"q": query, "p": 1})),
            ("POST", with_option.replace("/item/", "/buy/", 1)),
            ("GET", f"/s/{sid}/done"),
        ):
            if call(method, path) is None or time.monotonic() >= deadline:
                break
    out[worker] = (latencies, errors, requests)


def server_load(shop_spec: str, seconds: float) -> dict:
    import json

    from envkit.shop.shop import open_shop

    shop = open_shop(shop_spec)  # the server opens the same cached catalog
    goals = []
    for goal in shop.source.goals("test")[:2000]:
        option = json.dumps([[n, v] for n, v in goal.goal_options[:1] if n]) if goal.goal_options else ""
        goals.append((goal.id, goal.query, goal.asin, option))
    with envkit_server("shop", "serve", "--shop", shop_spec) as port:
        results: dict[int, tuple[list[float], int, int]] = {}
        end = time.monotonic() + seconds
        threads = [threading.Thread(target=_client, args=(port, goals, end, results, w)) for w in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    latencies = [t for lat, _, _ in results.values() for t in lat]
    return {
        "server_sessions": CLIENTS,
        "server_seconds": round(elapsed, 1),
        "server_requests": sum(r for _, _, r in results.values()),
        "server_errors": sum(e for _, e, _ in results.values()),
        "server_requests_per_s": round(len(latencies) / elapsed),
        "server_p50_ms": round(statistics.median(latencies) * 1e3, 2),
        "server_p99_ms": round(percentile(latencies, 0.99) * 1e3, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("ENVKIT_CACHE", tempfile.mkdtemp(prefix="bench-shop-"))
    spec = f"shop:products={args.products},seed=0"
    results: dict = {"products": args.products}
    build = time.perf_counter()
    from envkit.shop.shop import open_shop

    open_shop(spec)
    results["catalog_and_index_build_s"] = round(time.perf_counter() - build, 1)
    results.update(text_mode(spec))
    if not args.skip_browser:
        results.update(browser_mode(spec))
        results["browser_over_text_p50"] = round(results["browser_ms_per_step_p50"] / results["text_ms_per_step_p50"])
    results.update(server_load(spec, args.seconds))
    results["peak_rss_mib"] = round(peak_rss_mib(), 1)
    command = "python -m benchmarks.shop" + ("" if args.products == 10_000 else f" --products {args.products}")
    targets = {"text_steps_per_s": ">= 2000", "browser_ms_per_step_p50": "<= 100", "server_errors": 0}
    full_run = args.seconds >= 60 and not args.skip_browser
    write_result("shop" if full_run else "shop_quick", command, results, targets)  # a quick look keeps the record


if __name__ == "__main__":
    main()
