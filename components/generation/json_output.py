"""Read a model's reply as JSON that must match a schema."""

import json
from typing import Any

import jsonschema


def parse_json_reply(reply: str, schema: dict[str, Any]) -> Any:
    """The JSON value in `reply`, checked against `schema`.

    Small models sometimes wrap JSON in a code fence; the fence is removed first. When the
    schema is a choice among strings (`{"enum": ["yes", "no"]}`), a bare word is accepted as
    well as a JSON string, since models without constrained decoding answer that way.

    :raises ValueError: the reply is not JSON, or does not match the schema (the message says
        where).
    """
    text = reply.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    choices = schema.get("enum")
    if choices and all(isinstance(c, str) for c in choices):
        word = text.strip("\"'. \n").lower()
        matches = [c for c in choices if c.lower() == word]
        if matches:
            return matches[0]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"the reply is not JSON ({e.msg} at character {e.pos})") from e
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "the top level"
        raise ValueError(f"the reply does not match the schema at {where}: {e.message}") from e
    return value
