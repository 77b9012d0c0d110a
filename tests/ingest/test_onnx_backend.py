"""The ONNX embedding backends end to end: ingest, re-ingest, and a cited answer."""

from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline

FAQ = "# Shipping\n\nOrders ship from the Rotterdam warehouse within two working days.\n"


def test_ingest_and_ask_with_the_quantised_onnx_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "shipping.md").write_text(FAQ)
    torch = Settings(data_dir=tmp_path / "data", embedding={"backend": "torch"})
    fp32 = Settings(data_dir=tmp_path / "data", embedding={"backend": "onnx"})
    onnx = Settings(data_dir=tmp_path / "data", embedding={"backend": "onnx-int8"})
    runs = [(torch, "ingested"), (fp32, "unchanged"), (onnx, "ingested"), (onnx, "unchanged")]
    for settings, expected in runs:
        indexer = settings.open_indexer()
        try:
            report = indexer.ingest([tmp_path / "docs"])
        finally:
            indexer.close()
        # ONNX fp32 gives torch's vectors, so switching to it keeps them; switching to int8
        # vectors re-embeds; the same settings again embed nothing.
        assert report.count(expected) == 1, report.to_dict()
    assert list((tmp_path / "cache" / "docent" / "models").glob("*-int8-per-channel.onnx"))
    qa = QAPipeline.from_settings(onnx)
    try:
        answer = qa.ask("Which warehouse do orders ship from?")
        [chunk] = qa.store.filter_documents()
    finally:
        qa.close()
    assert answer.decision == "pass" and "Rotterdam" in answer.answer
    assert answer.citations[0].source.endswith("shipping.md")
    assert "embed_dense" in answer.timings and len(chunk.embedding) == 384
