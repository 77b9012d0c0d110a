"""Batch jobs: a query pipeline over a file of questions, or a task over a folder of documents.

Each job is a list of `(id, item)` and a function from item to record, handed to
`ingest.batch_runner.BatchRunner`, which writes the records, resumes and lists failures.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema

from components.errors import ConfigError, DocentError, UnreadableFileError
from components.shipped_models import embedding_model_path
from ingest.parsing import FileParser
from ingest.sources import find_sources
from pipelines import prompts
from pipelines.config import Settings
from pipelines.qa import QAPipeline

TASKS = ("ask", "summarise", "classify", "extract")
FIELDS = {
    "ask": ["id", "question", "answer", "decision", "citations", "model", "cost"],
    "summarise": ["id", "summary", "model", "cost"],
    "classify": ["id", "intent", "confidence", "runner_up", "runner_up_confidence"],
    "extract": ["id", "data", "model", "cost"],
}
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
    """`(id, path)` for every file under `paths`; the id is the path as given below its folder.

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
    roots = [Path(p).expanduser().resolve() for p in paths]
    items = []
    for path in sources.files:
        root = next((r for r in roots if path.is_relative_to(r) and r != path), path.parent)
        items.append((path.relative_to(root).as_posix(), path))
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

    def run(path: Path) -> dict[str, Any]:
        text = _text(parse, path)
        if task == "classify":
            return qa.classify(text)
        if task == "summarise":
            answer = qa.complete(prompts.SUMMARISE.format(text=text))
            return {"summary": answer.answer.strip(), "model": answer.model, "cost": answer.cost}
        prompt = prompts.EXTRACT_DOCUMENT.format(schema=json.dumps(schema), text=text)
        answer = qa.complete(prompt, json_schema=schema)
        return {"data": answer.data, "model": answer.model, "cost": answer.cost}

    return run


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


def check_workers(settings: Settings, workers: int) -> None:
    """In-process models answer one request at a time; parallel items need endpoints.

    Raises:
        ConfigError: `workers` > 1 while a model runs in process.
    """
    local = [name for name, m in settings.models.items() if m.provider == "llama_cpp"]
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


def _text(parse: FileParser, path: Path) -> str:
    parsed = parse(path)
    if parsed.reason:
        raise UnreadableFileError(str(path), parsed.reason)
    text = "\n\n".join(chunk.content for chunk in parsed.chunks)
    if not text.strip():
        raise DocentError(f"{path}: no text to work on")
    return text[:DOCUMENT_CHARS]
