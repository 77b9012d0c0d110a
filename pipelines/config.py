"""The configuration model of docent and its loader.

A configuration is a YAML file whose top-level sections map to the models below. Every model
forbids unknown keys. The defaults are the embedded, offline defaults, written out in
`configs/default.yaml`; `DOCENT_CONFIG` names another file and `DOCENT_DATA_DIR` overrides the
data directory.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.errors import ConfigError
from ingest.config import (
    ChunkingSettings,
    EmbeddingSettings,
    ParsingSettings,
    SparseSettings,
    StoreSettings,
)

if TYPE_CHECKING:
    from ingest.indexing import Indexer

CONFIG_ENV = "DOCENT_CONFIG"
DATA_DIR_ENV = "DOCENT_DATA_DIR"


class RetrievalSettings(BaseModel):
    """Hybrid retrieval and the relevance floor below which docent says it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_k: int = Field(default=5, ge=1, le=100)
    min_similarity: float = Field(default=0.3, ge=-1, le=1)
    max_similarity_gap: float = Field(default=0.2, ge=0, le=2)


class GeneratorSettings(BaseModel):
    """The answer model: a shipped GGUF name or a path to a GGUF file, run by llama.cpp."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["llama_cpp"] = "llama_cpp"
    model: str = "gemma-3-270m"
    context_window: int = Field(default=2048, ge=256)
    max_new_tokens: int = Field(default=64, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    threads: int | None = Field(default=None, ge=1)


class Settings(BaseModel):
    """The whole configuration of docent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Path("~/.local/share/docent")
    store: StoreSettings = StoreSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    sparse: SparseSettings = SparseSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    parsing: ParsingSettings = ParsingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    generator: GeneratorSettings = GeneratorSettings()

    @property
    def data_path(self) -> Path:
        """The data directory, with `~` expanded."""
        return self.data_dir.expanduser()

    @property
    def store_path(self) -> Path:
        """The Qdrant local-mode folder."""
        return self.data_path / Path(self.store.path).expanduser()

    def open_indexer(self) -> "Indexer":
        """An `Indexer` over the configured store; close its `store` when done."""
        from ingest.indexing import open_indexer

        return open_indexer(
            store=self.store,
            store_path=self.store_path,
            embedding=self.embedding,
            chunking=self.chunking,
            parsing=self.parsing,
            sparse=self.sparse,
        )


def load_settings(path: str | Path | None = None) -> Settings:
    """Load the configuration from `path`, else `$DOCENT_CONFIG`, else the embedded defaults.

    `$DOCENT_DATA_DIR`, when set, replaces the data directory of whichever file is used.

    Raises:
        ConfigError: the file is missing, is not YAML, or holds an invalid key or value.
    """
    path = path or os.environ.get(CONFIG_ENV) or None
    raw: dict[str, Any] = {}
    source = "the built-in defaults"
    if path is not None:
        source = str(path)
        raw = _read_yaml(Path(path))
    if os.environ.get(DATA_DIR_ENV):
        raw["data_dir"] = os.environ[DATA_DIR_ENV]
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"invalid configuration in {source}:\n{_describe(e)}") from e


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read the configuration file {path}: {e.strerror}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"the configuration file {path} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the configuration file {path} must hold a mapping of sections "
            f"(data_dir, store, embedding, ...), not a {type(data).__name__}"
        )
    return data


def _describe(error: ValidationError) -> str:
    """One line per problem: the key path, the bad value and what is allowed."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(problem["loc"][:-1])
            lines.append(f"  {key}: unknown key; allowed keys here: {', '.join(allowed)}")
            continue
        value = problem.get("input")
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"  {key}: {message} (got {value!r})")
    return "\n".join(lines)


def _allowed_keys(parent: tuple) -> list[str]:
    model: type[BaseModel] = Settings
    for part in parent:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)
