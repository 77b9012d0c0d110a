"""StructureChunker with the real MiniLM tokenizer."""

import itertools

import pytest
from haystack import Document

from components.chunking.structure_chunker import StructureChunker
from components.shipped_models import embedding_model_path
from tests.components.helpers import round_trip


@pytest.fixture(scope="module")
def chunker():
    chunker = StructureChunker(
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"), max_tokens=60, overlap_tokens=20
    )
    chunker.warm_up()
    return chunker


def element(text, category="NarrativeText", index=0, **meta):
    return Document(
        content=text,
        meta={
            "source": "/docs/a.md",
            "file_type": "md",
            "category": category,
            "element_index": index,
            **meta,
        },
    )


def sentences(n, start=0):
    return " ".join(
        f"Sentence number {i} tells about topic {i} in detail." for i in range(start, start + n)
    )


def test_titles_open_chunks_and_name_their_sections(chunker):
    chunks = chunker.run(
        documents=[
            element("Guide", "Title", 0, title_depth=0),
            element("Setup", "Title", 1, title_depth=1),
            element("Install it.", index=2),
            element("Usage", "Title", 3, title_depth=1),
            element("Run it.", index=4),
        ]
    )["documents"]
    assert [c.content for c in chunks] == ["Guide\nSetup\nInstall it.", "Usage\nRun it."]
    assert [c.meta["section"] for c in chunks] == ["Guide > Setup", "Guide > Usage"]
    assert [c.meta["chunk_index"] for c in chunks] == [0, 1]


def test_long_sections_are_split_within_budget_with_overlap(chunker):
    chunks = chunker.run(
        documents=[
            element("Topic", "Title", 0, title_depth=0),
            *[element(sentences(2, 2 * i), index=i + 1) for i in range(8)],
        ]
    )["documents"]
    assert len(chunks) > 2
    assert all(c.meta["tokens"] <= 60 for c in chunks)
    for before, after in itertools.pairwise(chunks):
        # the next chunk starts with the last element of the previous one
        assert after.content.split("\n")[0] == before.content.split("\n")[-1]
    text = "\n".join(c.content for c in chunks)
    assert all(f"number {i} " in text for i in range(16))


def test_an_element_longer_than_the_budget_is_cut_at_sentences_then_tokens(chunker):
    run_on = "word " * 150
    chunks = chunker.run(documents=[element(sentences(12)), element(run_on, index=1)])["documents"]
    assert all(c.meta["tokens"] <= 60 for c in chunks)
    assert sum(c.content.count("word") for c in chunks) >= 150


def test_wrapped_pdf_lines_are_joined_into_one_paragraph(chunker):
    chunks = chunker.run(
        documents=[
            element("Orders are shipped", index=0),
            element("within two days.", index=1),
            element("Returns are free.", index=2),
        ]
    )["documents"]
    assert chunks[0].content == "Orders are shipped within two days.\nReturns are free."


def test_ids_are_deterministic_and_depend_on_content(chunker):
    docs = [element("Guide", "Title", 0, title_depth=0), element("Install it.", index=1)]
    first = chunker.run(documents=docs)["documents"]
    again = chunker.run(documents=docs)["documents"]
    changed = chunker.run(documents=[docs[0], element("Install it now.", index=1)])["documents"]
    assert [c.id for c in first] == [c.id for c in again]
    assert first[0].id != changed[0].id


def test_page_furniture_is_dropped_and_pages_kept(chunker):
    chunks = chunker.run(
        documents=[
            element("Page 3", "PageNumber", 0, page_number=3),
            element("Body text.", index=1, page_number=3),
        ]
    )["documents"]
    assert chunks[0].content == "Body text." and chunks[0].meta["page"] == 3


def test_round_trip_and_validation():
    restored, _ = round_trip(StructureChunker(tokenizer="x", max_tokens=100, overlap_tokens=10))
    assert (restored.tokenizer, restored.max_tokens, restored.overlap_tokens) == ("x", 100, 10)
    with pytest.raises(ValueError, match="overlap_tokens"):
        StructureChunker(tokenizer="x", max_tokens=100, overlap_tokens=50)
