"""The sections of docent's configuration below the whole (`pipelines.config.Settings`):
retrieval, the model registry, routes, intents, verification, budgets, breakers, hand-offs,
safety, audit, the service and tracing. Each forbids unknown keys; `pipelines.config` loads
them from YAML and re-exports them.
"""

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.errors import ConfigError
from pipelines.providers import find_provider, get_provider, known_providers


class RetrievalSettings(BaseModel):
    """Hybrid retrieval and the runtime gate on it: below `min_similarity` (the best passage's
    cosine similarity to the question) docent abstains; below `escalate_below` the evidence
    is weak and the rag route skips its first (cheapest) model for the next one.

    `fusion` merges the dense and sparse lists: "rrf" (reciprocal rank fusion, as Qdrant's,
    over the `prefetch` best of each list) or "score" (the `candidates` best of each list,
    scored by `fusion_weights` times their raw scores, cosine plus a small share of BM25, and
    grouped by file with `fusion_group_by`). On SciFact's 809 claims (`docent eval --format
    beir`), nDCG@10 / recall@100: rrf over 10 per list 0.719 / 0.853, over 100 (the default)
    0.728 / 0.948, score 0.746 / 0.943 (its weights were tuned on those claims); on docent's
    own set (bench/kb.py) rrf finds a cited page in the top 5 for 97 % of the questions, score
    for 90 %, and answers fewer right."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    top_k: int = Field(default=5, ge=1, le=100)
    min_similarity: float = Field(default=0.3, ge=-1, le=1)
    max_similarity_gap: float = Field(default=0.2, ge=0, le=2)
    escalate_below: float | None = Field(default=None, ge=-1, le=1)
    fusion: Literal["rrf", "score"] = "rrf"
    fusion_weights: dict[str, float] = {"dense": 1.0, "sparse": 0.015}
    fusion_group_by: str | None = "source"
    candidates: int = Field(default=100, ge=1, le=1000)
    prefetch: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _weights(self) -> "RetrievalSettings":
        if set(self.fusion_weights) != {"dense", "sparse"}:
            raise ValueError(
                "retrieval.fusion_weights: give exactly the weights of dense and sparse "
                f"(got {', '.join(self.fusion_weights) or 'none'})"
            )
        if any(w < 0 for w in self.fusion_weights.values()) or not any(
            self.fusion_weights.values()
        ):
            raise ValueError("retrieval.fusion_weights: at least 0 each, and not both 0")
        return self


# Calls an OpenAI-compatible endpoint serves at once unless `max_concurrency` says otherwise.
ENDPOINT_CONCURRENCY = 8


class ModelSettings(BaseModel):
    """One model of the registry: where it runs, what it costs, what it can do.

    `provider` names a registered provider (`pipelines.providers`): `llama_cpp` runs a GGUF
    file in process (`model` is a shipped name or a path); `openai` calls any
    OpenAI-compatible endpoint at `base_url` (`model` is the name the endpoint expects; the
    API key comes from the environment variable `api_key_env`); installed packages add more.
    Prices are per million tokens. `tokenizer` names a GGUF (shipped name or path) whose
    vocabulary measures prompts for an endpoint; without one, tokens are estimated.
    `generation` says how far a model's words are trusted in a rag answer: `extractive` (a
    small model: it picks a span of the selected sentences and only the documents' words are
    shown), `generative` (a capable model writes the answer, which is verified); null:
    extractive for models in process (llama_cpp), generative for endpoints.
    `max_concurrency` bounds the calls the model serves at once under `docent serve` (see
    `concurrency`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str = "llama_cpp"
    model: str = "gemma-3-270m"
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=1, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0)
    context_window: int = Field(default=2048, ge=256)
    max_new_tokens: int = Field(default=64, ge=1)
    temperature: float = Field(default=0.0, ge=0, le=2)
    threads: int | None = Field(default=None, ge=1)
    price_in: float = Field(default=0.0, ge=0)
    price_out: float = Field(default=0.0, ge=0)
    capabilities: list[str] = ["answer", "chat", "extract"]
    tokenizer: str | None = None
    structured_output: Literal["grammar", "response_format", "none"] = "grammar"
    generation: Literal["extractive", "generative"] | None = None
    max_concurrency: int | None = Field(default=None, ge=1, le=256)

    @property
    def concurrency(self) -> int:
        """Calls the model may serve at once (`max_concurrency`; null: 8 for an endpoint, 1
        for an in-process model, whose one llama.cpp instance is not thread-safe)."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return 1 if self.in_process else ENDPOINT_CONCURRENCY

    @property
    def extractive(self) -> bool:
        """Whether the model's rag answers are spans of the documents (see `generation`)."""
        if self.generation is None:
            return self.in_process
        return self.generation == "extractive"

    @property
    def in_process(self) -> bool:
        """Whether the model runs in docent's process (its provider says), not at an
        endpoint."""
        return get_provider(self.provider).in_process

    @field_validator("provider")
    @classmethod
    def _registered(cls, name: str) -> str:
        try:
            found = find_provider(name)
        except ConfigError as e:
            raise ValueError(str(e)) from e
        if found is None:
            raise ValueError(f"unknown provider; {known_providers()}")
        return name

    @model_validator(mode="after")
    def _endpoint(self) -> "ModelSettings":
        check = get_provider(self.provider).check
        if check is not None:
            check(self)
        if self.in_process and (self.max_concurrency or 1) > 1:
            raise ValueError(
                f"max_concurrency is {self.max_concurrency}, but a model in process runs one "
                f"call at a time (provider {self.provider}: docent holds one instance of it, and "
                "llama.cpp's is not thread-safe; `threads` spreads that call over the cores): "
                "set max_concurrency to 1 or null"
            )
        if self.max_new_tokens >= self.context_window:
            raise ValueError("max_new_tokens must be below context_window")
        return self


RouteType = Literal["rag", "direct", "handoff", "reply", "refuse"]


class RouteSettings(BaseModel):
    """What happens to a request of one intent.

    `rag` retrieves, then generates with citations; `direct` generates without retrieval;
    `handoff` hands the conversation to a human; `reply` and `refuse` answer with `message`.
    `capability` picks the models (cheapest first) unless `models` names the chain;
    `json_schema` asks for JSON of that shape (validated; a mismatch counts as a failure).
    `answer_style` of a rag route, for generative models: "sentence" (a short cited sentence)
    or "short" (the span that answers a factoid question, from the retrieved sentence most
    like the question). An extractive model always answers with a span of the documents.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: RouteType = "rag"
    answer_style: Literal["sentence", "short"] = "sentence"
    capability: str | None = None
    models: list[str] | None = None
    message: str | None = None
    json_schema: dict[str, Any] | None = None
    verify: bool = True

    @model_validator(mode="after")
    def _message(self) -> "RouteSettings":
        if self.type in ("reply", "refuse") and not self.message:
            raise ValueError(f"a {self.type} route needs a message")
        if self.json_schema is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(self.json_schema)
            except jsonschema.SchemaError as e:
                raise ValueError(f"json_schema is not a valid JSON schema: {e.message}") from e
        return self

    @property
    def needs(self) -> str:
        """The capability a model must have to serve this route."""
        default = {"rag": "answer", "direct": "chat"}.get(self.type, "answer")
        return self.capability or ("extract" if self.json_schema else default)


class QuerySettings(BaseModel):
    """The query path's Haystack pipeline (see `pipelines.query.graph`).

    `pipeline` names a pipeline YAML to run instead of the built-in one: write one with
    `docent pipeline dump > FILE`, add your components (a query rewriter before `search`, a
    ranker before `answer`) and connect them; a relative path is found beside the
    configuration. `modules` lists the Python modules (or `package.*`) its
    components may be imported from besides docent's and Haystack's: a pipeline YAML names
    classes to import, so nothing else is imported.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: Path | None = None
    modules: list[str] = []


class IntentSettings(BaseModel):
    """The intent classifier: example utterances per intent, inline or in a CSV/JSON file.

    Without examples there is no classification and every request takes the route of
    `default_intent`. A request whose confidence is below `out_of_scope_threshold` is
    `out_of_scope`. When the two best intents are closer than `tie_break_margin` and
    `tie_break_model` is set, that model chooses between them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    examples: dict[str, list[str]] = {}
    examples_file: Path | None = None
    out_of_scope_threshold: float | None = Field(default=None, ge=0, le=1)
    default_intent: str = "question"
    tie_break_model: str | None = None
    tie_break_margin: float = Field(default=0.05, ge=0, le=1)

    @property
    def configured(self) -> bool:
        """Whether there are examples to classify with."""
        return bool(self.examples) or self.examples_file is not None


class VerificationSettings(BaseModel):
    """The check that an answer is supported by its passages, and what a weak answer does.

    Below `threshold` the answer goes to the next model of the chain; when none is left or the
    budget is spent, docent abstains. With `judge_model`, an answer that passes the offline
    check is also put to that model, which must say it is supported (an LLM judge: use a
    capable model; its calls are costed like any other).

    An extractive model in process writes its span under a constraint that keeps it to the
    selected sentences; `max_forced` is how far (log-probability) the constraint may move it
    from its own choice before the span is refused: higher answers more, and more wrongly
    (bench/kb.py).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    threshold: float = Field(default=0.5, ge=0, le=1)
    judge_model: str | None = None
    max_forced: float = Field(default=0.1, ge=0)


class BudgetSettings(BaseModel):
    """A per-request limit on tokens and money (in the registry's currency); null: none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, ge=0)


class BreakerSettings(BaseModel):
    """The circuit breaker of every model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    failure_threshold: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=30.0, ge=0)


class HandoffSettings(BaseModel):
    """Handing a conversation to a human: a ticket in the data directory, optionally a webhook.

    With `offer_on_abstain`, an answer docent cannot support offers a human instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str | None = None
    timeout: float = Field(default=5.0, gt=0)
    message: str = "I'm handing this conversation to a person on our support team."
    offer_on_abstain: bool = False
    offer_message: str = "Would you like me to connect you with a person on our support team?"


class SafetySettings(BaseModel):
    """Masking personal data (emails, phone, card and account numbers) in answers and logs;
    taking sentences that try to instruct the model out of retrieved passages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mask_pii: bool = False
    filter_injections: bool = True


class AuditSettings(BaseModel):
    """The audit log: each answer's decision, scores, models, cost and timings in SQLite
    (`audit.sqlite` in the data directory); `docent audit` lists it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class ServiceSettings(BaseModel):
    """`docent serve`: request limits, uploads, and where server-side paths may be ingested
    from.

    Answers wait in one queue of at most `max_waiting` requests, and run as many at once as
    the models may serve together (each model's `max_concurrency`); retrieval-only searches
    wait in another, ingest jobs in a third of at most `max_ingest_jobs`; one API key may
    hold at most `max_waiting_per_key` of a queue's places (default: half, rounded up), and
    the keys' requests take turns. Each model's own line holds at most `max_waiting` answers
    beyond its places: one more goes to the next model of its chain, or gets 429. A request
    body may hold at most `max_body_kb`, an upload `max_upload_mb` per file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_waiting: int = Field(default=8, ge=0)
    max_waiting_per_key: int | None = Field(default=None, ge=1)
    max_ingest_jobs: int = Field(default=16, ge=1)
    request_timeout: float = Field(default=120.0, gt=0)
    max_body_kb: int = Field(default=1024, ge=16)
    max_upload_mb: float = Field(default=50.0, gt=0)
    ingest_roots: list[Path] = []

    def per_key(self, places: int) -> int:
        """The places of a queue of `places` that one API key may hold."""
        return self.max_waiting_per_key or max(1, -(-places // 2))

    @property
    def max_upload_bytes(self) -> int:
        """`max_upload_mb` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)


class TracingSettings(BaseModel):
    """OpenTelemetry spans of each request and its stages (classify, retrieve, generate,
    verify, ...): `exporter` none, otlp (OTLP/HTTP to `endpoint`) or console (stderr)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exporter: Literal["none", "otlp", "console"] = "none"
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "docent"
    timeout: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _endpoint(self) -> "TracingSettings":
        if not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"tracing.endpoint must be an http(s) URL (got {self.endpoint!r})")
        return self
