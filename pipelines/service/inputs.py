"""What the service accepts as text: checked at the edge, so bad input gets a 422 that says
why, never a failure deeper in (a lone surrogate cannot be stored or sent as UTF-8)."""

import math
from typing import Annotated, Any

from pydantic import AfterValidator, Field

QUESTION_CHARS = 4000


def _text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "must be valid Unicode text (it holds a lone surrogate such as \\ud800)"
        ) from None
    return value


# Any text a request carries; `Field` constraints are added where the text is used.
Text = Annotated[str, AfterValidator(_text)]
Question = Annotated[Text, Field(min_length=1, max_length=QUESTION_CHARS)]
Identifier = Annotated[Text, Field(min_length=1, max_length=64)]


def printable(value: Any, chars: int = 200) -> Any:
    """`value` made safe to send back as JSON, for validation errors that echo what they
    refused: lone surrogates escaped, NaN and infinities as text, text cut at `chars`,
    containers walked."""
    if isinstance(value, str):
        value = value if len(value) <= chars else value[:chars] + "…"
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {printable(k, chars): printable(v, chars) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v, chars) for v in value]
    return value
