"""What several benchmarks share: quantiles, an embedding backend's encode-only limit, and a
100,000-text corpus of public data sets."""

import csv
import json
import re
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
TENANTS = 100


def percentile(values: list[float], q: float) -> float:
    """The q-quantile of `values` (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def encode_only(settings, texts: list[str]) -> tuple[float, int]:
    """Texts per second of the backend's encoder alone on `texts`, at its best batch size."""
    from components.embedding.backends import sentence_encoder
    from components.shipped_models import embedding_model_path

    encoder = sentence_encoder(
        embedding_model_path(settings.embedding.model), settings.embedding.backend
    )
    speeds = {}
    for size in (16, 32, 64):
        started = time.perf_counter()
        encoder.encode(texts[:256], batch_size=size, normalize_embeddings=True)
        speeds[size] = min(256, len(texts)) / (time.perf_counter() - started)
    best = max(speeds, key=speeds.get)
    started = time.perf_counter()
    encoder.encode(texts, batch_size=best, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started), best


def large_corpus(data: Path, size: int) -> list[tuple[str, str]]:
    """`size` texts as (source, text), real and varied: SciFact abstracts and their
    sentences, CLINC150 and Banking77 utterances, FastAPI documentation paragraphs,
    FaithBench sources and summaries, then two-sentence windows of SciFact abstracts; each
    text once (the first time it appears).

    Raises:
        SystemExit: the data sets hold fewer than `size` texts.
    """
    abstracts = [json.loads(line) for line in (data / "scifact" / "corpus.jsonl").open()]
    texts: list[tuple[str, str]] = []
    texts += [(f"scifact/{a['_id']}", f"{a['title']}\n{a['text']}") for a in abstracts]
    for a in abstracts:
        texts += [(f"scifact/{a['_id']}", s) for s in SENTENCE_END.split(a["text"]) if s]
    clinc = json.loads((data / "clinc150" / "clinc150_dev.json").read_text())
    texts += [(f"clinc150/{split}", t) for split, rows in clinc.items() for t, _ in rows]
    with (data / "banking77" / "train.csv").open() as f:
        texts += [("banking77", row["text"]) for row in csv.DictReader(f)]
    for page in sorted((data / "fastapi_docs").rglob("*.md")):
        paragraphs = page.read_text(errors="replace").split("\n\n")
        texts += [(f"fastapi/{page.name}", p) for p in paragraphs if len(p.strip()) > 40]
    for batch in sorted((data / "faithbench").glob("batch_*.json")):
        for sample in json.loads(batch.read_text())["samples"]:
            texts += [(f"faithbench/{batch.stem}", sample["source"][:2000])]
            texts += [(f"faithbench/{batch.stem}", sample["summary"])]
    for a in abstracts:
        sentences = [s for s in SENTENCE_END.split(a["text"]) if s]
        pairs = zip(sentences, sentences[1:], strict=False)
        texts += [(f"scifact/{a['_id']}", f"{first} {second}") for first, second in pairs]
    seen: set[str] = set()
    unique = [(s, t) for s, t in texts if not (t.strip() in seen or seen.add(t.strip()))]
    if len(unique) < size:
        raise SystemExit(f"the data sets in {data} hold {len(unique)} texts, fewer than {size}")
    return unique[:size]


def questions(data: Path, count: int) -> list[str]:
    """`count` questions not in the corpus: SciFact claims and XQuAD questions, alternating."""
    claims = [json.loads(line)["text"] for line in (data / "scifact" / "queries.jsonl").open()]
    squad = json.loads((data / "xquad_en" / "squad_v1.json").read_text())
    asked = [
        qa["question"]
        for article in squad["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    mixed = [q for pair in zip(claims, asked, strict=False) for q in pair]
    return mixed[:count]


def embedded(texts: list[str], cache: Path, name: str) -> np.ndarray:
    """The texts' MiniLM vectors (ONNX int8, normalised), cached as `cache/name.npy`."""
    from components.embedding.onnx_encoder import OnnxSentenceEncoder
    from components.shipped_models import embedding_model_path, model_cache

    target = cache / f"{name}.npy"
    if target.exists():
        vectors = np.load(target)
        if len(vectors) == len(texts):
            return vectors
    encoder = OnnxSentenceEncoder(
        model_path=embedding_model_path("all-MiniLM-L6-v2"),
        cache_dir=str(model_cache()),
        precision="int8",
    )
    encoder.warm_up()
    parts, started, step = [], time.perf_counter(), 5000
    for start in range(0, len(texts), step):
        parts.append(encoder.encode(texts[start : start + step]))
        done = start + len(parts[-1])
        rate = done / (time.perf_counter() - started)
        print(f"  embedded {done:,}/{len(texts):,} {name} ({rate:.0f}/s)", flush=True)
    vectors = np.concatenate(parts).astype(np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(target, vectors)
    return vectors


def documents(texts, vectors, encoder):
    """Haystack documents as docent ingests them: dense and sparse vectors, source, and a
    tenant of `TENANTS` in turn."""
    from haystack import Document

    return [
        Document(
            content=text,
            meta={"source": source, "tenant": f"t{i % TENANTS}"},
            embedding=vector.tolist(),
            sparse_embedding=encoder.encode_document(text),
        )
        for i, ((source, text), vector) in enumerate(zip(texts, vectors, strict=True))
    ]
