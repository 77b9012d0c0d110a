"""The error types of docent.

Every error a user can cause or fix derives from `DocentError`; only the entry points (the
command line, later the HTTP service) turn them into exit codes or responses.
"""


class DocentError(Exception):
    """Base class of every error docent raises on purpose; its message is meant for a person."""


class ConfigError(DocentError):
    """A configuration file or value is invalid; the message names the key path and the value."""


class UnreadableFileError(DocentError):
    """A file could not be turned into text; the message says why in plain language."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(DocentError):
    """The vector store cannot be opened or used."""


class GenerationError(DocentError):
    """The generation model could not produce an answer."""
