"""The error types of docent.

Every error a user can cause or fix derives from `DocentError`; only the entry points (the
command line, later the HTTP service) turn them into exit codes or responses.
"""


class DocentError(Exception):
    """Base class of every error docent raises on purpose; its message is meant for a person."""


class ConfigError(DocentError):
    """A configuration file or value is invalid; the message names the key path and the value."""


class UnreadableFileError(DocentError):
    """A file could not be turned into text; the message says why in plain language.

    `kind` sorts the reasons: "unsupported", "empty", "encrypted", "damaged" (the file is not
    what its name says), "parse_error" (the parser failed on it) or "no_text" (it parsed, with
    nothing in it). Another converter may succeed only on the last two.
    """

    def __init__(self, path: str, reason: str, kind: str = "parse_error") -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.kind = kind


class StoreError(DocentError):
    """The vector store cannot be opened or used."""


class GenerationError(DocentError):
    """The generation model could not produce an answer."""


class ModelCallError(GenerationError):
    """One call to one model failed; `kind` says how, so a fallback chain can decide what to do.

    Kinds: "connection" (nothing answers), "timeout", "rate_limited" (HTTP 429), "server_error"
    (HTTP 5xx or a crash of an in-process model), "bad_output" (empty, unparsable, or not
    matching the requested JSON schema), "client_error" (the request itself was refused, e.g. a
    wrong API key: retrying the same model will not help).
    """

    RETRYABLE = frozenset({"connection", "timeout", "rate_limited", "server_error", "bad_output"})

    def __init__(self, model: str, kind: str, detail: str, retry_after: float | None = None):
        super().__init__(f"model {model!r}: {kind.replace('_', ' ')}: {detail}")
        self.model = model
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether calling the same model again may succeed."""
        return self.kind in self.RETRYABLE


class AllModelsFailedError(GenerationError):
    """Every model that could serve a request failed or was skipped; the message lists why,
    then `advice`: what to do, fitting the models that failed (an endpoint that does not
    answer is checked otherwise than a model in this process)."""

    def __init__(
        self, reasons: list[str], advice: str = "Add a fallback model to the configuration."
    ) -> None:
        listed = "; ".join(reasons) or "no model is configured for this request"
        super().__init__(f"no model could answer ({listed}). {advice}")
        self.reasons = reasons
        self.advice = advice


class ModelsBusyError(AllModelsFailedError):
    """No model answered and at least one was passed over because its places were all taken
    and its waiting line full: the request may succeed if it is made again shortly (the
    service answers 429 with Retry-After)."""
