"""OnnxSentenceEncoder: the shipped MiniLM exported with torch's exporter, run by ONNX Runtime,
against the same model in sentence-transformers."""

import os
from pathlib import Path

import numpy as np
import pytest

from components.embedding.backends import sentence_encoder
from components.embedding.onnx_encoder import OnnxSentenceEncoder
from components.errors import ConfigError
from components.shipped_models import embedding_model_path

TEXTS = [
    "How long does the espresso machine warranty last?",
    "Orders ship from the Rotterdam warehouse within two working days.",
    "Brew with water at 94 degrees Celsius. " * 20,  # longer than most, in its own bucket
    "Hi",
]


@pytest.fixture(scope="module")
def model_path():
    return embedding_model_path("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def reference(model_path):
    return sentence_encoder(model_path).encode(TEXTS, normalize_embeddings=True)


@pytest.mark.parametrize(
    ("precision", "agreement"),
    # int8 exports the model and quantises it: ~3 s
    [("fp32", 0.9999), pytest.param("int8", 0.97, marks=pytest.mark.slow)],
)
def test_vectors_agree_with_sentence_transformers(
    model_path, reference, tmp_path_factory, precision, agreement
):
    cache = tmp_path_factory.mktemp("onnx")
    encoder = OnnxSentenceEncoder(
        model_path=model_path, cache_dir=str(cache), precision=precision, batch_size=2
    )
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > agreement, cosines
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # One text alone gets the vector it gets among others (padding does not leak in); int8
    # scales activations per batch, so there it is only nearly the same.
    alone = encoder.encode([TEXTS[3]])[0]
    if precision == "fp32":
        assert np.allclose(alone, vectors[3], atol=1e-5)
    else:
        assert float(alone @ vectors[3]) > 0.97
    exported = encoder.exported_path()
    assert f"-{precision}" in exported.name and exported.suffix == ".onnx"
    stamp = exported.stat().st_mtime_ns
    again = OnnxSentenceEncoder(model_path=model_path, cache_dir=str(cache), precision=precision)
    again.warm_up()
    assert again.exported_path().stat().st_mtime_ns == stamp, "the export is reused"
    assert not list(Path(cache).glob("*.part")), "no partial files are left"
    assert encoder.encode([]).shape == (0, 384)


def test_batches_hold_at_most_max_tokens_padded_tokens(model_path, tmp_path):
    """Sorted by length and cut by a budget of padded tokens: the long text goes alone, the
    short ones together, and the vectors do not depend on how the texts were grouped."""
    encoder = OnnxSentenceEncoder(
        model_path=model_path, cache_dir=str(tmp_path), batch_size=8, max_tokens=64
    )
    encoder.warm_up()
    session, shapes = encoder._session, []

    class Recorder:
        def get_outputs(self):
            return session.get_outputs()

        def run(self, outputs, feeds):
            shapes.append(feeds["input_ids"].shape)
            return session.run(outputs, feeds)

    encoder._session = Recorder()
    grouped = encoder.encode(TEXTS)
    assert sum(rows for rows, _ in shapes) == len(TEXTS)
    assert all(rows * width <= 64 or rows == 1 for rows, width in shapes), shapes
    assert shapes[-1][0] == 1 and shapes[-1][1] > 64, "the long text goes alone"
    assert shapes[0][0] == 3, "the three short texts go together"
    encoder.max_tokens = 10**6
    assert np.allclose(encoder.encode(TEXTS), grouped, atol=1e-5)
    with pytest.raises(ValueError, match="max_tokens"):
        OnnxSentenceEncoder(model_path=model_path, cache_dir=str(tmp_path), max_tokens=0)


def test_the_export_masks_attention_without_where_over_the_scores(model_path, tmp_path):
    """Eager attention adds the mask once per layer; the exported default attention put Where
    and IsNaN over every score, a fifth of the run time."""
    import onnx

    exported = OnnxSentenceEncoder(model_path=model_path, cache_dir=str(tmp_path)).exported_path()
    ops = [node.op_type for node in onnx.load(str(exported)).graph.node]
    assert ops.count("Softmax") == 6 and "IsNaN" not in ops and ops.count("Where") <= 2


def test_other_poolings_and_bad_settings_are_refused(model_path, tmp_path):
    folder = tmp_path / "cls-model"
    folder.mkdir()
    for item in Path(model_path).iterdir():
        if item.name != "1_Pooling":
            os.symlink(item, folder / item.name)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        '{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}'
    )
    with pytest.raises(ConfigError, match="mean-pooling models only"):
        OnnxSentenceEncoder(model_path=str(folder), cache_dir=str(tmp_path)).warm_up()
    with pytest.raises(ValueError, match="precision"):
        OnnxSentenceEncoder(model_path=model_path, cache_dir=str(tmp_path), precision="fp16")


def test_the_embedders_serialise_and_embed_like_sentence_transformers(model_path, tmp_path):
    from haystack import Document

    from components.embedding.onnx_embedders import OnnxDocumentEmbedder, OnnxTextEmbedder
    from tests.components.helpers import round_trip

    documents = OnnxDocumentEmbedder(
        model=model_path, cache_dir=str(tmp_path), meta_fields_to_embed=["section"]
    ).run(documents=[Document(content="Orders ship from Rotterdam.", meta={"section": "Ship"})])
    expected = sentence_encoder(model_path).encode(
        ["Ship\nOrders ship from Rotterdam."], normalize_embeddings=True
    )[0]
    assert np.dot(documents["documents"][0].embedding, expected) > 0.9999
    query = OnnxTextEmbedder(model=model_path, cache_dir=str(tmp_path)).run(text="Hi")
    assert len(query["embedding"]) == 384
    restored, data = round_trip(OnnxTextEmbedder(model=model_path, cache_dir=str(tmp_path)))
    assert restored.precision == "fp32" and data["init_parameters"]["cache_dir"] == str(tmp_path)


def test_the_shared_encoder_runs_each_backend_behind_one_signature(model_path, reference):
    """The components that share the process's encoder (intent, verification) get the
    configured backend with SentenceTransformer's `encode` arguments."""
    onnx = sentence_encoder(model_path, "onnx")
    assert sentence_encoder(model_path, "onnx") is onnx, "one per model and backend"
    assert sentence_encoder(model_path) is not onnx
    vectors = onnx.encode(
        TEXTS,
        batch_size=3,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    assert (vectors * reference).sum(axis=1).min() > 0.9999
    quantised = sentence_encoder(model_path, "onnx-int8").encode(TEXTS, normalize_embeddings=True)
    assert (quantised * reference).sum(axis=1).min() > 0.97
    with pytest.raises(ValueError, match="backend must be one of torch, onnx, onnx-int8"):
        sentence_encoder(model_path, "tensorrt")
