"""`docent serve` stays up: request limits, fair turns between keys, ingest apart from
questions, streams that end at once on a failure, and uploads that survive a restart. Over
real HTTP on loopback, with the real models and store."""

import threading
import time
from pathlib import Path

import httpx
import pytest

from pipelines.service.keys import KeyStore
from tests.servers import running_app

REPO = Path(__file__).resolve().parents[3]
QUESTION = "How many days per week can employees work remotely?"


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def open_app(data_dir: Path, keys: KeyStore | None = None, **service):
    """An app over the store in `data_dir`, its service section set to `service`."""
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app

    settings = Settings(data_dir=data_dir, service=service)
    return create_app(
        lambda: QAPipeline.from_settings(settings), keys=keys, open_access=keys is None
    )


def ingest_handbook(data: Path) -> Path:
    """The handbook samples ingested into the data directory `data`."""
    from pipelines.config import Settings

    indexer = Settings(data_dir=data).open_indexer()
    try:
        indexer.ingest([REPO / "samples" / "handbook"])
    finally:
        indexer.close()
    return data


@pytest.fixture(scope="module")
def handbook(tmp_path_factory):
    """The handbook samples ingested into a data directory of this module."""
    return ingest_handbook(tmp_path_factory.mktemp("limits") / "data")


@pytest.fixture(scope="module")
def served(handbook):
    """The service over the handbook with three keys: two that ask, one that uploads."""
    store = KeyStore(handbook / "keys.sqlite")
    keys = {
        name: store.create(name, scopes, None)[1]
        for name, scopes in (("flood", ["ask"]), ("calm", ["ask"]), ("uploader", ["ingest"]))
    }
    with running_app(open_app(handbook, store, max_body_kb=64, max_upload_mb=1)) as base:
        yield base, keys, handbook


def test_one_key_cannot_starve_another(served):
    base, keys, _ = served
    results: dict[str, list] = {"flood": [], "calm": []}

    def ask(name):
        response = httpx.post(
            f"{base}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": QUESTION}]},
            headers=bearer(keys[name]),
            timeout=300,
        )
        results[name].append((time.monotonic(), response))

    flood = [threading.Thread(target=ask, args=("flood",)) for _ in range(12)]
    for thread in flood:
        thread.start()
    time.sleep(0.5)
    ask("calm")
    for thread in flood:
        thread.join()
    ((calm_done, calm),) = results["calm"]
    assert calm.status_code == 200, calm.text
    refused = [r for _, r in results["flood"] if r.status_code == 429]
    answered = sorted(t for t, r in results["flood"] if r.status_code == 200)
    # The flooding key holds one answer and its share of the queue (4 of 8); the rest wait
    # for nothing (an answer that ends while the flood still arrives frees a place, so more
    # than 5 may be answered on a slow machine). The other key's question is answered in its
    # turn, before the flood's last.
    assert len(answered) + len(refused) == 12
    assert len(answered) >= 5 and len(refused) >= 1
    assert all("max_waiting_per_key" in r.json()["detail"] for r in refused)
    assert all(r.headers["retry-after"] == "2" for r in refused)
    assert calm_done < answered[-1]


def test_every_endpoint_caps_what_a_request_may_carry(served):
    base, keys, _ = served
    key = bearer(keys["calm"])
    long_question = {"messages": [{"role": "user", "content": "x" * 5000}]}
    too_long = httpx.post(f"{base}/v1/chat/completions", json=long_question, headers=key)
    assert too_long.status_code == 422 and "at most 4,000" in too_long.text
    many = {"messages": [{"role": "user", "content": "hi"}] * 65}
    assert httpx.post(f"{base}/v1/chat/completions", json=many, headers=key).status_code == 422
    huge = {"messages": [{"role": "system", "content": "x" * (10 << 20)}]}
    refused = httpx.post(f"{base}/v1/chat/completions", json=huge, headers=key, timeout=60)
    assert refused.status_code == 413 and "service.max_body_kb" in refused.json()["detail"]

    def chunks(total, size=16384):
        for _ in range(total // size):
            yield b"x" * size

    # A body sent in chunks, with no length declared, is counted as it arrives.
    chunked = httpx.post(
        f"{base}/v1/ask",
        content=chunks(1 << 20),
        headers={**key, "content-type": "application/json"},
        timeout=60,
    )
    assert chunked.status_code == 413 and "service.max_body_kb" in chunked.json()["detail"]


def test_an_upload_over_the_limit_is_refused_while_it_arrives(served):
    base, keys, data = served
    boundary = "docentboundary"

    def multipart():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            'filename="big.md"\r\nContent-Type: text/markdown\r\n\r\n'
        ).encode()
        for _ in range(300):  # 4.8 MB, above the limit of 1 MB (plus 1 MB of framing)
            yield b"# Big\n\n" + b"word " * 3275
        yield f"\r\n--{boundary}--\r\n".encode()

    refused = httpx.post(
        f"{base}/v1/documents",
        content=multipart(),
        headers={
            **bearer(keys["uploader"]),
            "content-type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=60,
    )
    assert refused.status_code == 413 and "service.max_upload_mb" in refused.json()["detail"]
    assert not list((data / "uploads").rglob("big.md"))


def test_a_failure_inside_a_stream_ends_it_at_once_and_is_counted(qa):
    from openai import APIError, OpenAI

    from pipelines.service.app import create_app

    class Broken:
        """The session's pipeline, with a fault docent does not expect."""

        def __getattr__(self, name):
            return getattr(qa, name)

        def ask(self, question, **kwargs):
            raise RuntimeError("the reranker fell over")

        def close(self):
            pass

    app = create_app(lambda: Broken(), request_timeout=300, open_access=True)
    with running_app(app) as base:
        # Far below the request timeout: a stream that waited for it would fail the test.
        client = OpenAI(base_url=f"{base}/v1", api_key="unused", timeout=30, max_retries=0)
        stream = client.chat.completions.create(
            model="docent", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
        with pytest.raises(APIError, match="RuntimeError"):
            list(stream)
        whole = httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=30)
        assert whole.status_code == 500 and "RuntimeError" in whole.json()["detail"]
        assert "reranker" not in whole.text, "internals stay in the server's log"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'docent_failures_total{where="stream"} 1.0' in metrics
        assert 'docent_failures_total{where="model"} 1.0' in metrics


def test_an_ingest_job_never_holds_up_questions(tmp_path):
    """A ZIP bomb that passes the upload checks (they are turned off here) is parsed in a
    worker process under its memory limit, while searches go on being answered."""
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app
    from tests.corpus import write_zip_bomb

    data = ingest_handbook(tmp_path / "data")
    bomb = write_zip_bomb(tmp_path / "bomb.docx", megabytes=300)
    settings = Settings(
        data_dir=data,
        parsing={"max_unzipped_mb": 100_000, "max_zip_ratio": 1e9, "workers": 1},
        service={"max_upload_mb": 5},
    )
    app = create_app(lambda: QAPipeline.from_settings(settings), open_access=True)
    with running_app(app) as base:
        job = httpx.post(
            f"{base}/v1/documents", files={"files": ("bomb.docx", bomb.read_bytes())}, timeout=60
        ).json()
        answered_while_ingesting = 0
        while True:
            found = httpx.post(f"{base}/v1/search", json={"question": QUESTION}, timeout=60)
            assert found.status_code == 200 and "three days" in found.text
            state = httpx.get(f"{base}/v1/jobs/{job['id']}").json()
            if state["status"] in ("done", "failed"):
                break
            answered_while_ingesting += 1
            time.sleep(0.2)
    assert answered_while_ingesting >= 5, "searches were answered while the bomb was parsed"
    assert state["status"] == "failed" and state["files"] == ["bomb.docx"]
    assert state["summary"]["failures"][0]["name"] == "bomb.docx"


def test_a_refused_upload_leaves_nothing_and_accepted_ones_survive_a_restart(tmp_path):
    import shutil

    data, killed = tmp_path / "data", tmp_path / "killed"
    app = open_app(data, max_ingest_jobs=1)
    release = threading.Event()
    with running_app(app) as base:
        desk = app.state.service.desks["ingest"]
        desk.submit("another key", release.wait)  # holds the one ingest worker
        page = b"# Parking\n\nVisitors park in garage P7 on level two.\n"
        queued = httpx.post(f"{base}/v1/documents", files={"files": ("parking.md", page)})
        assert queued.status_code == 202, queued.text
        refused = httpx.post(f"{base}/v1/documents", files={"files": ("late.md", page)})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
        assert not list(data.rglob("late.md")), "a refused upload is not kept"
        # What a server killed now leaves on disk: the job recorded, its file staged.
        shutil.copytree(data, killed)
        release.set()
    shutil.rmtree(data)
    shutil.copytree(killed, data)
    uploads = data / "uploads" / "_shared"
    assert not (uploads / "parking.md").exists()
    job_id = queued.json()["id"]
    with running_app(open_app(data)) as base:
        for _ in range(600):
            state = httpx.get(f"{base}/v1/jobs/{job_id}").json()
            if state["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert state["status"] == "done", state
        found = httpx.post(f"{base}/v1/search", json={"question": "Where do visitors park?"})
        assert "P7" in found.json()["passages"][0]["text"]
        assert found.json()["passages"][0]["source"] == "parking.md"
    assert (uploads / "parking.md").exists()
    assert not any((data / "uploads" / ".incoming").iterdir()), "nothing left staged"
