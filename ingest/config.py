"""Configuration models of the ingestion sections: store, embedding, sparse, chunking, parsing.

The defaults here are the embedded, offline defaults; `configs/default.yaml` spells them out.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    """Where chunks are stored. `path` is relative to the data directory unless absolute."""

    kind: Literal["qdrant_local"] = "qdrant_local"
    path: str = "qdrant"
    collection: str = Field(default="docent", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class EmbeddingSettings(_Section):
    """The dense embedding model: a shipped model name, or a local sentence-transformers folder."""

    model: str = "all-MiniLM-L6-v2"
    batch_size: int = Field(default=32, ge=1, le=1024)


class SparseSettings(_Section):
    """BM25-style sparse vectors; Qdrant applies the IDF part at query time."""

    language: Literal[
        "english", "french", "german", "spanish", "italian", "portuguese", "dutch"
    ] = "english"
    k1: float = Field(default=1.2, gt=0)
    b: float = Field(default=0.75, ge=0, le=1)
    avg_doc_tokens: int = Field(default=120, ge=1)


class ChunkingSettings(_Section):
    """Structure-aware chunking within a token budget of the embedding model's tokenizer."""

    max_tokens: int = Field(default=200, ge=32, le=512)
    overlap_tokens: int = Field(default=32, ge=0)

    @model_validator(mode="after")
    def _overlap_below_budget(self) -> "ChunkingSettings":
        if self.overlap_tokens >= self.max_tokens // 2:
            raise ValueError(
                f"overlap_tokens ({self.overlap_tokens}) must be less than half of max_tokens "
                f"({self.max_tokens})"
            )
        return self


class ParsingSettings(_Section):
    """How unstructured partitions files."""

    pdf_strategy: Literal["fast"] = "fast"
    languages: list[str] = Field(default_factory=lambda: ["eng"], min_length=1)
