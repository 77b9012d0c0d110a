"""Configuration models of the ingestion sections: store, embedding, sparse, chunking, parsing.

The defaults here are the embedded, offline defaults; `configs/default.yaml` spells them out.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    """Where chunks are stored, and the manifest of what was ingested.

    `qdrant_edge` (the default) keeps the collection in a folder with Qdrant's Rust engine
    running in process: HNSW and payload indexes, a write-ahead log, about 1 ms a query at
    100,000 chunks (bench/vector_store.py). `qdrant_local` is qdrant-client's local mode, exact
    search in Python (about 120 ms a query at 100,000 chunks; it warns past 20,000).
    `qdrant_server` talks to a Qdrant server or cluster at `url`, with the API key read from
    the environment variable named by `api_key_env`. `path` (relative to the data directory
    unless absolute) defaults to `edge` or `qdrant` by kind; `hnsw_ef` is how many candidates
    the edge store's HNSW search keeps (more: better recall, slower); an edge store of at most
    `exact_search_max` chunks is searched exactly instead, so that the same question on the same
    chunks finds the same passages however the store was built (0: always HNSW). `manifest` is
    the SQLite file (relative to the data directory unless absolute) that records what each
    file contributed.
    """

    kind: Literal["qdrant_edge", "qdrant_local", "qdrant_server"] = "qdrant_edge"
    path: str | None = None
    url: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(default=30, gt=0)
    hnsw_ef: int = Field(default=128, ge=1, le=4096)
    exact_search_max: int = Field(default=50_000, ge=0)
    collection: str = Field(default="docent", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    manifest: str = "manifest.sqlite"

    @model_validator(mode="after")
    def _server_needs_url(self) -> "StoreSettings":
        if self.kind == "qdrant_server" and not self.url:
            raise ValueError("kind 'qdrant_server' needs url (e.g. http://qdrant:6333)")
        if self.kind != "qdrant_server" and (self.url or self.api_key_env):
            raise ValueError("url and api_key_env apply to kind 'qdrant_server' only")
        return self

    @property
    def folder(self) -> str:
        """The store's folder, relative to the data directory unless absolute."""
        if self.path is not None:
            return self.path
        return "edge" if self.kind == "qdrant_edge" else "qdrant"


class EmbeddingSettings(_Section):
    """The dense embedding model: a shipped model name, or a local sentence-transformers folder.

    `batch_size` chunks go through the model at once; `write_batch` is about how many chunks
    (whole files at a time) are embedded and written between two manifest commits.
    Both backends batch texts of similar length together, so padding stays small. `backend`:
    onnx-int8 (the default: the model exported once to ONNX Runtime with int8 weights; on this
    CPU it encodes 2.3x as many texts per second as torch with SciFact's dense nDCG@10 within
    0.001, bench/embedding.py), onnx (the same export in fp32: torch's vectors, 1.2x) or torch
    (sentence-transformers). Switching between torch and onnx keeps the stored vectors;
    switching to or from onnx-int8 re-embeds what is ingested next. The backend also runs the
    intent classifier's and the verifier's embeddings.
    """

    model: str = "all-MiniLM-L6-v2"
    backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    batch_size: int = Field(default=32, ge=1, le=1024)
    write_batch: int = Field(default=512, ge=1)


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
    """How files are parsed: unstructured's options, the worker pool and per-file limits.

    `workers` is the number of parser processes (0: one per CPU core); a file that takes
    longer than `file_timeout` seconds or is larger than `max_file_mb` is reported as failed
    instead of stalling the batch, and so is a ZIP-based file (DOCX, PPTX, XLSX, ODT, EPUB)
    that would expand to more than `max_unzipped_mb`, or `max_zip_ratio` times a part's
    compressed size (a ZIP bomb). A parser process may use at most `max_worker_mb` of memory
    (an operating-system limit on its address space); a file that needs more fails alone.
    `min_text_quality` is the least share of real words (0 to 1) in a file's extracted text,
    judged without a dictionary (see `components.converters.text_quality`): a file below it,
    such as a PDF whose fonts lack a map to characters ("Decem b er /1/9/9/5"), is reported
    as failed instead of indexed; 0 turns the check off.
    `markup` decides how Markdown, HTML, reStructuredText and plain text are read:
    `structure` (the default) takes the structure the markup gives, headings as titles,
    paragraphs, lists, code blocks and tables (`components.converters.markup_converter`);
    `unstructured` has unstructured classify every paragraph with spaCy, as every other format
    is read: the same elements for Markdown, HTML and RST, and plain text's titles guessed
    differently, at 6.8x the time to parse and chunk fastapi_docs (bench/ingest_backends.py).
    `executor: ray` runs the parsing as Ray tasks instead, on
    the cluster at `ray_address` or on a local Ray instance when it is empty.
    A link inside an ingested folder that points out of it is refused unless
    `follow_outside_links` (see `ingest.sources.find_sources`).
    """

    pdf_strategy: Literal["fast"] = "fast"
    markup: Literal["structure", "unstructured"] = "structure"
    languages: list[str] = Field(default_factory=lambda: ["eng"], min_length=1)
    workers: int = Field(default=0, ge=0, le=256)
    file_timeout: float = Field(default=120, gt=0)
    max_file_mb: float = Field(default=100, gt=0)
    max_unzipped_mb: float = Field(default=500, gt=0)
    max_zip_ratio: float = Field(default=100, gt=1)
    max_worker_mb: int = Field(default=4096, ge=512)
    min_text_quality: float = Field(default=0.85, ge=0, le=1)
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    follow_outside_links: bool = False
