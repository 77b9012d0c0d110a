"""How often the prompt-injection filter flags ordinary text: its false-positive rate.

Splits every text-like file (Markdown, text, HTML, RST, CSV, JSON, XML, Org, email) of the
given folders into sentences as `InjectionFilter` does, and counts the sentences it would take
out of a passage, printing each with its file.

Usage:
    .venv/bin/python bench/injections.py [FOLDER...]
"""

import argparse
import json
from pathlib import Path

import components  # noqa: F401  (offline defaults)
from components.safety.injection_filter import is_instruction, sentences

REPO = Path(__file__).resolve().parents[1]
TEXT = {".md", ".txt", ".html", ".rst", ".csv", ".json", ".xml", ".org", ".eml"}


def main() -> None:
    """Run the count and print the flagged sentences and one JSON line."""
    data = REPO.parent / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "folders",
        nargs="*",
        type=Path,
        default=[data / "fastapi_docs", REPO / "samples", data / "example_docs"],
    )
    args = parser.parse_args()
    total = flagged = 0
    for folder in args.folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in TEXT or not path.is_file():
                continue
            for sentence in sentences(path.read_text(errors="ignore")):
                if not sentence.strip():
                    continue
                total += 1
                if is_instruction(sentence):
                    flagged += 1
                    print(f"{path}: {sentence.strip()[:120]}")
    print(f"{flagged} of {total} sentences flagged ({flagged / max(total, 1):.4%})")
    print(json.dumps({"sentences": total, "flagged": flagged}))


if __name__ == "__main__":
    main()
