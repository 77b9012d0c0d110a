"""Read a model's reply as JSON that must match a schema."""

import json
from typing import Any

import jsonschema


def parse_json_reply(reply: str, schema: dict[str, Any]) -> Any:
    """The JSON value in `reply`, checked against `schema`.

    Small models sometimes wrap JSON in a code fence; the fence is removed first.

    :raises ValueError: the reply is not JSON, or does not match the schema (the message says
        where).
    """
    text = reply.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
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
