"""docent's own knowledge-base set: right, wrong and abstained answers per question type.

`bench/kb_questions.jsonl` holds questions over `../shared/data/fastapi_docs` and the sample
handbook and support pages (`samples/handbook`, `samples/support`), each with short key
answers checked against the page it cites and a `type`: `fact`, `howto_code` (the
identifier to use, e.g. `Depends`), `yes_no`, `number_unit` ("30 days") and `unanswerable`
(plausible questions the documents do not answer; the right answer is an abstention).

The three folders are ingested into a scratch data directory (`--data-dir`, kept between
runs, so a second run only checks that nothing changed) with the default settings; then, for
each configuration of retrieval (`rrf`: RRF over the top 10 of each list; `rrf100`: over the
top 100, `retrieval.prefetch: 100`; `score`: score fusion) x answers (`extractive`, the
shipped model's default: a span of the documents; `sentence` and `short`: the model writing
freely, `generation: generative`, in that answer style), `docent eval`'s scorer asks every
question through the
full query pipeline and prints, overall and per type:
- right: answerable questions answered with a key answer in the answer (whole words, SQuAD
  normalisation: `evaluation.metrics.answer_correct`);
- wrong: all questions answered without a key answer, unanswerable ones answered included;
- abstained: answerable questions the pipeline declined to answer;
- unanswerable abstained: unanswerable questions it rightly declined;
each with a 95 % Wilson score interval (better than the bootstrap for small groups and for
shares near 0 or 1); then retrieval hit@5 (a kept passage comes from a cited page) and
seconds per question, p50 (scoring included).

Usage:
    .venv/bin/python bench/kb.py [--configs rrf-extractive,rrf100-extractive,...]
        [--limit N] [--max-forced X] [--data-dir /tmp/docent-kb] [--json]
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

from common import SHARED_DATA, percentile

import components  # noqa: F401  (offline defaults)
from evaluation.config import EvaluationSettings
from evaluation.datasets import load_jsonl
from pipelines.config import Settings
from pipelines.evaluate import evaluate
from pipelines.query.pipeline import QAPipeline

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = REPO / "bench" / "kb_questions.jsonl"
FOLDERS = (
    SHARED_DATA / "fastapi_docs",
    REPO / "samples" / "handbook",
    REPO / "samples" / "support",
)
# Retrieval: RRF over the top 10 of each list (Qdrant's own prefetch), RRF over the top 100,
# score fusion. Answers: extractive (the default for the shipped model), or the model
# writing freely (generation: generative) in the sentence or the short style.
FUSIONS = {"rrf": ("rrf", 10), "rrf100": ("rrf", 100), "score": ("score", 10)}
MODES = ("extractive", "sentence", "short")
CONFIGS = {f"{fusion}-{mode}": (fusion, mode) for fusion in FUSIONS for mode in MODES}
SHIPPED = "rrf100-extractive"
DEFAULT_CONFIGS = ("rrf-extractive", "rrf100-extractive", "score-extractive", "rrf-sentence")
TYPES = ("fact", "howto_code", "yes_no", "number_unit", "unanswerable")
Z95 = 1.959964


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        default=",".join(DEFAULT_CONFIGS),
        help=f"retrieval-answers pairs to run, comma separated (of {', '.join(CONFIGS)})",
    )
    parser.add_argument("--limit", type=int, help="only N questions, evenly spread over the set")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("/tmp/docent-kb"),
        help="scratch data directory, reused between runs (default /tmp/docent-kb)",
    )
    parser.add_argument(
        "--max-forced",
        type=float,
        default=Settings().verification.max_forced,
        help="verification.max_forced: how far the span constraint may move the model "
        "(default: the shipped value; a large value: no bound)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        sys.exit(f"--configs: unknown {', '.join(unknown)}; choose from {', '.join(CONFIGS)}")
    items = load_jsonl(QUESTIONS)
    types = {r["id"]: r["type"] for r in map(json.loads, QUESTIONS.read_text().splitlines())}
    if args.limit:
        items = items[:: max(1, len(items) // args.limit)][: args.limit]
    _ingest(args.data_dir)
    results = {}
    for name in names:
        fusion, mode = CONFIGS[name]
        kind, prefetch = FUSIONS[fusion]
        generation = "extractive" if mode == "extractive" else "generative"
        settings = Settings.model_validate(
            {
                "data_dir": str(args.data_dir),
                "retrieval": {"fusion": kind, "prefetch": prefetch},
                "verification": {"max_forced": args.max_forced},
                "models": {"gemma-3-270m": {"generation": generation}},
                "routes": {
                    "question": {"answer_style": "sentence" if mode == "extractive" else mode}
                },
            }
        )
        qa = QAPipeline.from_settings(settings)
        try:
            qa.warm_up()
            report, _ = evaluate(qa, items, EvaluationSettings(), on_item=_progress(name, items))
        finally:
            qa.close()
        results[name] = _summarise(report, types)
        results[name].update(
            fusion=kind, prefetch=prefetch, answers=mode, max_forced=args.max_forced
        )
        if not args.json:
            _print(name, results[name])
    if args.json:
        print(json.dumps({"questions": len(items), "configs": results}, indent=2))


def _ingest(data_dir: Path) -> None:
    """Ingest the three folders into `data_dir`; unchanged files are only checked."""
    indexer = Settings(data_dir=data_dir).open_indexer()
    started = time.perf_counter()
    done = 0

    def show(result, total: int) -> None:
        nonlocal done
        done += 1
        if done % 25 == 0 or done == total:
            rate = done / (time.perf_counter() - started)
            print(
                f"  ingest: {done}/{total} files, {rate:.1f} files/s, "
                f"ETA {(total - done) / rate:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    try:
        report = indexer.ingest(list(FOLDERS), on_file=show)
    finally:
        indexer.close()
    print(
        f"ingest into {data_dir}: {report.count('ingested')} files ingested, "
        f"{report.count('unchanged')} unchanged, {report.count('failed')} failed, "
        f"{report.chunks_written} chunks written in {report.seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    for failure in report.failures:
        print(f"  failed: {failure.source}: {failure.reason}", file=sys.stderr)


def _progress(name: str, items: list):
    started = time.perf_counter()

    def show(n: int) -> None:
        if n % 20 == 0 or n == len(items):
            rate = n / (time.perf_counter() - started)
            print(
                f"  {name}: {n}/{len(items)} questions, {rate:.2f}/s, "
                f"ETA {(len(items) - n) / rate:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    return show


def wilson(successes: float, n: int) -> dict[str, float]:
    """The share `successes / n` with its 95 % Wilson score interval."""
    if n == 0:
        return {"mean": float("nan"), "low": float("nan"), "high": float("nan"), "n": 0}
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return {"mean": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half), "n": n}


def _rates(records: list[dict]) -> dict[str, dict[str, float]]:
    """Right, wrong, abstained and unanswerable-abstained shares of `records`."""
    answerable = [r for r in records if "answer_correct" in r["scores"]]
    unanswerable = [r for r in records if "abstained_correctly" in r["scores"]]
    return {
        "right": wilson(sum(r["scores"]["answer_correct"] for r in answerable), len(answerable)),
        "wrong": wilson(sum(r["scores"].get("wrong", 0.0) for r in records), len(records)),
        "abstained": wilson(sum(1 - r["scores"]["answered"] for r in answerable), len(answerable)),
        "unanswerable_abstained": wilson(
            sum(r["scores"]["abstained_correctly"] for r in unanswerable), len(unanswerable)
        ),
    }


def _summarise(report: dict, types: dict[str, str]) -> dict:
    records = report["items"]
    hits = [r["scores"]["retrieval_hit"] for r in records if "retrieval_hit" in r["scores"]]
    by_type = {
        kind: _rates([r for r in records if types.get(r["id"]) == kind])
        for kind in TYPES
        if any(types.get(r["id"]) == kind for r in records)
    }
    return {
        "all": _rates(records),
        "by_type": by_type,
        "retrieval_hit": wilson(sum(hits), len(hits)),
        "seconds_p50": percentile([r["seconds"] for r in records], 0.5),
        "errors": report["errors"],
        "items": [
            {
                "id": r["id"],
                "type": types.get(r["id"]),
                "decision": r["decision"],
                "answer": r["answer"],
                "right": r["scores"].get("answer_correct"),
                "wrong": r["scores"].get("wrong"),
            }
            for r in records
        ],
    }


def _cell(share: dict[str, float]) -> str:
    if not share["n"]:
        return f"{'-':<18}"
    return f"{share['mean']:.2f} ({share['low']:.2f}-{share['high']:.2f})".ljust(18)


def _print(name: str, result: dict) -> None:
    default = " (shipped default)" if name == SHIPPED else ""
    forced = f" (max_forced {result['max_forced']})" if result["answers"] == "extractive" else ""
    print(
        f"\n{name}: retrieval.fusion={result['fusion']} (prefetch {result['prefetch']}), "
        f"answers {result['answers']}{forced}{default}; 95 % Wilson intervals"
    )
    print(f"  {'type':<13}{'n':>4}  {'right':<18}{'wrong':<18}{'abstained':<18}unanswerable abst.")
    rows = {"all": result["all"], **result["by_type"]}
    for kind, rates in rows.items():
        n = rates["wrong"]["n"]
        cells = "".join(_cell(rates[k]) for k in ("right", "wrong", "abstained"))
        print(f"  {kind:<13}{n:>4}  {cells}{_cell(rates['unanswerable_abstained'])}")
    hit = result["retrieval_hit"]
    print(
        f"  retrieval hit@5 {_cell(hit).strip()} over {hit['n']} answerable; seconds per "
        f"question p50 {result['seconds_p50']:.2f} (scoring included); errors {result['errors']}"
    )


if __name__ == "__main__":
    main()
