"""Parse every file of a folder the way `docent ingest` does; print outcomes by type.

Each file runs through the same per-file work as an ingest (the parser pool with its time
limit, unstructured with the Haystack fallback, the chunker) and ends as one of: ingested with
chunks (and which converter served), failed with a reason, or stopped at the time limit. No
file may crash the run, hang it, or vanish from the table.

Usage:
    .venv/bin/python bench/robustness.py [FOLDER] [--timeout S] [--workers N] [--files]
(default FOLDER: ../shared/data/example_docs)
"""

import argparse
import collections
import sys
import time
from pathlib import Path

import components  # noqa: F401  (offline defaults)
from components.shipped_models import embedding_model_path
from ingest.config import ChunkingSettings, ParsingSettings
from ingest.parse_pool import ParsePool
from ingest.parsing import FileParser
from ingest.sources import find_sources

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder", nargs="?", default=str(REPO.parent / "shared" / "data" / "example_docs")
    )
    parser.add_argument("--timeout", type=float, default=ParsingSettings().file_timeout)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--files", action="store_true", help="Also list every file.")
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        sys.exit(f"{folder} is not a folder; pass the example_docs folder")
    paths = find_sources([folder]).files
    parse = FileParser(
        parsing=ParsingSettings(),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )
    started = time.perf_counter()
    rows = []
    with ParsePool(parse, workers=args.workers, timeout=args.timeout) as pool:
        for parsed in pool.parse(paths):
            if parsed.reason:
                outcome = "timeout" if "took longer" in parsed.reason else "failed"
            else:
                outcome = "ingested" if parsed.converter == "unstructured" else "fallback"
            rows.append((Path(parsed.source), outcome, parsed))
            print(f"{len(rows)}/{len(paths)} {outcome:8} {parsed.source}", file=sys.stderr)
    seconds = time.perf_counter() - started
    assert len(rows) == len(paths), "a file vanished from the results"

    by_type: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path, outcome, _ in rows:
        by_type[path.suffix.lower() or "(none)"][outcome] += 1
    outcomes = ["ingested", "fallback", "failed", "timeout"]
    totals = collections.Counter(outcome for _, outcome, _ in rows)
    print(
        f"\n{len(paths)} files in {folder}, parsed in {seconds:.0f} s with {args.workers} workers"
    )
    print(f"time limit {args.timeout:g} s per file\n")
    print("| type | files | " + " | ".join(outcomes) + " |")
    print("|---|---:|" + "---:|" * len(outcomes))
    for suffix in sorted(by_type, key=lambda s: (-sum(by_type[s].values()), s)):
        counts = by_type[suffix]
        cells = " | ".join(str(counts[o]) for o in outcomes)
        print(f"| {suffix} | {sum(counts.values())} | {cells} |")
    print(f"| all | {len(paths)} | " + " | ".join(str(totals[o]) for o in outcomes) + " |")

    reasons = collections.Counter()
    for _, outcome, parsed in rows:
        if outcome in ("failed", "timeout"):
            reasons[_reason_class(parsed.reason)] += 1
    print("\nFailure reasons:")
    for reason, count in reasons.most_common():
        print(f"  {count:3}  {reason}")
    print("\nServed by a fallback converter:")
    for path, outcome, parsed in rows:
        if outcome == "fallback":
            print(f"  {path.relative_to(folder)}: {parsed.converter}, {len(parsed.chunks)} chunks")
    if args.files:
        print("\nEvery file:")
        for path, outcome, parsed in sorted(rows):
            detail = parsed.reason or f"{len(parsed.chunks)} chunks via {parsed.converter}"
            print(f"  {path.relative_to(folder)}: {outcome}: {detail}")


def _reason_class(reason: str) -> str:
    """The reason without the file-specific detail in parentheses."""
    return reason.split(" (")[0].split(":")[0] if reason else "?"


if __name__ == "__main__":
    main()
