"""BM25 sparse vectors: terms, weights and the two embedder components."""

import pytest
from haystack import Document

from components.embedding.bm25 import Bm25Encoder, term_index
from components.embedding.bm25_sparse_document_embedder import Bm25SparseDocumentEmbedder
from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
from tests.components.helpers import round_trip


def test_terms_are_stemmed_lower_case_without_stop_words():
    assert Bm25Encoder().terms("The Runners were running to the runs") == ["runner", "run", "run"]


def test_term_index_is_stable_across_processes():
    assert (
        term_index("password") == term_index("password") == 257632987
    )  # stored vectors depend on it: never change
    assert 0 <= term_index("anything") < 2**31


def test_document_weights_saturate_and_shrink_with_length():
    encoder = Bm25Encoder(k1=1.2, b=0.75, avg_doc_tokens=10)
    once = encoder.encode_document("password")
    many = encoder.encode_document("password " * 50)
    long = encoder.encode_document("password " + "filler " * 40)
    weight = dict(zip(once.indices, once.values, strict=True))[term_index("password")]
    weight_many = dict(zip(many.indices, many.values, strict=True))[term_index("password")]
    weight_long = dict(zip(long.indices, long.values, strict=True))[term_index("password")]
    assert weight < weight_many < 1.2 + 1
    assert weight_long < weight


def test_query_weights_are_one_per_distinct_term():
    query = Bm25Encoder().encode_query("password passwords length")
    assert sorted(query.indices) == sorted({term_index("password"), term_index("length")})
    assert query.values == [1.0, 1.0]


def test_document_embedder_counts_the_section_as_words():
    embedder = Bm25SparseDocumentEmbedder(meta_fields_to_embed=["section"])
    [document] = embedder.run(
        documents=[Document(content="Use 14 characters.", meta={"section": "Passwords"})]
    )["documents"]
    assert term_index("password") in document.sparse_embedding.indices
    restored, _ = round_trip(embedder)
    assert restored.meta_fields_to_embed == ["section"]


def test_text_embedder_and_its_round_trip():
    embedder = Bm25SparseTextEmbedder(language="german")
    vector = embedder.run(text="Die Häuser")["sparse_embedding"]
    assert vector.indices == [term_index("haus")]
    assert round_trip(embedder)[0].language == "german"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="language must be one of"):
        Bm25Encoder(language="klingon")
