"""The same files give the same vectors, however the ingest is parallelised and batched."""

from pathlib import Path

import pytest

from pipelines.config import Settings

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _vectors(data_dir: Path, workers: int, batch_size: int) -> dict[str, list[float]]:
    settings = Settings(
        data_dir=data_dir, parsing={"workers": workers}, embedding={"batch_size": batch_size}
    )
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([SAMPLES / "handbook", SAMPLES / "support"])
        assert report.count("failed") == 0, report.to_dict()
        return {d.id: d.embedding for d in indexer.store.filter_documents()}
    finally:
        indexer.close()


@pytest.mark.slow  # two ingests of the samples, one in two worker processes
def test_vectors_do_not_depend_on_workers_or_batch_size(tmp_path):
    assert Settings(data_dir=tmp_path).embedding.backend == "onnx-int8", "the default is tested"
    one = _vectors(tmp_path / "one", workers=1, batch_size=8)
    two = _vectors(tmp_path / "two", workers=2, batch_size=64)
    assert len(one) > 20
    assert one.keys() == two.keys()
    differing = [chunk for chunk in one if one[chunk] != two[chunk]]
    assert not differing, f"{len(differing)} of {len(one)} chunks got other vectors"
