"""Query latency at 100,000 chunks: everything but generation, and the time to first token.

Fills docent's default store (Qdrant Edge) with the 100,000 texts of `bench/vector_store.py`
(the same vectors, cached in --cache: MiniLM int8, for every backend, since what is timed
does not depend on the stored vectors) and asks `--questions` SciFact claims and XQuAD
questions through `QAPipeline.ask` with the configured settings (`--config`; the shipped
defaults otherwise: Gemma 3 270M, verification on), streaming, once per embedding backend of
`--backends` (the backend embeds the question and the verifier's sentences). Per question:
- everything but generation: the answer's total time less its generation stage, that is
  classification, query embedding, retrieval, the relevance and injection filters, packing,
  citations, verification and the audit log;
- the time to first token: from the call to the first streamed token;
- each stage's time (the answer's `timings`).
The same is measured on `--local-queries` questions with the store in Qdrant local mode
(exact search in Python) and the first backend, the baseline, in the same run.

Usage:
    .venv/bin/python bench/query_latency.py [--data ../shared/data] [--points 100000]
        [--questions 200] [--local-queries 20] [--backends onnx-int8,onnx] [--config FILE]
        [--cache DIR]
About 15 minutes with the vectors cached, most of it writing the local-mode baseline.
"""

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, documents, embedded, large_corpus, percentile, questions

import components  # noqa: F401  (offline defaults)
from components.embedding.bm25 import Bm25Encoder
from ingest.config import StoreSettings
from ingest.store import open_store
from pipelines.config import Settings, load_settings
from pipelines.query.pipeline import QAPipeline


def measure(settings: Settings, store, asked: list[str]) -> dict:
    """Ask each question streaming; per-question latencies (s) by what they cover."""
    qa = QAPipeline(settings, store)
    qa.warm_up()
    qa.ask(asked[0])  # the first call loads what warm_up leaves lazy
    rows = []
    for question in asked:
        first: list[float] = []
        started = time.perf_counter()

        def on_event(event, started=started, first=first) -> None:
            if event["type"] == "token" and not first:
                first.append(time.perf_counter() - started)

        answer = qa.ask(question, on_event=on_event)
        timings = dict(answer.timings)
        rows.append(
            {
                "but_generation": timings["total"] - timings.get("generate", 0.0),
                "first_token": first[0] if first else None,
                "decision": answer.decision,
                "stages": timings,
            }
        )
    qa.close()
    return {"rows": rows}


def summary(rows: list[dict]) -> dict:
    """p50 and p95 of what the rows measured, and each stage's p50, in milliseconds."""
    but = [r["but_generation"] for r in rows]
    ttft = [r["first_token"] for r in rows if r["first_token"] is not None]
    stages = sorted({s for r in rows for s in r["stages"]})
    return {
        "but_generation_p50_ms": 1000 * percentile(but, 0.5),
        "but_generation_p95_ms": 1000 * percentile(but, 0.95),
        "first_token_p50_ms": 1000 * percentile(ttft, 0.5),
        "answered": sum(r["decision"] == "pass" for r in rows),
        "stages_p50_ms": {
            s: 1000 * percentile([r["stages"].get(s, 0.0) for r in rows], 0.5) for s in stages
        },
    }


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--local-queries", type=int, default=20)
    parser.add_argument("--backends", default="onnx-int8,onnx")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "docent-bench-vectors"
    )
    args = parser.parse_args()
    texts = large_corpus(args.data, args.points)
    asked = questions(args.data, args.questions)
    vectors = embedded([t for _, t in texts], args.cache, f"corpus-{args.points}")
    docs = documents(texts, vectors, Bm25Encoder())
    gc.freeze()  # the documents stay in memory: keep the collector's full passes off them
    base = load_settings(args.config) if args.config else Settings()
    backends = args.backends.split(",")
    runs = [("qdrant_edge", b, len(asked)) for b in backends]
    runs.append(("qdrant_local", backends[0], args.local_queries))
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind, backend, count in runs:
            settings = base.model_copy(
                update={
                    "data_dir": Path(folder) / kind,
                    "store": StoreSettings(kind=kind),
                    "embedding": base.embedding.model_copy(update={"backend": backend}),
                }
            )
            store = open_store(settings.store, settings.store_path, vectors.shape[1])
            if not store.count_documents():
                for start in range(0, len(docs), 5000):
                    store.write_documents(docs[start : start + 5000])
                if hasattr(store, "optimize"):
                    store.optimize()
            print(
                f"{kind}, {backend}: {store.count_documents():,} chunks; asking {count}", flush=True
            )
            results[f"{kind} {backend}"] = summary(measure(settings, store, asked[:count])["rows"])
    local = results[f"qdrant_local {backends[0]}"]
    names = [f"qdrant_edge {b}" for b in backends]
    print(f"\n{len(docs):,} chunks; milliseconds, p50; ratio: local mode / edge, {backends[0]}")
    print(f"{'':<32} {'local mode':>10} " + " ".join(f"{n[12:]:>10}" for n in names) + "  ratio")
    for label, key in (
        ("everything but generation", "but_generation_p50_ms"),
        ("everything but generation, p95", "but_generation_p95_ms"),
        ("time to first token", "first_token_p50_ms"),
    ):
        cells = " ".join(f"{results[n][key]:>10.1f}" for n in names)
        print(
            f"{label:<32} {local[key]:>10.1f} {cells} {local[key] / results[names[0]][key]:>6.1f}"
        )
    for stage in results[names[0]]["stages_p50_ms"]:
        if stage != "total":
            cells = " ".join(f"{results[n]['stages_p50_ms'].get(stage, 0.0):>10.1f}" for n in names)
            print(f"  {stage:<30} {local['stages_p50_ms'].get(stage, 0.0):>10.1f} {cells}")
    print(
        "answered: " + ", ".join(f"{n[12:]} {results[n]['answered']}/{len(asked)}" for n in names)
    )
    print(json.dumps({"chunks": len(docs), "results": results}))


if __name__ == "__main__":
    main()
