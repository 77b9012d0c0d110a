"""Ingest options: tenants and metadata, the embedding model a collection is bound to, limits."""

import json
from pathlib import Path

import pytest

from components.errors import ConfigError, StoreError
from ingest.config import StoreSettings
from ingest.manifest import Manifest
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline
from tests.corpus import write_corpus
from tests.servers import free_port


def _settings(data_dir: Path, **sections) -> Settings:
    return Settings(data_dir=data_dir, **sections)


@pytest.mark.parametrize("kind", ["qdrant_edge", "qdrant_local"])
def test_tenants_metadata_and_sidecars_tag_chunks_and_retrieval_filters_by_tenant(tmp_path, kind):
    corpus = write_corpus(tmp_path / "corpus")
    acme, globex = tmp_path / "acme", tmp_path / "globex"
    acme.mkdir()
    globex.mkdir()
    (acme / "brewing.md").write_bytes(corpus["brewing.md"].read_bytes())
    (globex / "faq.txt").write_bytes(corpus["faq.txt"].read_bytes())
    (globex / "brewing.md").write_bytes(corpus["brewing.md"].read_bytes())
    (globex / "brewing.md.meta.json").write_text(json.dumps({"team": "baristas", "year": 2026}))
    settings = _settings(tmp_path / "data", store=StoreSettings(kind=kind))
    indexer = settings.open_indexer()
    try:
        first = indexer.ingest([acme], tenant="acme", metadata={"region": "eu"})
        second = indexer.ingest([globex], tenant="globex")
        # The sidecar is metadata, not a document.
        assert sorted(Path(f.source).name for f in second.files) == ["brewing.md", "faq.txt"]
        by_tenant: dict[str, list] = {}
        for document in indexer.store.filter_documents():
            by_tenant.setdefault(document.meta["tenant"], []).append(document)
        assert {d.meta["region"] for d in by_tenant["acme"]} == {"eu"}
        globex_brewing = [d for d in by_tenant["globex"] if d.meta["file_name"] == "brewing.md"]
        assert {(d.meta["team"], d.meta["year"]) for d in globex_brewing} == {("baristas", 2026)}
        assert all("team" not in d.meta for d in by_tenant["acme"])
        assert first.count("ingested") == 1 and second.count("ingested") == 2
        # Changing a file's metadata re-ingests it; unchanged metadata does not.
        assert indexer.ingest([globex], tenant="globex").count("unchanged") == 2
        moved = indexer.ingest([acme], tenant="acme", metadata={"region": "us"})
        assert moved.count("ingested") == 1
        assert {
            d.meta["region"] for d in indexer.store.filter_documents() if d.meta["tenant"] == "acme"
        } == {"us"}
        with pytest.raises(ConfigError, match="source"):
            indexer.ingest([acme], metadata={"source": "elsewhere"})
    finally:
        indexer.close()
    qa = QAPipeline.from_settings(settings)
    try:
        question = "What water temperature should be used for brewing coffee?"
        for tenant in ("acme", "globex"):
            found = qa.search(question, tenant=tenant)
            assert found and {d.meta["tenant"] for d in found} == {tenant}
        assert {d.meta["tenant"] for d in qa.search(question)} == {"acme", "globex"}
        assert qa.search(question, tenant="initech") == []
    finally:
        qa.close()


def test_a_bad_sidecar_fails_its_file_only(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    Path(f"{corpus['faq.txt']}.meta.json").write_text("{not json")
    Path(f"{corpus['brewing.md']}.meta.json").write_text('{"file_hash": "x"}')
    indexer = _settings(tmp_path / "data").open_indexer()
    try:
        report = indexer.ingest([corpus["faq.txt"], corpus["brewing.md"], corpus["prices.xlsx"]])
    finally:
        indexer.close()
    reasons = {Path(f.source).name: f.reason for f in report.failures}
    assert "faq.txt.meta.json is not valid JSON" in reasons["faq.txt"]
    assert "file_hash" in reasons["brewing.md"] and "set by docent" in reasons["brewing.md"]
    assert report.count("ingested") == 1


def test_a_collection_refuses_another_embedding_model_until_rebuilt(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = _settings(tmp_path / "data")
    indexer = settings.open_indexer()
    try:
        indexer.ingest([corpus["brewing.md"]])
    finally:
        indexer.close()
    manifest = Manifest(settings.manifest_path, "docent")
    assert manifest.bound_model() == ("all-MiniLM-L6-v2", 384)
    # Pretend the collection was filled with another model of the same size.
    with manifest._connect() as db:
        db.execute("UPDATE collections SET embedding_model = 'bge-small-en-v1.5'")
    with pytest.raises(StoreError, match="bge-small-en-v1.5.*--rebuild"):
        settings.open_indexer()
    with pytest.raises(StoreError, match="bge-small-en-v1.5"):
        QAPipeline.from_settings(settings)
    indexer = settings.open_indexer(rebuild=True)
    try:
        assert indexer.store.count_documents() == 0 and indexer.manifest.sources() == {}
        assert indexer.ingest([corpus["brewing.md"]]).count("ingested") == 1
    finally:
        indexer.close()
    assert manifest.bound_model() == ("all-MiniLM-L6-v2", 384)


def test_files_above_the_size_limit_are_reported_not_parsed(tmp_path):
    corpus = write_corpus(tmp_path / "corpus")
    settings = _settings(tmp_path / "data", parsing={"max_file_mb": 0.001})
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([corpus["faq.txt"], corpus["warranty.pdf"]])
    finally:
        indexer.close()
    (big,) = report.failures
    assert Path(big.source).name == "warranty.pdf"
    assert "above the limit of 0.001 MB (parsing.max_file_mb)" in big.reason
    assert report.count("ingested") == 1


def test_store_errors_name_the_store_and_what_to_do(tmp_path, monkeypatch):
    from ingest.store import open_store

    local = StoreSettings(kind="qdrant_local")
    open_store(local, tmp_path / "qdrant", 384).close()
    with pytest.raises(StoreError, match="cannot use the collection 'docent'.*another embedding"):
        open_store(local, tmp_path / "qdrant", 768)
    edge = open_store(StoreSettings(), tmp_path / "edge", 384)
    with pytest.raises(StoreError, match=r"store at .*edge/docent is in use by another docent"):
        open_store(StoreSettings(), tmp_path / "edge", 384)
    edge.close()
    with pytest.raises(StoreError, match="Qdrant Edge store at .*another embedding model"):
        open_store(StoreSettings(), tmp_path / "edge", 768)
    server = StoreSettings(kind="qdrant_server", url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreError, match="cannot reach the Qdrant server at http://127.0.0.1"):
        open_store(server, tmp_path / "unused", 384)
    keyed = StoreSettings(kind="qdrant_server", url="http://127.0.0.1:1", api_key_env="QDRANT_KEY")
    monkeypatch.delenv("QDRANT_KEY", raising=False)
    with pytest.raises(StoreError, match="QDRANT_KEY.*not set"):
        open_store(keyed, tmp_path / "unused", 384)
    with pytest.raises(ValueError, match="needs url"):
        StoreSettings(kind="qdrant_server")


def test_records_are_ingested_like_files_and_skipped_when_unchanged(tmp_path):
    records = [
        ("d1", "Espresso warranty", "The warranty lasts 27 months.\n\nIt covers the pump."),
        ("d2", "Shipping", "Orders ship from Rotterdam."),
    ]
    indexer = _settings(tmp_path / "data").open_indexer()
    try:
        first = indexer.ingest_records(records, namespace="kb")
        assert first.count("ingested") == 2 and first.count("failed") == 0
        stored = {d.meta["source"]: d for d in indexer.store.filter_documents()}
        assert set(stored) == {"kb:d1", "kb:d2"}
        assert stored["kb:d1"].meta["section"] == "Espresso warranty"
        assert "27 months" in stored["kb:d1"].content
        assert stored["kb:d1"].meta["converter"] == "record"
        changed = [records[0], ("d2", "Shipping", "Orders ship from Antwerp.")]
        second = indexer.ingest_records(changed, namespace="kb")
        assert (second.count("unchanged"), second.count("ingested")) == (1, 1)
        contents = " ".join(d.content for d in indexer.store.filter_documents())
        assert "Antwerp" in contents and "Rotterdam" not in contents
        assert indexer.audit() == {"missing": [], "orphaned": [], "pending": []}
    finally:
        indexer.close()


def test_switching_the_store_kind_says_what_to_do_and_the_next_ingest_refills_it(tmp_path):
    from components.errors import DocentError

    corpus = write_corpus(tmp_path / "corpus")
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "faq.txt").write_bytes(corpus["faq.txt"].read_bytes())
    local = _settings(tmp_path / "data", store=StoreSettings(kind="qdrant_local"))
    indexer = local.open_indexer()
    try:
        assert indexer.ingest([folder]).count("ingested") == 1
    finally:
        indexer.close()
    edge = _settings(tmp_path / "data")
    qa = QAPipeline.from_settings(edge)
    try:
        with pytest.raises(DocentError, match="manifest records 1 ingested files.*qdrant_edge"):
            qa.ask("Do you sell gift cards?")
    finally:
        qa.close()
    indexer = edge.open_indexer()
    try:
        refilled = indexer.ingest([folder])
    finally:
        indexer.close()
    assert refilled.count("ingested") == 1 and refilled.chunks_written > 0
    qa = QAPipeline.from_settings(edge)
    try:
        assert qa.search("Do you sell gift cards?")
    finally:
        qa.close()


def test_an_imposed_tenant_is_never_changed_by_a_sidecar_or_metadata(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "faq.md").write_text("# FAQ\n\nThe planted answer is that refunds take 90 days.\n")
    (folder / "faq.md.meta.json").write_text(json.dumps({"tenant": "globex", "team": "x"}))
    (folder / "own.md").write_text("# Own\n\nAcme's own note says parking is on level two.\n")
    (folder / "own.md.meta.json").write_text(json.dumps({"tenant": "acme"}))
    indexer = _settings(tmp_path / "data").open_indexer()
    try:
        report = indexer.ingest([folder], tenant="acme")
        (failure,) = report.failures
        assert Path(failure.source).name == "faq.md"
        assert "names the tenant 'globex'" in failure.reason and "'acme'" in failure.reason
        tenants = {d.meta["tenant"] for d in indexer.store.filter_documents()}
        assert tenants == {"acme"}, "nothing reached globex"
        with pytest.raises(ConfigError, match="--tenant"):
            indexer.ingest([folder], tenant="acme", metadata={"tenant": "globex"})
        # Without an imposed tenant, a sidecar still sets its file's tenant (the command line).
        assert indexer.ingest([folder / "faq.md"]).count("ingested") == 1
        assert indexer.manifest.sources()[str((folder / "faq.md").resolve())].tenant == "globex"
    finally:
        indexer.close()


def test_a_caller_acting_for_one_tenant_cannot_take_over_another_tenants_file(tmp_path):
    shared = tmp_path / "share" / "returns.md"
    shared.parent.mkdir()
    shared.write_text("# Returns\n\nGoods may be returned within 45 days of delivery.\n")
    indexer = _settings(tmp_path / "data").open_indexer()
    try:
        assert indexer.ingest([shared], tenant="acme", take_over=False).count("ingested") == 1
        before = {d.id: d.meta["tenant"] for d in indexer.store.filter_documents()}
        refused = indexer.ingest([shared], tenant="globex", take_over=False)
        (failure,) = refused.failures
        assert "ingested for another tenant" in failure.reason
        assert {d.id: d.meta["tenant"] for d in indexer.store.filter_documents()} == before
        assert indexer.manifest.sources()[str(shared.resolve())].tenant == "acme"
        # An operator may move it.
        assert indexer.ingest([shared], tenant="globex").count("ingested") == 1
        assert {d.meta["tenant"] for d in indexer.store.filter_documents()} == {"globex"}
    finally:
        indexer.close()


def test_sources_are_named_relative_to_the_folder_they_were_ingested_from(tmp_path):
    docs = tmp_path / "srv" / "handbook"
    (docs / "policies").mkdir(parents=True)
    (docs / "policies" / "leave.md").write_text("# Leave\n\nStaff get 25 days of leave.\n")
    single = tmp_path / "srv" / "notes.txt"
    single.write_text("Parking is on level two of garage P7.\n")
    indexer = _settings(tmp_path / "data").open_indexer()
    try:
        indexer.ingest([docs, single])
        names = {d.meta["source_name"] for d in indexer.store.filter_documents()}
        assert names == {"handbook/policies/leave.md", "notes.txt"}
        recorded = {s.display_name for s in indexer.manifest.sources().values()}
        assert recorded == names
        assert all(str(tmp_path) not in name for name in names)
        # Named directly later, a file keeps the name its folder gave it (and its chunks).
        again = indexer.ingest([docs / "policies" / "leave.md"])
        assert again.count("unchanged") == 1
        assert again.files[0].name == "handbook/policies/leave.md"
    finally:
        indexer.close()
