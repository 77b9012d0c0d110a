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
   time to the whole answer, one request at a time;
4. neighbours: one key's retrieval-only questions, one at a time, for `--seconds` on the idle
   server, then as long again while a second key floods `/v1/chat/completions` with
   `--clients` clients (each sends again 0.1 s after a 429, ignoring `Retry-After`) and a
   third key uploads a ZIP bomb (a real DOCX whose XML expands to 1 GB) and then, one after
   another, real documents (the support samples under fresh names, so that each is
   ingested). The flood and uploads come from a process of their own, at `--noise-nice`
   (19 stands for clients on other machines, which take none of the server's two cores).
   The calm key's 429s (target: none) and its p95 under load over its idle p95 (target: at
   most 2) are the figures;
5. endpoint: full answers from a model behind an OpenAI-compatible endpoint on loopback that
   answers every call after `--model-delay` seconds (`tests.servers.FaultProxy`), `--clients`
   clients for `--seconds`, served twice: with the model's `max_concurrency: 1` (the old
   design, one answer at a time) and with `max_concurrency` = `--clients`. Answers/s, p50/p95,
   429s, 5xx, the model's calls and the most it served at once, and audit rows = answers
   (targets with 32 clients and a 1 s model: at least 20 answers/s, p95 at most 2.5 s, no 5xx).

Prints a table with throughput, p50/p95/p99 latency of the answered requests, the ratio of the
service's throughput to the direct baseline's, and one JSON line.

Usage:
    .venv/bin/python bench/service.py [--clients 32] [--seconds 60] [--phases ...]
    .venv/bin/python bench/service.py --phases endpoint    # the endpoint phase alone
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from common import percentile

import components  # noqa: F401  (offline defaults)
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline
from pipelines.service.keys import KeyStore

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


async def load(base: str, key: str, mode: str, clients: int, seconds: float) -> dict:
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
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=300, limits=limits, headers=headers) as http:
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


def streaming(base: str, key: str, rounds: int) -> dict[str, float]:
    """Median time to the first streamed piece and to the whole answer, and without streaming."""
    first, whole, plain = [], [], []
    headers = {"Authorization": f"Bearer {key}"}
    for index in range(rounds):
        question = QUESTIONS[index % len(QUESTIONS)]
        body = {"messages": [{"role": "user", "content": question}], "stream": True}
        started = time.perf_counter()
        seen = None
        url = f"{base}/v1/chat/completions"
        with httpx.stream("POST", url, json=body, headers=headers, timeout=300) as r:
            for line in r.iter_lines():
                if seen is None and '"content"' in line:
                    seen = time.perf_counter() - started
        whole.append(time.perf_counter() - started)
        first.append(seen if seen is not None else whole[-1])
        started = time.perf_counter()
        httpx.post(url, json={**body, "stream": False}, headers=headers, timeout=300)
        plain.append(time.perf_counter() - started)
    return {
        "ttft_p50": statistics.median(first),
        "streamed_total_p50": statistics.median(whole),
        "unstreamed_total_p50": statistics.median(plain),
    }


def calm(base: str, key: str, seconds: float) -> tuple[list[float], dict[str, int]]:
    """One key's retrieval-only questions, one at a time, for `seconds` (a plain client of
    its own, so that the other clients' work never delays its clock)."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent, deadline = 0, time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, timeout=300, headers=headers) as http:
        while time.perf_counter() < deadline:
            body = {"question": QUESTIONS[sent % len(QUESTIONS)], "retrieval_only": True}
            sent += 1
            started = time.perf_counter()
            response = http.post("/v1/ask", json=body)
            status = str(response.status_code)
            statuses[status] = statuses.get(status, 0) + 1
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            time.sleep(0.05)
    return latencies, statuses


async def flood(http: httpx.AsyncClient, clients: int, deadline: float) -> dict[str, int]:
    """`clients` clients sending chat completions, again 0.1 s after a 429."""
    statuses: dict[str, int] = {}

    async def client(number: int) -> None:
        while time.perf_counter() < deadline:
            body = {"messages": [{"role": "user", "content": QUESTIONS[number % 5]}]}
            try:
                response = await http.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:
                statuses["lost"] = statuses.get("lost", 0) + 1
                continue
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            if response.status_code == 429:
                await asyncio.sleep(0.1)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return statuses


async def uploads(http: httpx.AsyncClient, bomb: bytes, deadline: float) -> dict[str, int]:
    """The ZIP bomb, then real documents one job after another, until `deadline`."""
    outcomes: dict[str, int] = {}
    response = await http.post("/v1/documents", files={"files": ("report.docx", bomb)})
    outcomes[f"bomb {response.status_code}"] = 1
    pages = sorted((REPO / "samples" / "support").glob("*.md"))
    round_ = 0
    while time.perf_counter() < deadline:
        page = pages[round_ % len(pages)]
        name = f"{page.stem}-{round_}.md"
        content = page.read_bytes() + f"\n\nRevision {round_}.\n".encode()
        round_ += 1
        response = await http.post("/v1/documents", files={"files": (name, content)})
        if response.status_code != 202:
            outcomes[str(response.status_code)] = outcomes.get(str(response.status_code), 0) + 1
            await asyncio.sleep(1)
            continue
        job = response.json()["id"]
        while time.perf_counter() < deadline:
            state = (await http.get(f"/v1/jobs/{job}")).json()
            if state["status"] in ("done", "failed"):
                outcomes[state["status"]] = outcomes.get(state["status"], 0) + 1
                break
            await asyncio.sleep(0.2)
    return outcomes


def noise(base: str, keys: dict[str, str], clients: int, seconds: float, nice: int) -> dict:
    """The flood and the uploads, for `seconds` (run in a process of their own, at `nice`)."""
    os.nice(nice)
    sys.path.insert(0, str(REPO))
    import tempfile as scratch

    from tests.corpus import write_zip_bomb

    with scratch.TemporaryDirectory() as folder:
        bomb = write_zip_bomb(Path(folder) / "bomb.docx", megabytes=1024).read_bytes()

    def client(key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=base,
            timeout=300,
            headers={"Authorization": f"Bearer {key}"},
            limits=httpx.Limits(max_connections=clients + 1),
        )

    async def run() -> tuple[dict[str, int], dict[str, int]]:
        deadline = time.perf_counter() + seconds
        async with client(keys["flood"]) as loud, client(keys["uploader"]) as uploader:
            return await asyncio.gather(
                flood(loud, clients, deadline), uploads(uploader, bomb, deadline)
            )

    flood_statuses, upload_outcomes = asyncio.run(run())
    return {"flood": flood_statuses, "uploads": upload_outcomes, "bomb_bytes": len(bomb)}


def neighbours(base: str, keys: dict[str, str], clients: int, seconds: float, nice: int) -> dict:
    """The calm key's retrieval-only latency idle, then beside a flood and uploads from
    another process."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    idle, idle_statuses = calm(base, keys["calm"], seconds)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        noisy = pool.submit(noise, base, keys, clients, seconds + 10, nice)
        time.sleep(10)  # the bomb is built and the flood under way
        busy, statuses = calm(base, keys["calm"], seconds)
        result = noisy.result()
    return {
        "idle": {
            "answered": len(idle),
            "p50": percentile(idle, 0.5),
            "p95": percentile(idle, 0.95),
        },
        "loaded": {
            "answered": len(busy),
            "statuses": statuses,
            "p50": percentile(busy, 0.5),
            "p95": percentile(busy, 0.95),
            "p99": percentile(busy, 0.99),
        },
        "idle_statuses": idle_statuses,
        **result,
        "noise_nice": nice,
        "p95_ratio": round(percentile(busy, 0.95) / percentile(idle, 0.95), 2),
    }


@contextmanager
def serving(data: str, port: int, config: Path | None = None) -> Iterator[str]:
    """`docent serve` (a child process) over the data directory `data`, with the configuration
    file `config` (default: the built-in one); its base URL once ready."""
    env = {**os.environ, "DOCENT_DATA_DIR": data}
    if config is not None:
        env["DOCENT_CONFIG"] = str(config)
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
        yield base
    finally:
        server.terminate()
        server.wait(timeout=60)


def endpoint(settings: Settings, key: str, port: int, args) -> list[dict]:
    """Full answers from a model on loopback that answers after `--model-delay` s: served
    with `max_concurrency: 1` (the old design), then with `--clients`."""
    sys.path.insert(0, str(REPO))
    from tests.servers import FaultProxy, endpoint_model, unused_base_url

    results = []
    reply = "reply:Employees may work remotely up to three days per week."
    for number, limit in enumerate((1, args.clients)):
        with FaultProxy(unused_base_url(), delay=args.model_delay) as proxy:
            proxy.inject(reply)
            model = endpoint_model(proxy.base_url, limit)
            config = Path(settings.data_dir) / f"endpoint-{limit}.yaml"
            config.write_text(yaml.safe_dump({"models": {"slow": model}}), encoding="utf-8")
            before = audit_rows(settings)
            with serving(str(settings.data_dir), port + number, config) as base:
                result = asyncio.run(load(base, key, "full", args.clients, args.seconds))
            result.update(
                max_concurrency=limit,
                audit_rows=audit_rows(settings) - before,
                model_calls=proxy.requests,
                model_peak=proxy.peak,
            )
            results.append(result)
    return results


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
    parser.add_argument(
        "--phases",
        default="load,streaming,neighbours,endpoint",
        help="which phases to run, comma-separated: load, streaming, neighbours, endpoint",
    )
    parser.add_argument(
        "--model-delay",
        type=float,
        default=1.0,
        help="seconds the endpoint phase's model takes to answer each call",
    )
    parser.add_argument(
        "--noise-nice",
        type=int,
        default=0,
        help="the neighbours' flood and uploads run at this nice value: 19 stands for clients "
        "on other machines, which take none of the server's CPU",
    )
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data))
        indexer = settings.open_indexer()
        try:
            indexer.ingest([REPO / "samples" / "handbook"])
        finally:
            indexer.close()
        store = KeyStore(settings.keys_path)
        keys = {
            name: store.create(name, scopes)[1]
            for name, scopes in (
                ("bench", ["ask"]),
                ("calm", ["ask"]),
                ("flood", ["ask"]),
                ("uploader", ["ingest"]),
            )
        }
        baseline = direct(settings, args.seconds / 3) if "load" in phases else {}
        port = 18000 + os.getpid() % 1000 * 3
        results, stream, crowd, slow = [], None, None, []
        if phases & {"load", "streaming", "neighbours"}:
            with serving(data, port) as base:
                results, stream, crowd = builtin_phases(base, keys, baseline, settings, args)
        if "endpoint" in phases:
            slow = endpoint(settings, keys["bench"], port + 1, args)
    print(f"{args.clients} clients, {args.seconds:.0f} s per mode, docent serve on loopback")
    report(args, baseline, results, stream, crowd, slow)


def builtin_phases(base: str, keys: dict[str, str], baseline: dict, settings: Settings, args):
    """The load, streaming and neighbours phases against the server at `base` (the built-in
    configuration: the shipped in-process model)."""
    phases = set(args.phases.split(","))
    results = []
    for mode in ("retrieval", "full") if "load" in phases else ():
        before = audit_rows(settings)
        result = asyncio.run(load(base, keys["bench"], mode, args.clients, args.seconds))
        result["audit_rows"] = audit_rows(settings) - before
        result["vs_direct"] = round(result["per_second"] / baseline[mode], 2)
        results.append(result)
    stream = streaming(base, keys["bench"], args.stream_rounds) if "streaming" in phases else None
    crowd = (
        neighbours(base, keys, args.clients, args.seconds, args.noise_nice)
        if "neighbours" in phases
        else None
    )
    return results, stream, crowd


def report(
    args,
    baseline: dict,
    results: list[dict],
    stream: dict | None,
    crowd: dict | None,
    slow: list[dict],
):
    """Print the tables, the checks and one JSON line."""
    if results:
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
    if stream is not None:
        print(
            f"streaming: first token p50 {stream['ttft_p50']:.3f} s, whole answer p50 "
            f"{stream['streamed_total_p50']:.3f} s (unstreamed "
            f"{stream['unstreamed_total_p50']:.3f} s); first token at "
            f"{stream['ttft_p50'] / stream['unstreamed_total_p50']:.0%} of the wait"
        )
    if results:
        full = next(r for r in results if r["mode"] == "full")
        print(
            "checks: zero 5xx "
            + ("ok" if all(r["server_errors"] == 0 for r in results) else "FAILED")
            + ", zero lost "
            + ("ok" if all(r["lost"] == 0 for r in results) else "FAILED")
            + ", audit rows = full answers "
            + ("ok" if full["audit_rows"] == full["answered"] else "FAILED")
        )
    if crowd is not None:
        idle, loaded = crowd["idle"], crowd["loaded"]
        print(
            f"neighbours: calm key retrieval-only p50/p95 idle {idle['p50']:.3f}/"
            f"{idle['p95']:.3f} s ({idle['answered']} answers), beside the flood and uploads "
            f"{loaded['p50']:.3f}/{loaded['p95']:.3f} s ({loaded['answered']} answers, "
            f"statuses {loaded['statuses']}): p95 ratio {crowd['p95_ratio']:.2f}"
        )
        print(
            f"  flood ({args.clients} clients, nice {crowd['noise_nice']}): {crowd['flood']} "
            f"({sum(crowd['flood'].values()) / (args.seconds + 10):.0f} requests/s); uploads "
            f"(bomb {crowd['bomb_bytes']:,} bytes, 1 GB expanded): {crowd['uploads']}"
        )
        print(
            "checks: no 429 for the calm key "
            + ("ok" if "429" not in loaded["statuses"] else "FAILED")
            + ", p95 within 2x of idle "
            + ("ok" if crowd["p95_ratio"] <= 2 else "FAILED")
        )
    if slow:
        report_endpoint(args, slow)
    print(
        json.dumps(
            {
                "baseline": baseline,
                "load": results,
                "streaming": stream,
                "neighbours": crowd,
                "endpoint": slow,
            }
        )
    )


def report_endpoint(args, slow: list[dict]) -> None:
    """The endpoint phase: the old design (one answer at a time) against concurrent answers."""
    print(
        f"endpoint: a model on loopback answering every call after {args.model_delay:g} s, "
        f"{args.clients} clients, full answers"
    )
    print(
        f"{'max_concurrency':>15} {'answers/s':>9} {'p50 s':>6} {'p95 s':>6} {'429':>5} "
        f"{'5xx':>4} {'lost':>4} {'audit':>6} {'calls':>6} {'peak':>4}"
    )
    for r in slow:
        print(
            f"{r['max_concurrency']:>15} {r['per_second']:>9.2f} {r['p50']:>6.3f} "
            f"{r['p95']:>6.3f} {r['statuses'].get('429', 0):>5} {r['server_errors']:>4} "
            f"{r['lost']:>4} {r['audit_rows']:>6} {r['model_calls']:>6} {r['model_peak']:>4}"
        )
    old, new = slow
    print(
        f"concurrent over one at a time: {new['per_second'] / max(old['per_second'], 1e-9):.1f}x"
        " answers/s; checks (targets for 32 clients and a 1 s model): at least 20 answers/s "
        + ("ok" if new["per_second"] >= 20 else "FAILED")
        + ", p95 at most 2.5 s "
        + ("ok" if new["p95"] <= 2.5 else "FAILED")
        + ", zero 5xx "
        + ("ok" if all(r["server_errors"] == 0 for r in slow) else "FAILED")
        + ", audit rows = answers "
        + ("ok" if all(r["audit_rows"] == r["answered"] for r in slow) else "FAILED")
    )


if __name__ == "__main__":
    main()
