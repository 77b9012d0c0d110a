"""`docent serve` under load on loopback, and time to first token when streaming.

Ingests samples/handbook into a temporary data directory and measures, in one run:

1. the baseline: the pipeline called directly in this process, one request after another,
   for `--seconds` per mode (retrieval only, then full answers);
2. `docent serve` (a child process) under `--clients` concurrent clients for `--seconds` per
   mode: POST /v1/ask with `retrieval_only`, then full answers. Clients that get 429 wait the
   `Retry-After` and go on, as a well-behaved client does. Every request ends as an answer,
   a 429, another status, or lost (no response at all); the audit log's new rows are counted
   and must equal the full answers given, so no request was answered twice or dropped after
   running;
3. streaming: time to first token of `/v1/chat/completions` with `stream: true` against the
   time to the whole answer, one request at a time.

Prints a table with throughput, p50/p95/p99 latency of the answered requests, the ratio of the
service's throughput to the direct baseline's, and one JSON line.

Usage:
    .venv/bin/python bench/service.py [--clients 32] [--seconds 60]
"""

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import percentile

import components  # noqa: F401  (offline defaults)
from pipelines.config import Settings
from pipelines.qa import QAPipeline

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How many days per week can employees work remotely?",
    "Within how many days must expense reports be submitted?",
    "What is the minimum length of a password?",
    "How many days of annual leave do full-time employees get?",
    "Who do new employees meet on their first day?",
]


def direct(settings: Settings, seconds: float) -> dict[str, float]:
    """Requests per second of the pipeline called directly, per mode."""
    qa = QAPipeline.from_settings(settings)
    qa.warm_up()
    rates = {}
    try:
        for mode, call in (("retrieval", qa.search), ("full", qa.ask)):
            done, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                call(QUESTIONS[done % len(QUESTIONS)])
                done += 1
            rates[mode] = done / (time.perf_counter() - started)
    finally:
        qa.close()
    return rates


async def load(base: str, mode: str, clients: int, seconds: float) -> dict:
    """`clients` concurrent clients sending /v1/ask for `seconds`."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds

    async def client(number: int, http: httpx.AsyncClient) -> None:
        sent = number
        while time.perf_counter() < deadline:
            body = {"question": QUESTIONS[sent % len(QUESTIONS)]}
            if mode == "retrieval":
                body["retrieval_only"] = True
            sent += 1
            started = time.perf_counter()
            try:
                response = await http.post(f"{base}/v1/ask", json=body)
            except httpx.HTTPError:
                statuses["lost"] = statuses.get("lost", 0) + 1
                continue
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            elif response.status_code == 429:
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=300, limits=limits) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "mode": mode,
        "statuses": statuses,
        "answered": len(latencies),
        "per_second": round(len(latencies) / elapsed, 2),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "server_errors": sum(n for s, n in statuses.items() if s.startswith("5")),
        "lost": statuses.get("lost", 0),
    }


def streaming(base: str, rounds: int) -> dict[str, float]:
    """Median time to the first streamed piece and to the whole answer, and without streaming."""
    first, whole, plain = [], [], []
    for index in range(rounds):
        question = QUESTIONS[index % len(QUESTIONS)]
        body = {"messages": [{"role": "user", "content": question}], "stream": True}
        started = time.perf_counter()
        seen = None
        with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=300) as r:
            for line in r.iter_lines():
                if seen is None and '"content"' in line:
                    seen = time.perf_counter() - started
        whole.append(time.perf_counter() - started)
        first.append(seen if seen is not None else whole[-1])
        started = time.perf_counter()
        httpx.post(f"{base}/v1/chat/completions", json={**body, "stream": False}, timeout=300)
        plain.append(time.perf_counter() - started)
    return {
        "ttft_p50": statistics.median(first),
        "streamed_total_p50": statistics.median(whole),
        "unstreamed_total_p50": statistics.median(plain),
    }


def audit_rows(settings: Settings) -> int:
    """Rows in the audit log (one per answered request)."""
    if not settings.audit_path.exists():
        return 0
    with sqlite3.connect(settings.audit_path) as db:
        return db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="per mode")
    parser.add_argument("--stream-rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data))
        indexer = settings.open_indexer()
        try:
            indexer.ingest([REPO / "samples" / "handbook"])
        finally:
            indexer.close()
        baseline = direct(settings, args.seconds / 3)
        port = 18000 + os.getpid() % 1000
        env = {**os.environ, "DOCENT_DATA_DIR": data}
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("docent")), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            results = []
            for mode in ("retrieval", "full"):
                before = audit_rows(settings)
                result = asyncio.run(load(base, mode, args.clients, args.seconds))
                result["audit_rows"] = audit_rows(settings) - before
                result["vs_direct"] = round(result["per_second"] / baseline[mode], 2)
                results.append(result)
            stream = streaming(base, args.stream_rounds)
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"{args.clients} clients, {args.seconds:.0f} s per mode, docent serve on loopback")
    print(
        f"{'mode':<10} {'answers/s':>9} {'direct/s':>8} {'ratio':>5} {'p50 s':>6} "
        f"{'p95 s':>6} {'p99 s':>6} {'429':>5} {'5xx':>4} {'lost':>4} {'audit':>6}"
    )
    for r in results:
        print(
            f"{r['mode']:<10} {r['per_second']:>9.2f} {baseline[r['mode']]:>8.2f} "
            f"{r['vs_direct']:>5.2f} {r['p50']:>6.3f} {r['p95']:>6.3f} {r['p99']:>6.3f} "
            f"{r['statuses'].get('429', 0):>5} {r['server_errors']:>4} {r['lost']:>4} "
            f"{r['audit_rows']:>6}"
        )
    print(
        f"streaming: first token p50 {stream['ttft_p50']:.3f} s, whole answer p50 "
        f"{stream['streamed_total_p50']:.3f} s (unstreamed {stream['unstreamed_total_p50']:.3f} s);"
        f" first token at {stream['ttft_p50'] / stream['unstreamed_total_p50']:.0%} of the wait"
    )
    full = next(r for r in results if r["mode"] == "full")
    print(
        "checks: zero 5xx "
        + ("ok" if all(r["server_errors"] == 0 for r in results) else "FAILED")
        + ", zero lost "
        + ("ok" if all(r["lost"] == 0 for r in results) else "FAILED")
        + ", audit rows = full answers "
        + ("ok" if full["audit_rows"] == full["answered"] else "FAILED")
    )
    print(json.dumps({"baseline": baseline, "load": results, "streaming": stream}))


if __name__ == "__main__":
    main()
