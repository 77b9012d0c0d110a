"""Ragas' metrics, scored per item.

Offline (no LLM): ROUGE-L, string similarity and semantic similarity (the local embedding
model) of the answer to the reference, and context recall and precision of what was retrieved
against the reference contexts. With a judge model: faithfulness, response relevancy, and
LLM-judged context precision and recall, through Ragas' own prompts. The judge is any model
of the registry; `RagasJudge` hands Ragas' output schema to it, so a local model (or a
llama.cpp server) decodes under a grammar built from the schema and never returns JSON that
Ragas cannot parse.
"""

import asyncio
import math
import os
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

from ragas.embeddings.base import BaseRagasEmbedding  # noqa: E402
from ragas.llms.base import InstructorBaseRagasLLM  # noqa: E402

from evaluation.config import JUDGE_NEEDS  # noqa: E402

# docent's metric name -> Ragas' metric class name (in ragas.metrics).
ANSWER_METRICS = {"rouge_l": "RougeScore", "string_similarity": "NonLLMStringSimilarity"}
CONTEXT_METRICS = {
    "context_recall": "NonLLMContextRecall",
    "context_precision": "NonLLMContextPrecisionWithReference",
}

# complete(prompt, json_schema) -> the parsed JSON value of the judge's reply.
Complete = Callable[[str, dict[str, Any]], Any]


@cache
def _metric(name: str) -> Any:
    import ragas.metrics

    return getattr(ragas.metrics, name)()


class RagasJudge(InstructorBaseRagasLLM):
    """A Ragas LLM that answers through docent's model chain with schema-constrained output.

    Ragas asks for a pydantic model; its JSON schema goes to `complete`, which decodes under
    a grammar (local and llama.cpp models) or `response_format` (other endpoints), and the
    reply is validated into the model. Calls are serialised: an in-process model serves one
    request at a time.
    """

    def __init__(self, complete: Complete, max_new_tokens: int = 1024) -> None:
        """Answer with `complete(prompt, json_schema)`, which returns the parsed JSON value.

        :param max_new_tokens: the judge's reply limit; strings and lists in the schema are
            bounded so that a reply fits in it.
        """
        self.complete = complete
        # A weak judge may write one digit or letter a token: bound the worst case.
        self.max_items = max(1, min(8, max_new_tokens // 96))
        room = (max_new_tokens - 16 * self.max_items) // (2 * self.max_items)
        self.max_chars = max(16, min(240, room))
        self.calls = 0
        self._lock = threading.Lock()

    def generate(self, prompt: str, response_model: Any) -> Any:
        """The judge's reply to `prompt`, as an instance of `response_model`."""
        schema = bounded_schema(response_model.model_json_schema(), self.max_chars, self.max_items)
        with self._lock:
            self.calls += 1
            value = self.complete(prompt, schema)
        return response_model.model_validate(value)

    async def agenerate(self, prompt: str, response_model: Any) -> Any:
        """`generate` off the event loop."""
        return await asyncio.to_thread(self.generate, prompt, response_model)


def bounded_schema(schema: Any, max_chars: int = 240, max_items: int = 8) -> Any:
    """`schema` with every string at most `max_chars` long and every array of 1 to
    `max_items` items, unless it sets its own bounds, and Ragas' integer verdicts 0 or 1.

    A small model under a grammar can otherwise write one string until its token limit and
    leave the JSON unterminated, or answer with an empty list that Ragas scores as NaN; with
    bounds, the grammar closes every value in time. (Every list Ragas asks for, statements,
    verdicts, questions or classifications, has at least one item for a non-empty input.)
    """
    if isinstance(schema, list):
        return [bounded_schema(s, max_chars, max_items) for s in schema]
    if not isinstance(schema, dict):
        return schema
    bounded = {k: bounded_schema(v, max_chars, max_items) for k, v in schema.items()}
    verdict = bounded.get("properties", {}).get("verdict")
    if verdict is not None and verdict.get("type") == "integer":
        # Ragas' verdicts are 1 (yes) or 0 (no); a free integer lets a weak judge count up.
        bounded["properties"]["verdict"] = {**verdict, "enum": [0, 1]}
    if bounded.get("type") == "string" and not {"enum", "pattern", "format"} & set(bounded):
        bounded.setdefault("maxLength", max_chars)
    if bounded.get("type") == "array":
        bounded.setdefault("minItems", 1)
        bounded.setdefault("maxItems", max(max_items, bounded["minItems"]))
    return bounded


class LocalEmbedding(BaseRagasEmbedding):
    """A Ragas embedding over a local sentence-transformers encoder (normalised vectors)."""

    def __init__(self, encoder: Any) -> None:
        """Embed with `encoder`, a loaded `SentenceTransformer`."""
        super().__init__()
        self.encoder = encoder

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        """The vector of one text."""
        return self.embed_texts([text])[0]

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """The vectors of several texts, in one batch."""
        vectors = self.encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return [v.tolist() for v in vectors]

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        """`embed_text`, for Ragas' async metrics."""
        return self.embed_text(text)

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """`embed_texts`, for Ragas' async metrics."""
        return self.embed_texts(texts)


def ragas_scores(
    *,
    question: str,
    response: str,
    reference: str | None,
    retrieved_contexts: list[str],
    reference_contexts: list[str],
    embedding: LocalEmbedding | None = None,
) -> dict[str, float]:
    """The offline metrics the inputs allow: answer metrics need a reference (semantic
    similarity needs `embedding` too), context metrics need reference contexts (an empty
    retrieval scores 0)."""
    from ragas.dataset_schema import SingleTurnSample

    sample = SingleTurnSample(
        user_input=question,
        response=response,
        reference=reference,
        retrieved_contexts=retrieved_contexts,
        reference_contexts=reference_contexts,
    )
    scores = {}
    if reference is not None:
        for name, metric in ANSWER_METRICS.items():
            scores[name] = float(_metric(metric).single_turn_score(sample))
        if embedding is not None:
            scores["semantic_similarity"] = _semantic_similarity(embedding, response, reference)
    if reference_contexts:
        for name, metric in CONTEXT_METRICS.items():
            scores[name] = (
                float(_metric(metric).single_turn_score(sample)) if retrieved_contexts else 0.0
            )
    return scores


def _semantic_similarity(embedding: LocalEmbedding, response: str, reference: str) -> float:
    """Ragas' semantic similarity (cosine of the two embeddings), 0 for an empty answer."""
    from ragas.metrics.collections import SemanticSimilarity

    if not response.strip():
        return 0.0
    result = SemanticSimilarity(embeddings=embedding).score(reference=reference, response=response)
    return max(0.0, min(1.0, float(result.value)))


def judged_scores(
    judge: RagasJudge,
    embedding: LocalEmbedding,
    *,
    question: str,
    response: str,
    reference: str | None,
    retrieved_contexts: list[str],
    metrics: list[str],
    repeats: int = 1,
) -> tuple[dict[str, float | None], dict[str, list[float | None]]]:
    """The LLM-judged `metrics` the inputs allow, each the mean of `repeats` runs.

    Returns the means and every run's score. A run Ragas finds undefined (say, an answer
    with no statements to check) is None and left out of the mean; a metric with no defined
    run is None. An empty answer or retrieval scores 0 without asking the judge.
    """
    from ragas.metrics.collections import (
        AnswerRelevancy,
        ContextPrecisionWithReference,
        ContextRecall,
        Faithfulness,
    )

    available = {
        "response": bool(response.strip()),
        "reference": reference is not None,
        "retrieved_contexts": bool(retrieved_contexts),
    }
    scorers = {
        "faithfulness": lambda: Faithfulness(llm=judge).score(
            user_input=question, response=response, retrieved_contexts=retrieved_contexts
        ),
        "response_relevancy": lambda: AnswerRelevancy(llm=judge, embeddings=embedding).score(
            user_input=question, response=response
        ),
        "llm_context_precision": lambda: ContextPrecisionWithReference(llm=judge).score(
            user_input=question, reference=reference, retrieved_contexts=retrieved_contexts
        ),
        "llm_context_recall": lambda: ContextRecall(llm=judge).score(
            user_input=question, retrieved_contexts=retrieved_contexts, reference=reference
        ),
    }
    means: dict[str, float | None] = {}
    runs: dict[str, list[float | None]] = {}
    for name in metrics:
        needs = JUDGE_NEEDS[name]
        if "reference" in needs and not available["reference"]:
            continue
        if not all(available[n] for n in needs):
            means[name], runs[name] = 0.0, [0.0]
            continue
        runs[name] = [_defined(scorers[name]().value) for _ in range(repeats)]
        defined = [v for v in runs[name] if v is not None]
        means[name] = sum(defined) / len(defined) if defined else None
    return means, runs


def _defined(value: Any) -> float | None:
    """A score in [0, 1], or None when Ragas could not define it (NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return max(0.0, min(1.0, float(value)))
