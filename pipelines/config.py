"""The configuration model of docent and its loader.

A configuration is a YAML file whose top-level sections map to `Settings` below and to the
models of `pipelines.config_sections` (re-exported here). Every model forbids unknown keys.
The defaults are the embedded, offline defaults, written out in `configs/default.yaml`;
`DOCENT_CONFIG` names another file and `DOCENT_DATA_DIR` overrides the data directory.
"""

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    model_validator,
)

from components.errors import ConfigError, StoreError
from components.stores.store_lock import ensure_store_free
from evaluation.config import EvaluationSettings
from ingest.config import (
    ChunkingSettings,
    EmbeddingSettings,
    ParsingSettings,
    SparseSettings,
    StoreSettings,
)
from pipelines.config_sections import (  # noqa: F401  (re-exported: the sections of Settings)
    AuditSettings,
    BreakerSettings,
    BudgetSettings,
    HandoffSettings,
    IntentSettings,
    ModelSettings,
    QuerySettings,
    RetrievalSettings,
    RouteSettings,
    SafetySettings,
    ServiceSettings,
    TracingSettings,
    VerificationSettings,
)

if TYPE_CHECKING:
    from ingest.indexing import Indexer

CONFIG_ENV = "DOCENT_CONFIG"
DATA_DIR_ENV = "DOCENT_DATA_DIR"


DEFAULT_MODELS = {"gemma-3-270m": ModelSettings()}

# What a command that classifies says when the configuration has no intents.
NO_INTENTS = (
    "classifying needs intents in the configuration, and it has none: add intents.examples "
    "(intent: [example messages]) or intents.examples_file (a CSV of text,intent rows), as "
    "configs/support.yaml does, and pass that file with --config"
)


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
    query: QuerySettings = QuerySettings()
    models: dict[str, ModelSettings] = DEFAULT_MODELS
    routes: dict[str, RouteSettings] = {"question": RouteSettings()}
    intents: IntentSettings = IntentSettings()
    verification: VerificationSettings = VerificationSettings()
    budget: BudgetSettings = BudgetSettings()
    breaker: BreakerSettings = BreakerSettings()
    handoff: HandoffSettings = HandoffSettings()
    safety: SafetySettings = SafetySettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    audit: AuditSettings = AuditSettings()
    service: ServiceSettings = ServiceSettings()
    tracing: TracingSettings = TracingSettings()

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        """Every name a section uses must exist in the section that defines it."""
        if not self.models:
            raise ValueError("models: at least one model is needed")
        for intent, route in self.routes.items():
            for name in route.models or []:
                if name not in self.models:
                    raise ValueError(
                        f"routes.{intent}.models: unknown model {name!r}; "
                        f"known: {', '.join(self.models)}"
                    )
            needs = route.needs
            if route.type in ("rag", "direct") and not any(
                needs in self.models[name].capabilities for name in route.models or self.models
            ):
                raise ValueError(
                    f"routes.{intent}: no model has the capability {needs!r}; add it to a "
                    "model's capabilities"
                )
        judge = self.verification.judge_model
        if judge is not None and judge not in self.models:
            raise ValueError(f"verification.judge_model: unknown model {judge!r}")
        tie = self.intents.tie_break_model
        if tie is not None and tie not in self.models:
            raise ValueError(f"intents.tie_break_model: unknown model {tie!r}")
        for key in ("judge_model", "generator_model"):
            name = getattr(self.evaluation, key)
            if name is not None and name not in self.models:
                raise ValueError(
                    f"evaluation.{key}: unknown model {name!r}; known: {', '.join(self.models)}"
                )
        if not self.intents.configured and self.intents.default_intent not in self.routes:
            raise ValueError(
                f"routes: no route for the default intent {self.intents.default_intent!r}"
            )
        return self

    def check_routes(self, intents: Iterable[str]) -> None:
        """Raise unless every intent of the classifier has a route.

        Answering (`ask`, `serve`, `batch ask`, `eval`) follows the route of a question's
        intent; classifying alone (`batch classify`, an intent set's `eval`) needs none, so
        this is checked when a pipeline that answers is built, not when the file loads.

        Raises:
            ConfigError: naming the intents without a route and the keys to add.
        """
        missing = sorted(set(intents) - set(self.routes))
        if missing:
            raise ConfigError(
                f"routes: no route for the intent{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))}; add "
                f"{', '.join(f'routes.{intent}' for intent in missing)} (answering follows "
                "the route of a question's intent; `docent batch classify` needs none)"
            )

    @property
    def data_path(self) -> Path:
        """The data directory, with `~` expanded."""
        return self.data_dir.expanduser()

    @property
    def store_path(self) -> Path:
        """The vector store's folder (edge or local mode)."""
        return self.data_path / Path(self.store.folder).expanduser()

    @property
    def manifest_path(self) -> Path:
        """The SQLite manifest of what each ingested file contributed."""
        return self.data_path / Path(self.store.manifest).expanduser()

    @property
    def audit_path(self) -> Path:
        """The SQLite audit log of answers."""
        return self.data_path / "audit.sqlite"

    @property
    def handoff_path(self) -> Path:
        """The SQLite file of handoff tickets."""
        return self.data_path / "handoffs.sqlite"

    @property
    def sessions_path(self) -> Path:
        """The SQLite file of support conversations (`docent serve` sessions)."""
        return self.data_path / "sessions.sqlite"

    @property
    def uploads_path(self) -> Path:
        """Where `docent serve` keeps uploaded documents, a folder per tenant."""
        return self.data_path / "uploads"

    @property
    def jobs_path(self) -> Path:
        """The SQLite file of `docent serve`'s ingest jobs."""
        return self.data_path / "jobs.sqlite"

    @property
    def keys_path(self) -> Path:
        """The SQLite file of the service's API keys (hashed)."""
        return self.data_path / "keys.sqlite"

    def ensure_store_free(self) -> None:
        """Raise StoreError now if another process holds the embedded store: a cheap check
        for commands to run before they load models (see `components.stores.store_lock`)."""
        folder = self.store_path
        if self.store.kind == "qdrant_edge":
            folder = folder / self.store.collection
        try:
            ensure_store_free(self.store.kind, folder)
        except StoreError as e:
            from pipelines.local_server import held_by_server

            raise held_by_server(e, self.data_path) from None

    def open_indexer(self, rebuild: bool = False, store: Any = None) -> "Indexer":
        """An `Indexer` over the configured store; `close()` it when done.

        Unless `store` is given, a store that another process holds is refused before
        anything loads.

        :param store: the configured store, already open (see `ingest.indexing.open_indexer`).
        """
        if store is None:
            self.ensure_store_free()
        from ingest.indexing import open_indexer

        return open_indexer(
            store=self.store,
            store_path=self.store_path,
            manifest_path=self.manifest_path,
            rebuild=rebuild,
            embedding=self.embedding,
            chunking=self.chunking,
            parsing=self.parsing,
            sparse=self.sparse,
            opened=store,
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
    if path is not None:
        # A file named in the configuration is found beside it, wherever docent runs.
        for section, key in (("intents", "examples_file"), ("query", "pipeline")):
            values = raw.get(section)
            if isinstance(values, dict) and values.get(key):
                values[key] = Path(path).parent / Path(values[key]).expanduser()
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
        if not problem["loc"]:
            lines.append(f"  {message}")
            continue
        lines.append(f"  {key}: {message} (got {value!r})")
    return "\n".join(lines)


def _allowed_keys(parent: tuple) -> list[str]:
    model: type[BaseModel] = Settings
    parts = list(parent)
    while parts:
        annotation = model.model_fields[str(parts.pop(0))].annotation
        if get_origin(annotation) is dict:
            # A mapping of names (models, routes): the next part is a name, not a key.
            annotation = get_args(annotation)[1]
            if parts:
                parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)
