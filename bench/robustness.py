"""Parse every file of a folder the way `docent ingest` does; print outcomes by type.

Each file runs through the same per-file work as an ingest (the parser pool with its time
limit, unstructured with the Haystack fallback, the text-quality check, the chunker) and ends as
one of: ingested with chunks (and which converter served), failed with a reason, or stopped at
the time limit. No file may crash the run, hang it, or vanish from the table. The distribution
of text-quality scores and the files refused as garbled show where `parsing.min_text_quality`
stands against the folder (calibrate it with `--min-text-quality 0`, which refuses none).

Usage:
    .venv/bin/python bench/robustness.py [FOLDER] [--timeout S] [--workers N] [--files]
        [--min-text-quality Q]
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
from ingest.parsing import FileParser, Parsed
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
    parser.add_argument(
        "--min-text-quality",
        type=float,
        default=ParsingSettings().min_text_quality,
        help="parsing.min_text_quality for the run (default: the configured default).",
    )
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        sys.exit(f"{folder} is not a folder; pass the example_docs folder")
    sources = find_sources([folder])
    paths = sources.files
    parse = FileParser(
        parsing=ParsingSettings(min_text_quality=args.min_text_quality),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )
    started = time.perf_counter()
    rows = []
    with ParsePool(parse, workers=args.workers, timeout=args.timeout) as pool:
        for parsed in pool.parse(paths):
            if "parsing.min_text_quality" in parsed.reason:
                outcome = "garbled"
            elif parsed.reason:
                outcome = "timeout" if "took longer" in parsed.reason else "failed"
            else:
                outcome = "fallback" if parsed.converter.startswith("haystack:") else "ingested"
            rows.append((Path(parsed.source), outcome, parsed))
            print(f"{len(rows)}/{len(paths)} {outcome:8} {parsed.source}", file=sys.stderr)
    seconds = time.perf_counter() - started
    assert len(rows) == len(paths), "a file vanished from the results"
    # Entries that are not regular files (pipes, devices, broken or looping links, links out
    # of the folder) are refused before parsing, as an ingest refuses them.
    for path, (_, reason) in sources.refused.items():
        rows.append((path, "refused", Parsed(str(path), reason=reason)))

    by_type: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path, outcome, _ in rows:
        by_type[path.suffix.lower() or "(none)"][outcome] += 1
    outcomes = ["ingested", "fallback", "failed", "garbled", "timeout", "refused"]
    totals = collections.Counter(outcome for _, outcome, _ in rows)
    print(
        f"\n{len(rows)} entries in {folder}, {len(paths)} files parsed in {seconds:.0f} s "
        f"with {args.workers} workers"
    )
    print(f"time limit {args.timeout:g} s per file\n")
    print("| type | files | " + " | ".join(outcomes) + " |")
    print("|---|---:|" + "---:|" * len(outcomes))
    for suffix in sorted(by_type, key=lambda s: (-sum(by_type[s].values()), s)):
        counts = by_type[suffix]
        cells = " | ".join(str(counts[o]) for o in outcomes)
        print(f"| {suffix} | {sum(counts.values())} | {cells} |")
    print(f"| all | {len(rows)} | " + " | ".join(str(totals[o]) for o in outcomes) + " |")

    reasons = collections.Counter()
    for _, outcome, parsed in rows:
        if outcome in ("failed", "garbled", "timeout", "refused"):
            reasons[_reason_class(parsed.reason)] += 1
    print("\nFailure reasons:")
    for reason, count in reasons.most_common():
        print(f"  {count:3}  {reason}")
    print("\nServed by a fallback converter:")
    for path, outcome, parsed in rows:
        if outcome == "fallback":
            print(f"  {path.relative_to(folder)}: {parsed.converter}, {len(parsed.chunks)} chunks")
    _print_quality(rows, folder, args.min_text_quality)
    if args.files:
        print("\nEvery file:")
        for path, outcome, parsed in sorted(rows):
            detail = parsed.reason or f"{len(parsed.chunks)} chunks via {parsed.converter}"
            print(f"  {path.relative_to(folder)}: {outcome}: {detail}")


def _print_quality(rows: list, folder: Path, threshold: float) -> None:
    """The distribution of text-quality scores, and the files at or near the threshold."""
    judged = sorted(
        ((parsed.quality, path) for path, _, parsed in rows if parsed.quality is not None),
        key=lambda row: row[0],
    )
    print(f"\nText quality (share of real words) of {len(judged)} files with enough text:")
    if judged:
        ranks = {"min": 0, "p1": 0.01, "p5": 0.05, "p10": 0.1, "p25": 0.25, "median": 0.5}
        cells = [f"{k} {judged[round(q * (len(judged) - 1))][0]:.3f}" for k, q in ranks.items()]
        print("  " + ", ".join(cells))
    print(f"Below parsing.min_text_quality {threshold:g} (refused) or within 0.1 above it:")
    near = [(quality, path) for quality, path in judged if quality < threshold + 0.1]
    for quality, path in near:
        state = "refused" if quality < threshold else "kept"
        print(f"  {quality:.3f}  {state:7}  {path.relative_to(folder)}")
    if not near:
        print("  none")


def _reason_class(reason: str) -> str:
    """The reason without the file-specific detail in parentheses."""
    return reason.split(" (")[0].split(":")[0] if reason else "?"


if __name__ == "__main__":
    main()
