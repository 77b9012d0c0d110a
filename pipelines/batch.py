"""Batch jobs: a query pipeline over a file of questions, or a task over a folder of documents.

Each job is a list of `(id, item)` and a function from item to record, handed to
`ingest.batch_runner.BatchRunner`, which writes the records, resumes and lists failures.

Summaries and extraction follow the answers' rule: a model marked `generation: generative`
writes them freely; with only extractive models (the shipped one), a summary is the
document's most central sentences, in order, with their pages, and each extracted field is a
span of the document that the model picked (or null), never text of its own.
"""

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
from haystack import Document

from components.errors import ConfigError, DocentError, UnreadableFileError
from components.generation.central_sentences import CentralSentences
from components.shipped_models import embedding_model_path
from ingest.parsing import FileParser
from ingest.sources import find_sources
from pipelines import prompts
from pipelines.config import NO_INTENTS, Settings
from pipelines.query.pipeline import QAPipeline

TASKS = ("ask", "summarise", "classify", "extract")
FIELDS = {
    "ask": ["id", "question", "answer", "decision", "citations", "model", "cost"],
    "summarise": ["id", "summary", "model", "cost"],
    "classify": ["id", "intent", "confidence", "runner_up", "runner_up_confidence"],
    "extract": ["id", "data", "evidence", "model", "cost"],
}
# Columns of a task's own that a schema field must not take over in CSV output.
_RESERVED = {"id", "data", "evidence", "model", "cost"}
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
# A document's chunks an extractive task reads, at most.
DOCUMENT_CHUNKS = 200
# A document's text is cut to this many characters before it goes into a prompt.
DOCUMENT_CHARS = 3000


def load_questions(path: Path) -> list[tuple[str, str]]:
    """`(id, question)` pairs from a JSON Lines file of `{"question": ..., "id": ...}` objects;
    an item without an id is named by its line number.

    Raises:
        ConfigError: the file is missing or a line is not such an object.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ConfigError(f"cannot read the questions file {path}: {e.strerror}") from e
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            question = record["question"]
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f'{path} line {number}: expected a JSON object with "question" (and optionally '
                '"id"), e.g. {"id": "q1", "question": "How do I reset my password?"}'
            ) from e
        if not isinstance(question, str) or not question.strip():
            raise ConfigError(f'{path} line {number}: "question" must be a non-empty string')
        items.append((str(record.get("id", number)), question))
    return items


def document_items(paths: list[str | Path]) -> list[tuple[str, Path]]:
    """`(id, path)` for every file under `paths`; the id is the file's path relative to the
    common root of the given paths (a folder given is a root, a file given is in its folder),
    so two folders' files of the same name keep apart: `a/ b/` gives `a/readme.md` and
    `b/readme.md`, one folder `a/` gives `readme.md`, one file gives its name.

    The ids are the resume keys of a batch: run again with the same paths to resume.

    Raises:
        ConfigError: a given path does not exist, or an entry is not a file to read (a named
            pipe, a device, a broken link: see `ingest.sources.find_sources`).
    """
    sources = find_sources(list(paths))
    if sources.missing:
        raise ConfigError(f"no such file or folder: {', '.join(map(str, sources.missing))}")
    if sources.refused:
        refused = "; ".join(f"{name}: {reason}" for name, reason in sources.refused.values())
        raise ConfigError(f"cannot read {refused}")
    folders = [Path(p).expanduser().resolve() for p in paths]
    folders = [f if f.is_dir() else f.parent for f in folders]
    root = Path(os.path.commonpath(folders)) if folders else None
    items = []
    for path in sources.files:
        # A file outside the root (a followed link) is named by its whole path.
        inside = root is not None and path.is_relative_to(root)
        items.append(((path.relative_to(root) if inside else path).as_posix(), path))
    return items


def make_task(
    task: str, qa: QAPipeline, schema: dict | None = None, tenant: str | None = None
) -> Callable[[Any], dict[str, Any]]:
    """The function that turns one item into its record, for `task`.

    Raises:
        ConfigError: an unknown task, or extract without a schema.
    """
    if task == "ask":
        return lambda question: _ask(qa, question, tenant)
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if task == "extract" and schema is None:
        raise ConfigError("extract needs a JSON schema of the fields (--schema FILE)")
    settings = qa.settings
    parse = FileParser(
        parsing=settings.parsing,
        chunking=settings.chunking,
        tokenizer=embedding_model_path(settings.embedding.model),
    )
    writers = generative_models(settings, "extract" if task == "extract" else "answer")
    summariser = CentralSentences(
        model=embedding_model_path(settings.embedding.model), backend=settings.embedding.backend
    )

    def run(path: Path) -> dict[str, Any]:
        if task == "classify":
            return qa.classify(_text(parse, path))
        if task == "summarise":
            if writers:
                answer = qa.complete(
                    prompts.SUMMARISE.format(text=_text(parse, path)), models=writers
                )
                summary = answer.answer.strip()
                return {"summary": summary, "model": answer.model, "cost": answer.cost}
            found = summariser.run(documents=_chunks(parse, path))
            return {
                "summary": found["summary"],
                "sentences": found["sentences"],
                "model": None,
                "cost": 0.0,
            }
        if writers:
            prompt = prompts.EXTRACT_DOCUMENT.format(
                schema=json.dumps(schema), text=_text(parse, path)
            )
            answer = qa.complete(prompt, json_schema=schema, models=writers)
            return _flat({"data": answer.data, "model": answer.model, "cost": answer.cost})
        return _flat(extract_spans(qa, schema or {}, _chunks(parse, path)))

    return run


def generative_models(settings: Settings, needs: str) -> list[str]:
    """The models with capability `needs` that write freely (`generation: generative`)."""
    return [
        name
        for name, model in settings.models.items()
        if needs in model.capabilities and not model.extractive
    ]


def fields(task: str, output: Path, schema: dict | None = None) -> list[str]:
    """The record keys a task writes: in CSV, each field of an extraction schema gets its own
    column (a field named like a column of the task's own is prefixed "data.")."""
    if task != "extract" or output.suffix.lower() != ".csv" or not schema:
        return FIELDS[task]
    names = [_column(name) for name in (schema.get("properties") or {})]
    return ["id", *names, "model", "cost"]


def extract_spans(qa: QAPipeline, schema: dict, chunks: list[Document]) -> dict[str, Any]:
    """Each field of `schema` as a span of `chunks` that the model picked, converted to the
    field's type, or None; with the sentence, source and page each value was read from."""
    data: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    models: list[str] = []
    cost = 0.0
    for name, spec in (schema.get("properties") or {}).items():
        answer = qa.answer_from(_field_question(name, spec), chunks)
        cost += answer.cost
        picked = (answer.verification or {}).get("extractive", {})
        value = None
        if answer.decision == "pass" and picked:
            value = _typed(picked.get("span") or "", picked.get("method"), spec)
        data[name] = value
        if value is not None:
            cited = answer.citations[0]
            evidence[name] = {"sentence": picked.get("sentence"), "page": cited.page}
            models.append(answer.model or "")
    model = ", ".join(sorted(set(models))) or None
    return {"data": data, "evidence": evidence, "model": model, "cost": round(cost, 8)}


def _field_question(name: str, spec: dict) -> str:
    """The question that asks for a schema field: its description ("The invoice's total")
    as "What is the invoice's total?", or its name ("warehouse_city": "What is the warehouse
    city?"); a description that is a question already is asked as it is."""
    description = str(spec.get("description") or "").strip()
    if description.endswith("?"):
        return description
    if description:
        return f"What is {description[0].lower()}{description[1:].rstrip('.')}?"
    return f"What is the {name.replace('_', ' ')}?"


def _typed(span: str, method: str | None, spec: dict) -> Any:
    """`span` as a value of the field's JSON type, or None when it cannot be one."""
    kinds = spec.get("type", "string")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds)
    if method == "polarity":
        return {"Yes": True, "No": False}.get(span) if "boolean" in kinds else None
    if "enum" in spec:
        return next((o for o in spec["enum"] if str(o).lower() in span.lower()), None)
    if kinds & {"integer", "number"}:
        number = _NUMBER.search(span)
        if number is None:
            return None
        value = float(number.group(0).replace(",", ""))
        return int(value) if "integer" in kinds and value.is_integer() else value
    return span if "string" in kinds else None


def _column(name: str) -> str:
    return f"data.{name}" if name in _RESERVED else name


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """The record with each extracted field also under its CSV column."""
    data = record.get("data") or {}
    return {**record, **{_column(k): v for k, v in data.items()}}


def load_schema(path: Path) -> dict:
    """A JSON schema from a file, checked.

    Raises:
        ConfigError: the file cannot be read, is not JSON, or is not a valid JSON schema.
    """
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
    except OSError as e:
        raise ConfigError(f"cannot read the schema file {path}: {e.strerror}") from e
    except ValueError as e:
        raise ConfigError(f"{path} is not JSON: {e}") from e
    except jsonschema.SchemaError as e:
        raise ConfigError(f"{path} is not a valid JSON schema: {e.message}") from e
    return schema


def check_task(task: str, qa: QAPipeline, schema: dict | None = None) -> None:
    """Refuse now, before any model loads, what would make every item of `task` fail.

    `classify` needs intents (not routes: build its pipeline with `routing=False`); `ask`
    with a retrieving default route needs an ingested collection; `extract` needs a schema
    with fields, and a model that writes them or one that answers (to pick each field's
    span).

    Raises:
        ConfigError: a missing configuration key or field, with how to add it.
        DocentError: the collection is empty.
    """
    settings = qa.settings
    if task == "classify" and not qa.intents:
        raise ConfigError(f"batch classify: {NO_INTENTS}")
    if task == "ask":
        qa.check_ready()
    if task == "extract":
        if not (schema or {}).get("properties"):
            raise ConfigError(
                'batch extract: the schema has no "properties", so there is no field to '
                'extract; name each field there, e.g. {"type": "object", "properties": '
                '{"total": {"type": ["number", "null"], "description": "The invoice total"}}}'
            )
        answering = [n for n, m in settings.models.items() if "answer" in m.capabilities]
        if not generative_models(settings, "extract") and not answering:
            raise ConfigError(
                "batch extract: no model can do it: give a model that writes freely "
                "(generation: generative) the capability extract, or any model the "
                "capability answer (in models.NAME.capabilities)"
            )


def check_workers(settings: Settings, workers: int) -> None:
    """In-process models answer one request at a time; parallel items need endpoints.

    Raises:
        ConfigError: `workers` > 1 while a model runs in process.
    """
    local = [name for name, m in settings.models.items() if m.in_process]
    if workers > 1 and local:
        raise ConfigError(
            f"--workers {workers}: the model(s) {', '.join(local)} run in this process and "
            "answer one request at a time; use --workers 1, or models behind an "
            "OpenAI-compatible endpoint"
        )


def _ask(qa: QAPipeline, question: str, tenant: str | None) -> dict[str, Any]:
    answer = qa.ask(question, tenant=tenant)
    return {
        "question": answer.question,
        "answer": answer.answer,
        "decision": answer.decision,
        "citations": answer.to_dict()["citations"],
        "model": answer.model,
        "cost": answer.cost,
    }


def _chunks(parse: FileParser, path: Path) -> list[Document]:
    parsed = parse(path)
    if parsed.reason:
        raise UnreadableFileError(str(path), parsed.reason)
    if not any((chunk.content or "").strip() for chunk in parsed.chunks):
        raise DocentError(f"{path}: no text to work on")
    return parsed.chunks[:DOCUMENT_CHUNKS]


def _text(parse: FileParser, path: Path) -> str:
    text = "\n\n".join(chunk.content or "" for chunk in _chunks(parse, path))
    return text[:DOCUMENT_CHARS]
