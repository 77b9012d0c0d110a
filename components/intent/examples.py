"""Intent examples: `(text, intent)` pairs read from CSV or JSON files, checked one by one."""

import csv
import io
import json
from pathlib import Path
from typing import Any


def load_examples(path: str | Path) -> list[tuple[str, str]]:
    """Read `(text, intent)` examples from a CSV or JSON file.

    CSV: a header `text,intent` (or `text,category`, as Banking77 has). JSON: a list of
    `[text, intent]` pairs, or a mapping from intent to a list of texts.

    Raises:
        ValueError: the file cannot be read, has another format, or holds an empty text or
            intent; the message names the file and, where it can, the line or item.
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the intent examples: {e}") from e
    if path.suffix.lower() == ".csv":
        pairs = _csv_examples(path, raw)
    elif path.suffix.lower() == ".json":
        pairs = _json_examples(path, raw)
    else:
        raise ValueError(f"{path}: intent examples must be a .csv or .json file")
    if not pairs:
        raise ValueError(f"{path}: the file holds no intent examples")
    return pairs


def _csv_examples(path: Path, raw: str) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(raw))
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames or []]
    label = next((name for name in ("intent", "category") if name in reader.fieldnames), None)
    if "text" not in reader.fieldnames or label is None:
        raise ValueError(
            f"{path}: the header must be text,intent (or text,category); "
            f"found {','.join(reader.fieldnames) or 'nothing'}"
        )
    pairs = []
    for row in reader:
        text, intent = (row.get("text") or "").strip(), (row.get(label) or "").strip()
        if not text or not intent:
            raise ValueError(f"{path}, line {reader.line_num}: the text or {label} is empty")
        pairs.append((text, intent))
    return pairs


def _json_examples(path: Path, raw: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
    if isinstance(data, dict):
        pairs = []
        for intent, texts in data.items():
            if not intent.strip() or not isinstance(texts, list):
                raise ValueError(f"{path}: intent {intent!r} must map to a list of texts")
            pairs += [checked_pair(f"{intent!r}", [text, intent], path) for text in texts]
        return pairs
    if isinstance(data, list):
        return [checked_pair(index, item, path) for index, item in enumerate(data)]
    raise ValueError(
        f"{path}: expected a list of [text, intent] pairs or a mapping from intent to texts, "
        f"found a JSON {type(data).__name__}"
    )


def checked_pair(where: int | str, example: Any, path: Path | None = None) -> tuple[str, str]:
    """`example` as a stripped (text, intent) pair; `where` names it in the error."""
    valid = (
        isinstance(example, list | tuple)
        and len(example) == 2
        and all(isinstance(value, str) and value.strip() for value in example)
    )
    if not valid:
        place = f"{path}: example {where}" if path else f"examples[{where}]"
        raise ValueError(
            f"{place} must be a pair [text, intent] of non-empty strings (got {example!r:.80})"
        )
    return example[0].strip(), example[1].strip()
