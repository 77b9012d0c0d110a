"""Evaluation sets: docent's JSON Lines format, and adapters for SQuAD v1, BEIR and intent sets.

Every loader returns plain data classes; a malformed file fails with a message naming the
file, the line or key, and the expected shape.
"""

import csv
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from components.errors import ConfigError

# The formats `load_set` reads.
SET_FORMATS = ("jsonl", "squad", "beir", "intents")

# Labels an intent set may give its out-of-scope items (CLINC150 uses "oos").
OUT_OF_SCOPE_LABELS = frozenset({"oos", "out_of_scope", "out-of-scope"})


@dataclass(frozen=True)
class EvalItem:
    """One question with its reference answer(s) and, optionally, what should be retrieved.

    `references` holds every acceptable answer (SQuAD has several); `reference_contexts` are
    passages that hold the answer; `reference_ids` are ids of relevant documents. `answers`
    are short key answers ("27 months") that a right answer contains; `unanswerable` marks a
    question the documents cannot answer, where the right answer is an abstention.
    """

    id: str
    question: str
    references: tuple[str, ...] = ()
    reference_contexts: tuple[str, ...] = ()
    reference_ids: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    unanswerable: bool = False


@dataclass(frozen=True)
class RetrievalSet:
    """A BEIR-style retrieval set: corpus documents, queries, and graded relevance."""

    corpus: dict[str, dict[str, str]]  # id -> {"title", "text"}
    queries: dict[str, str]  # id -> text
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query id -> {doc id: grade}


def load_jsonl(path: Path) -> list[EvalItem]:
    """Items from JSON Lines: `question`, `reference` (a string or a list), and optionally
    `id`, `reference_contexts`, `reference_ids`, `answers` (key answers, a string or a list)
    and `unanswerable` (true when the documents cannot answer it; then no answers).

    Raises:
        ConfigError: the file is unreadable or a line has the wrong shape.
    """
    items = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = record["question"]
            reference = record.get("reference", [])
            answers = record.get("answers", [])
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f'{path} line {number}: expected a JSON object with "question" and "reference", '
                'e.g. {"question": "How long is the warranty?", "reference": "27 months"}'
            ) from e
        references = (reference,) if isinstance(reference, str) else tuple(reference)
        answers = (answers,) if isinstance(answers, str) else tuple(answers)
        unanswerable = record.get("unanswerable", False)
        if not isinstance(unanswerable, bool) or not all(
            isinstance(a, str) and a.strip() for a in answers
        ):
            raise ConfigError(
                f'{path} line {number}: "answers" must be a string or a list of non-empty '
                'strings and "unanswerable" true or false, e.g. "answers": ["27 months"]'
            )
        if unanswerable and answers:
            raise ConfigError(
                f'{path} line {number}: an "unanswerable" question cannot have "answers"; '
                "remove one of them"
            )
        items.append(
            EvalItem(
                id=str(record.get("id", number)),
                question=question,
                references=references,
                reference_contexts=tuple(record.get("reference_contexts", ())),
                reference_ids=tuple(str(i) for i in record.get("reference_ids", ())),
                answers=answers,
                unanswerable=unanswerable,
            )
        )
    return items


def load_squad(path: Path) -> tuple[list[EvalItem], dict[str, str]]:
    """Questions of a SQuAD v1.1 file, and its paragraphs as a corpus (id -> text).

    Each item's `reference_ids` is the id of its paragraph (`<article>-<paragraph>`).

    Raises:
        ConfigError: the file is not SQuAD v1.1 JSON.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
        items, paragraphs = [], {}
        for a, article in enumerate(data):
            for p, paragraph in enumerate(article["paragraphs"]):
                paragraph_id = f"{a}-{p}"
                paragraphs[paragraph_id] = paragraph["context"]
                for qa in paragraph["qas"]:
                    items.append(
                        EvalItem(
                            id=str(qa["id"]),
                            question=qa["question"],
                            references=tuple(dict.fromkeys(x["text"] for x in qa["answers"])),
                            reference_contexts=(paragraph["context"],),
                            reference_ids=(paragraph_id,),
                        )
                    )
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"{path} is not SQuAD v1.1 JSON (data → paragraphs → context, qas → question, "
            f"answers): {type(e).__name__}: {e}"
        ) from e
    return items, paragraphs


def load_beir(folder: Path, qrels_file: str = "qrels.tsv") -> RetrievalSet:
    """A BEIR folder: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`,
    `text`) and a qrels TSV (query id, document id, grade; with a header row). Only queries
    with judgements are kept.

    Raises:
        ConfigError: a file is missing or malformed.
    """
    folder = Path(folder)
    try:
        corpus = {
            str(r["_id"]): {"title": r.get("title", ""), "text": r["text"]}
            for r in map(json.loads, _lines(folder / "corpus.jsonl"))
        }
        queries = {
            str(r["_id"]): r["text"] for r in map(json.loads, _lines(folder / "queries.jsonl"))
        }
        qrels: dict[str, dict[str, int]] = {}
        with (folder / qrels_file).open(encoding="utf-8") as f:
            rows = csv.reader(f, delimiter="\t")
            next(rows, None)
            for row in rows:
                if row:
                    qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    except OSError as e:
        raise ConfigError(f"cannot read the BEIR folder {folder}: {e}") from e
    except (ValueError, KeyError, IndexError) as e:
        raise ConfigError(
            f"{folder} is not a BEIR folder (corpus.jsonl, queries.jsonl, {qrels_file}): {e}"
        ) from e
    return RetrievalSet(corpus, {q: queries[q] for q in qrels if q in queries}, qrels)


def load_intents(path: Path, split: str | None = None) -> list[tuple[str, str]]:
    """`(text, intent)` pairs: a JSON list of `[text, intent]`, a JSON object of such lists by
    split name (pick one with `split`), or a CSV with `text` and `intent`/`category` columns.

    Raises:
        ConfigError: the file has another shape, or the split is missing.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            column = "intent" if rows and "intent" in rows[0] else "category"
            return [(row["text"], row[column]) for row in rows]
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            if split not in data:
                raise ConfigError(f"{path}: choose a split: {', '.join(sorted(data))}")
            data = data[split]
        return [(str(text), str(intent)) for text, intent in data]
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"{path}: expected [text, intent] pairs, or a CSV with text and intent columns ({e})"
        ) from e


@dataclass(frozen=True)
class EvalSet:
    """An evaluation set as `docent eval` runs it: where it was read, its format (one of
    `SET_FORMATS`) and its items: questions, `(text, intent)` pairs, or a BEIR set."""

    path: Path
    format: str
    items: list[EvalItem] | list[tuple[str, str]] | RetrievalSet

    def __len__(self) -> int:
        """How many items a run goes through (the queries of a BEIR set)."""
        if isinstance(self.items, RetrievalSet):
            return len(self.items.queries)
        return len(self.items)

    @property
    def unit(self) -> str:
        """What one item is, as a progress bar names it."""
        return {"beir": "query", "intents": "text"}.get(self.format, "question")


def load_set(
    path: Path, fmt: str | None = None, split: str | None = None, limit: int | None = None
) -> EvalSet:
    """The evaluation set at `path`, read in the format `fmt` (default: beir for a folder,
    squad for a .json file, else jsonl); with `limit`, only its first items (queries of a BEIR
    set). `split` picks the split of an intent set that has several.

    Usage:
    ```python
    golden = load_set(Path("golden.jsonl"), limit=20)
    print(len(golden), golden.unit)  # 20 question
    ```

    Raises:
        ConfigError: the format is unknown, or the file does not hold a set of that format.
    """
    path = Path(path)
    if fmt is None:
        fmt = "beir" if path.is_dir() else "squad" if path.suffix == ".json" else "jsonl"
    if fmt not in SET_FORMATS:
        raise ConfigError(f"unknown set format {fmt!r}: use one of {', '.join(SET_FORMATS)}")
    if fmt == "beir":
        beir = load_beir(path)
        if limit:
            beir = replace(beir, queries=dict(list(beir.queries.items())[:limit]))
        return EvalSet(path, fmt, beir)
    if fmt == "intents":
        items = load_intents(path, split)
    else:
        items = load_squad(path)[0] if fmt == "squad" else load_jsonl(path)
    return EvalSet(path, fmt, items[:limit] if limit else items)


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from e
