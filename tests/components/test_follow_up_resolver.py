"""FollowUpResolver with spaCy's English model: pronouns become the previous question's topic."""

import pytest

from components.conversation.follow_up_resolver import FollowUpResolver
from tests.components.helpers import round_trip


@pytest.fixture(scope="module")
def resolver():
    resolver = FollowUpResolver()
    resolver.warm_up()
    return resolver


@pytest.mark.parametrize(
    ("previous", "follow_up", "read_as"),
    [
        (
            "How long does the espresso machine warranty last?",
            "What does it cover?",
            "What does the espresso machine warranty cover?",
        ),
        ("How do I reset my password?", "How long is it valid?", "How long is the password valid?"),
        ("Which warehouse do orders ship from?", "Where is that?", "Where is the warehouse?"),
        (
            "What are the loyalty tiers?",
            "How many beans do their members earn?",
            "How many beans do the loyalty tiers' members earn?",
        ),
        # Nothing to replace: the question stays as asked.
        ("What water temperature is best?", "And what grind size?", "And what grind size?"),
        ("Which warehouse do orders ship from?", "How long is the warranty?", None),
    ],
)
def test_pronouns_are_read_as_the_previous_topic(resolver, previous, follow_up, read_as):
    result = resolver.run(question=follow_up, history=["Hello", previous])
    assert result["question"] == (read_as or follow_up)
    assert result["context_query"] == f"{previous} {follow_up}"
    assert (result["topic"] is None) == (read_as in (None, follow_up))


def test_without_history_the_question_is_left_alone(resolver):
    result = resolver.run(question="What does it cover?", history=[])
    assert result == {"question": "What does it cover?", "context_query": None, "topic": None}
    assert round_trip(resolver)[0].model == "en_core_web_sm"
