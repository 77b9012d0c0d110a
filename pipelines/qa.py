"""The question-answering pipeline: hybrid retrieval, packing, generation, citations."""

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from haystack import Pipeline
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersTextEmbedder,
)
from haystack_integrations.components.retrievers.qdrant import QdrantHybridRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
from components.errors import DocentError
from components.generation.cited_answer_builder import ABSTAIN, CitedAnswerBuilder
from components.generation.context_packer import ContextPacker
from components.generation.llama_cpp_generator import LlamaCppGenerator
from components.retrieval.relevance_filter import RelevanceFilter
from components.shipped_models import embedding_dimension, embedding_model_path, gguf_model_path
from ingest.store import open_store
from pipelines import timing
from pipelines.config import Settings

SNIPPET_CHARS = 300
# A base model continues the pattern of the prompt; these end its answer.
STOP = ["\n", "Question:", "Context:"]


@dataclass
class Citation:
    """One source of an answer, numbered as in the answer text."""

    number: int
    source: str
    page: int | None
    section: str
    snippet: str
    score: float | None


@dataclass
class Answer:
    """An answer with its citations and the seconds spent in each stage."""

    question: str
    answer: str
    citations: list[Citation]
    supported: bool
    timings: dict[str, float] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


class QAPipeline:
    """Answers questions from a collection, citing the chunks the answer stands on.

    Retrieval fuses dense (MiniLM) and sparse (BM25) search with RRF in Qdrant; chunks below the
    relevance floor are dropped and, when none is left, docent says the documents do not say
    instead of generating. Otherwise the best chunks are packed into the generator's context
    window, the local model answers, and each sentence is cited to the chunk that supports it.

    Usage:
    ```python
    qa = QAPipeline.from_settings(load_settings())
    answer = qa.ask("How many days per week can employees work remotely?")
    print(answer.answer, answer.citations[0].source)
    ```
    """

    def __init__(self, settings: Settings, store: QdrantDocumentStore) -> None:
        """Build the pipelines over an open store; models load on `warm_up` or the first ask."""
        self.settings = settings
        self.store = store
        embedder_path = embedding_model_path(settings.embedding.model)
        gguf = gguf_model_path(settings.generator.model)
        gen = settings.generator
        self._retrieve = Pipeline()
        self._retrieve.add_component(
            "embed_dense",
            SentenceTransformersTextEmbedder(
                model=embedder_path,
                normalize_embeddings=True,
                progress_bar=False,
                local_files_only=True,
            ),
        )
        self._retrieve.add_component(
            "embed_sparse", Bm25SparseTextEmbedder(language=settings.sparse.language)
        )
        self._retrieve.add_component(
            "retrieve",
            QdrantHybridRetriever(
                document_store=store, top_k=settings.retrieval.top_k, return_embedding=True
            ),
        )
        self._retrieve.add_component(
            "filter",
            RelevanceFilter(
                min_similarity=settings.retrieval.min_similarity,
                max_gap=settings.retrieval.max_similarity_gap,
            ),
        )
        self._retrieve.add_component(
            "pack",
            ContextPacker(
                model_path=gguf,
                context_window=gen.context_window,
                max_new_tokens=gen.max_new_tokens,
            ),
        )
        self._retrieve.connect("embed_dense.embedding", "retrieve.query_embedding")
        self._retrieve.connect("embed_sparse.sparse_embedding", "retrieve.query_sparse_embedding")
        self._retrieve.connect("retrieve.documents", "filter.documents")
        self._retrieve.connect("embed_dense.embedding", "filter.query_embedding")
        self._retrieve.connect("filter.documents", "pack.documents")

        self._generate = Pipeline()
        self._generate.add_component(
            "generate",
            LlamaCppGenerator(
                model_path=gguf,
                context_window=gen.context_window,
                max_new_tokens=gen.max_new_tokens,
                temperature=gen.temperature,
                stop=STOP,
                threads=gen.threads,
            ),
        )
        self._generate.add_component("cite", CitedAnswerBuilder(language=settings.sparse.language))
        self._generate.connect("generate.replies", "cite.replies")

    @classmethod
    def from_settings(cls, settings: Settings) -> "QAPipeline":
        """Open the configured store and build the pipeline over it."""
        dim = embedding_dimension(embedding_model_path(settings.embedding.model))
        return cls(settings, open_store(settings.store, settings.store_path, dim))

    def warm_up(self) -> None:
        """Load every model now rather than on the first question."""
        self._retrieve.warm_up()
        self._generate.warm_up()

    def ask(self, question: str) -> Answer:
        """Answer `question` from the collection.

        Raises:
            DocentError: the question is empty, or nothing has been ingested yet.
        """
        question = question.strip()
        if not question:
            raise DocentError('the question is empty; ask something, e.g. docent ask "..."')
        if self.store.count_documents() == 0:
            raise DocentError(
                f"the collection {self.settings.store.collection!r} in {self.settings.store_path} "
                "is empty: ingest documents first with `docent ingest PATH`"
            )
        started = time.perf_counter()
        with timing.collect() as timings:
            retrieved = self._retrieve.run(
                {
                    "embed_dense": {"text": question},
                    "embed_sparse": {"text": question},
                    "pack": {"question": question},
                }
            )
            packed = retrieved["pack"]["documents"]
            if packed:
                generated = self._generate.run(
                    {
                        "generate": {"prompt": retrieved["pack"]["prompt"]},
                        "cite": {"query": question, "documents": packed},
                    },
                    include_outputs_from={"generate"},
                )
        timings = {name: round(seconds, 4) for name, seconds in timings.items()}
        timings["total"] = round(time.perf_counter() - started, 4)
        if not packed:
            return Answer(question, ABSTAIN, [], False, timings)
        answer = generated["cite"]["answers"][0]
        citations = [
            Citation(
                number=number,
                source=doc.meta.get("source", ""),
                page=doc.meta.get("page"),
                section=doc.meta.get("section", ""),
                snippet=(doc.content or "")[:SNIPPET_CHARS],
                score=doc.meta.get("similarity"),
            )
            for number, doc in enumerate(answer.documents, start=1)
        ]
        return Answer(
            question,
            answer.data,
            citations,
            answer.meta["supported"],
            timings,
            generated["generate"]["meta"][0],
        )

    def close(self) -> None:
        """Release the store (Qdrant local mode allows one open client per folder)."""
        self.store.close()
