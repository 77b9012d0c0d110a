"""parse_json_reply: JSON checked against a schema, fences removed, bare choices accepted."""

import pytest

from components.generation.json_output import parse_json_reply

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_json_in_a_code_fence_is_read_and_checked():
    assert parse_json_reply('```json\n{"n": 3}\n```', SCHEMA) == {"n": 3}


@pytest.mark.parametrize(
    ("reply", "message"),
    [("n is 3", "is not JSON"), ('{"n": "three"}', "at n: 'three' is not of type 'integer'")],
)
def test_bad_replies_say_what_is_wrong(reply, message):
    with pytest.raises(ValueError, match=message):
        parse_json_reply(reply, SCHEMA)


@pytest.mark.parametrize("reply", ['"yes"', "Yes.", " yes\n"])
def test_a_choice_may_be_a_bare_word(reply):
    assert parse_json_reply(reply, {"enum": ["yes", "no"]}) == "yes"


def test_a_word_outside_the_choices_is_refused():
    with pytest.raises(ValueError):
        parse_json_reply("maybe", {"enum": ["yes", "no"]})
