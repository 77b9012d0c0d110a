"""CitedAnswerBuilder: measured support, renumbered citations, honest abstention."""

from haystack import Document

from components.generation.cited_answer_builder import ABSTAIN, CitedAnswerBuilder
from tests.components.helpers import round_trip

PACKED = [
    Document(id="a", content="Breakfast is served until 10:00.", meta={"section": "Cafeteria"}),
    Document(
        id="b",
        content="Hotel rooms may cost at most 160 euros per night.",
        meta={"section": "Travel"},
    ),
]


def build(reply):
    return CitedAnswerBuilder().run(query="q", replies=[reply], documents=PACKED)["answers"][0]


def test_each_sentence_cites_its_support_renumbered_in_order_of_use():
    answer = build(
        "A hotel room costs at most 160 euros per night [1]. Breakfast is served until 10:00."
    )
    assert answer.data == (
        "A hotel room costs at most 160 euros per night [1]. Breakfast is served until 10:00 [2]."
    )
    assert [d.id for d in answer.documents] == ["b", "a"]
    assert answer.meta["supported"] is True


def test_an_unsupported_reply_becomes_an_abstention():
    answer = build("Paris is the capital of France.")
    assert answer.data == ABSTAIN and answer.documents == [] and answer.meta["supported"] is False
    assert answer.meta["reply"] == "Paris is the capital of France."


def test_a_reply_without_content_words_stands_on_the_best_passage():
    answer = build("It is.")
    assert answer.data == "It is [1]." and [d.id for d in answer.documents] == ["a"]


def test_no_passages_means_abstention_and_round_trip():
    answer = CitedAnswerBuilder().run(query="q", replies=["Anything."], documents=[])["answers"][0]
    assert answer.data == ABSTAIN
    assert round_trip(CitedAnswerBuilder(min_support=0.7))[0].min_support == 0.7


def test_numbers_with_dots_are_not_split_into_sentences():
    docs = [Document(content="The server listens on 127.0.0.1 and port 8000 by default.")]
    answer = CitedAnswerBuilder().run(
        query="q", replies=["It listens on 127.0.0.1."], documents=docs
    )
    assert answer["answers"][0].data == "It listens on 127.0.0.1 [1]."
