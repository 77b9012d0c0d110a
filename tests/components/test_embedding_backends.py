"""One factory for the embedding backends: every backend's document and text embedders embed
a chunk (with its section) and a query alike, and agree with each other."""

import numpy as np
import pytest
from haystack import Document

from components.embedding.backends import document_embedder, text_embedder
from components.shipped_models import embedding_model_path

CHUNK = Document(content="Orders ship from Rotterdam.", meta={"section": "Shipping"})


@pytest.fixture(scope="module")
def model_path():
    return embedding_model_path("all-MiniLM-L6-v2")


def _vectors(model_path: str, backend: str) -> tuple[np.ndarray, np.ndarray]:
    documents = document_embedder(model_path, backend, meta_fields_to_embed=["section"])
    query = text_embedder(model_path, backend)
    documents.warm_up()
    query.warm_up()
    chunk = documents.run(documents=[CHUNK])["documents"][0].embedding
    text = query.run(text="Shipping\nOrders ship from Rotterdam.")["embedding"]
    return np.array(chunk), np.array(text)


@pytest.mark.slow  # loads torch and two ONNX exports: ~4 s
def test_every_backend_embeds_documents_and_queries_alike(model_path):
    torch_chunk, torch_text = _vectors(model_path, "torch")
    assert np.dot(torch_chunk, torch_text) > 0.9999, "the section is embedded before the text"
    onnx_chunk, onnx_text = _vectors(model_path, "onnx")
    assert np.dot(onnx_chunk, torch_chunk) > 0.9999 and np.dot(onnx_text, torch_text) > 0.9999
    int8_chunk, int8_text = _vectors(model_path, "onnx-int8")
    assert np.dot(int8_chunk, torch_chunk) > 0.97 and np.dot(int8_chunk, int8_text) > 0.9999
    assert abs(np.linalg.norm(int8_chunk) - 1) < 1e-4, "vectors are normalised"


def test_an_unknown_backend_is_refused(model_path):
    with pytest.raises(ValueError, match="backend must be one of torch, onnx, onnx-int8"):
        document_embedder(model_path, "tensorrt")
    with pytest.raises(ValueError, match="backend must be one of torch, onnx, onnx-int8"):
        text_embedder(model_path, "tensorrt")
