"""SentenceSelector with the shipped MiniLM: the answering sentence, reading order, metadata."""

import pytest
from haystack import Document

from components.generation.sentence_selector import SentenceSelector
from components.shipped_models import embedding_model_path
from tests.components.helpers import round_trip

LEAVE = Document(
    content="Annual leave\nFull-time employees receive 28 days of paid annual leave per "
    "calendar year. Part-time employees receive a share in proportion to their hours.\n"
    "Leave requests go through the HR portal.",
    meta={"source": "/docs/leave.md", "section": "Leave Policy > Annual leave", "page": 2},
)
TRAVEL = Document(
    content="Hotel rooms may cost at most 160 euros per night. To book a trip, run:\n"
    "travel book --from BER --to MUC",
    meta={"source": "/docs/travel.md", "section": "Travel"},
)


@pytest.fixture(scope="module")
def selector():
    selector = SentenceSelector(model=embedding_model_path("all-MiniLM-L6-v2"), top_k=2)
    selector.warm_up()
    return selector


def test_the_sentence_that_answers_comes_first_with_its_chunks_metadata(selector):
    found = selector.run(
        question="How many days of paid leave do full-time staff get?",
        documents=[TRAVEL, LEAVE],
        top_k=1,
    )["documents"]
    assert [d.content for d in found] == [
        "Full-time employees receive 28 days of paid annual leave per calendar year."
    ]
    best = found[0]
    assert best.id == LEAVE.id and best.meta["source"] == "/docs/leave.md"
    assert best.meta["page"] == 2 and best.meta["chunk_rank"] == 1
    assert isinstance(best.meta["sentence_score"], float)


def test_sentences_come_in_reading_order_without_title_lines(selector):
    found = selector.run(question="annual leave days and hotel costs", documents=[LEAVE, TRAVEL])
    ranks = [(d.meta["chunk_rank"], d.meta["sentence_index"]) for d in found["documents"]]
    assert ranks == sorted(ranks) and len(ranks) == 2
    assert all(d.content != "Annual leave" for d in found["documents"])


def test_a_sentence_ending_with_a_colon_brings_the_line_it_introduces(selector):
    found = selector.run(question="How do I book a trip?", documents=[TRAVEL], top_k=1)
    assert found["documents"][0].content == "To book a trip, run:"
    assert found["documents"][0].meta["next"] == "travel book --from BER --to MUC"


def test_documents_without_a_sentence_come_back_unchanged(selector):
    short = [Document(content="Hi"), Document(content="")]
    assert selector.run(question="anything", documents=short)["documents"] == short


def test_round_trip_and_checked_arguments():
    selector = SentenceSelector(model="m", top_k=3, rank_penalty=0.1)
    copy, data = round_trip(selector)
    assert data["init_parameters"]["top_k"] == 3 and copy.rank_penalty == 0.1
    for argument in ({"top_k": 0}, {"rank_penalty": -1}, {"min_words": 0}, {"backend": "x"}):
        with pytest.raises(ValueError):
            SentenceSelector(model="m", **argument)


def test_a_lead_in_brings_the_code_block_the_parser_kept_after_it(selector):
    guide = Document(
        content="Background tasks\nTo run a function after the response, call add_task:\n"
        '@app.post("/send")\ndef send(tasks: BackgroundTasks):\n    tasks.add_task(log)\n'
        "The task runs after the response is sent.",
        meta={"section": "Background tasks"},
    )
    found = selector.run(question="How do I run a function after the response?", documents=[guide])
    lead = next(d for d in found["documents"] if d.content.endswith("call add_task:"))
    assert lead.meta["next"] == (
        '@app.post("/send")\ndef send(tasks: BackgroundTasks):\n    tasks.add_task(log)'
    )
