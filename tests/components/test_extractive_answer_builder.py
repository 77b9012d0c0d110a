"""ExtractiveAnswerBuilder: only spans of the documents are shown; yes/no read from them."""

import pytest
from haystack import Document

from components.generation.extractive_answer_builder import ExtractiveAnswerBuilder
from tests.components.helpers import round_trip


def sentence(text: str, section: str, score: float = 0.5) -> Document:
    return Document(content=text, meta={"section": section, "sentence_score": score})


LEAVE = sentence(
    "Full-time employees receive 28 days of paid annual leave per calendar year.",
    "Leave Policy > Annual leave",
)
REMOTE = sentence(
    "Interns and contractors need written approval from their team lead.",
    "Remote Work Policy > Who may work remotely",
)
MFA = sentence(
    "Multi-factor authentication is mandatory for email, the code repository and the "
    "finance portal.",
    "Security Guidelines > Accounts",
)
QUESTION = "How many days of paid annual leave does a full-time employee get?"


@pytest.fixture(scope="module")
def builder():
    return ExtractiveAnswerBuilder()


def test_a_span_of_a_sentence_is_shown_with_the_sentence_quoted_and_cited(builder):
    answer = builder.run(query=QUESTION, replies=["28 Days."], documents=[REMOTE, LEAVE])
    answer = answer["answers"][0]
    assert answer.meta["supported"] is True and answer.meta["span"] == "28 days"
    assert answer.data == f"28 days: \u201c{LEAVE.content}\u201d [1]"
    assert answer.documents == [LEAVE]


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("10 days", "not_a_span"),  # a made-up number
        ("28 days of leave", "not_a_span"),  # words the sentence does not write in that order
        ("paid annual leave", "restates"),  # only words of the question
        ("", "not_a_span"),
    ],
)
def test_a_reply_that_is_not_a_new_span_of_a_sentence_is_never_shown(builder, reply, why):
    answer = builder.run(query=QUESTION, replies=[reply], documents=[REMOTE, LEAVE])
    answer = answer["answers"][0]
    assert answer.meta["supported"] is False and answer.documents == []
    assert answer.meta["refused"] == why


def test_a_span_from_a_sentence_about_something_else_is_not_an_answer(builder):
    question = "How many sick days do I get each year?"
    other = sentence("Parental leave lasts 16 weeks for every new parent.", "Parental leave")
    answer = builder.run(query=question, replies=["16 weeks"], documents=[other])["answers"][0]
    assert answer.meta["supported"] is False
    assert answer.meta["refused"] == "uncovered" and answer.meta["coverage"] < 0.5


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Can an intern work remotely without written approval?", "No"),
        ("Is multi-factor authentication mandatory for the code repository?", "Yes"),
    ],
)
def test_a_yes_no_question_is_answered_from_the_sentence_polarity(builder, question, expected):
    answer = builder.run(query=question, replies=["Yes"], documents=[LEAVE, REMOTE, MFA])
    answer = answer["answers"][0]
    assert answer.meta["supported"] is True and answer.meta["method"] == "polarity"
    assert answer.data.startswith(f"{expected}: \u201c")
    assert len(answer.documents) == 1 and answer.documents[0].content in answer.data


def test_no_yes_without_a_sentence_that_says_all_the_question_asks(builder):
    question = "Is the onboarding buddy encrypted with multi-factor authentication?"
    answer = builder.run(query=question, replies=["Yes"], documents=[MFA])["answers"][0]
    assert answer.meta["supported"] is False and answer.meta["refused"] == "no_polarity"


def test_round_trip_and_checked_arguments():
    copy, data = round_trip(ExtractiveAnswerBuilder(min_coverage=0.7))
    assert copy.min_coverage == 0.7 and data["init_parameters"]["language"] == "english"
    with pytest.raises(ValueError):
        ExtractiveAnswerBuilder(min_coverage=1.5)


def test_code_a_sentence_introduces_follows_the_answer_as_a_code_block(builder):
    lead = Document(
        content="To run a function after the response, call add_task:",
        meta={
            "section": "Background tasks",
            "sentence_score": 0.6,
            "next": '@app.post("/send")\ndef send(tasks):\n    tasks.add_task(log)',
        },
    )
    answer = builder.run(
        query="How do I run a function after the response?",
        replies=["call add_task"],
        documents=[lead],
    )["answers"][0]
    assert answer.data == (
        f"call add_task: \u201c{lead.content}\u201d [1]\n```\n{lead.meta['next']}\n```"
    )


def test_a_span_the_constraint_had_to_force_is_refused_and_says_so(builder):
    forced = builder.max_forced + 1.0
    answer = builder.run(query=QUESTION, replies=["28 days"], documents=[LEAVE], forced=forced)
    answer = answer["answers"][0]
    assert answer.meta["supported"] is False
    assert answer.meta["refused"] == "forced" and answer.meta["forced"] == forced
    # Within the bound the same span is shown, and the trace keeps how far it was moved.
    kept = builder.run(query=QUESTION, replies=["28 days"], documents=[LEAVE], forced=0.1)
    kept = kept["answers"][0]
    assert kept.meta["supported"] is True and kept.meta["forced"] == 0.1


def test_max_forced_must_not_be_negative():
    with pytest.raises(ValueError, match="max_forced"):
        ExtractiveAnswerBuilder(max_forced=-0.1)
