"""What the trace says of an extractive reply that was not shown."""

import pytest

from components.generation.extractive_answer_builder import ExtractiveAnswerBuilder
from pipelines.query.records import refusal


@pytest.mark.parametrize(
    ("check", "says"),
    [
        ({"refused": "forced", "forced": 2.11}, "forced 2.11 from its own choice; "),
        ({"refused": "uncovered", "coverage": 0.25}, "(25% of its content words; 60% is needed)"),
        ({"refused": "restates"}, "adds no content word"),
        ({"refused": "no_polarity"}, "yes/no question"),
        ({"refused": "not_a_span"}, "not a span of the selected sentences"),
    ],
)
def test_each_refusal_says_why_with_the_builders_own_thresholds(check, says):
    builder = ExtractiveAnswerBuilder(min_coverage=0.6, max_forced=0.3)
    said = refusal(check, builder)
    assert says in said
    if check["refused"] == "forced":
        assert said.endswith("verification.max_forced is 0.3)")
