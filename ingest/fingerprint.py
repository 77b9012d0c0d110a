"""Fingerprints of the settings that shape chunks: a file is ingested again when its changes."""

import hashlib
import json
from importlib.metadata import version
from typing import Any

from ingest.config import ChunkingSettings, EmbeddingSettings, ParsingSettings, SparseSettings

# Bump whenever a change to the converter or chunker changes the chunks of an unchanged file:
# it is part of every chunk's settings fingerprint, so the next ingest redoes those files.
PIPELINE_VERSION = 4  # 4: Markdown, HTML, RST and plain text read by their markup


def settings_fingerprint(
    embedding: EmbeddingSettings,
    chunking: ChunkingSettings,
    parsing: ParsingSettings,
    sparse: SparseSettings,
) -> str:
    """A short hash of every setting that shapes the chunks and their vectors (and no other:
    batch sizes, workers and limits change how fast, not what)."""
    settings = {
        # The onnx backend gives torch's vectors; only the quantised one changes them, and
        # since its scales are per text (not per batch), differently from before.
        "embedding": embedding.model
        if embedding.backend != "onnx-int8"
        else f"{embedding.model}@int8-per-text",
        "chunking": chunking.model_dump(),
        "parsing": parsing.model_dump(include={"pdf_strategy", "languages", "markup"}),
        "sparse": sparse.model_dump(),
        "unstructured": version("unstructured"),
        "docent_pipeline": PIPELINE_VERSION,
    }
    return _short_hash(settings)


def file_fingerprint(fingerprint: str, tenant: str | None, extra: dict[str, Any], name: str) -> str:
    """The settings fingerprint of one file: the run's, plus its tenant, metadata and name
    (all carried by its chunks)."""
    return _short_hash({"settings": fingerprint, "tenant": tenant, "meta": extra, "name": name})


def _short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
