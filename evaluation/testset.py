"""Test-set generation with Ragas' generator: questions, reference answers and contexts
written from an ingested collection's chunks by a capable model of the registry.

Ragas' generator speaks its older LLM interface (a prompt in, text out). `RagasTextLLM`
serves it through docent's model chain and, when Ragas' prompt states the JSON schema of
the reply it wants, decodes under that schema (bounded like the judge's), so a reply always
parses.
"""

import asyncio
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from ragas.embeddings.base import BaseRagasEmbeddings
from ragas.llms.base import BaseRagasLLM

from components.errors import ConfigError
from evaluation.ragas_scoring import LocalEmbedding, bounded_schema

# complete(prompt, json_schema or None) -> the reply's text.
CompleteText = Callable[[str, dict[str, Any] | None], str]
SCHEMA_INTRO = re.compile(r"as specified in JSON Schema:\s*")
# A generator needs room for Ragas' prompts (a chunk, instructions, examples) and replies.
MIN_CONTEXT_WINDOW = 4096
WEAK_MODELS = {"gemma-3-270m"}


def check_generator(name: str | None, card: Any | None) -> None:
    """Refuse, with what to do, a generator that is missing or cannot write a test set.

    :param card: the model's settings (`model`, `context_window`), None when `name` is.

    Raises:
        ConfigError: no generator model is configured, or it is the shipped 270M model, or
            its context window is under 4,096 tokens.
    """
    if name is None or card is None:
        raise ConfigError(
            "test-set generation needs a capable LLM, and none is configured: add one to "
            "`models` (e.g. an OpenAI-compatible endpoint serving a 7B+ instruction model with a "
            "context window of 8k tokens) and name it in evaluation.generator_model"
        )
    if card.model in WEAK_MODELS:
        raise ConfigError(
            f"evaluation.generator_model {name!r} is the shipped {card.model}: too small to write "
            "questions and answers Ragas can use. Name a capable model (7B+, e.g. served by "
            "llama.cpp or vLLM) instead"
        )
    if card.context_window < MIN_CONTEXT_WINDOW:
        raise ConfigError(
            f"evaluation.generator_model {name!r} has a context window of {card.context_window} "
            f"tokens; Ragas' generator needs at least {MIN_CONTEXT_WINDOW}"
        )


def stated_schema(prompt: str) -> dict[str, Any] | None:
    """The JSON schema a Ragas prompt asks its reply to follow, if it states one."""
    match = SCHEMA_INTRO.search(prompt)
    if match is None:
        return None
    try:
        schema, _ = json.JSONDecoder().raw_decode(prompt, match.end())
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None


class RagasTextLLM(BaseRagasLLM):
    """Ragas' text LLM interface over docent's model chain (one call at a time)."""

    def __init__(self, complete: CompleteText) -> None:
        """Answer with `complete(prompt, json_schema or None)`, which returns the reply text."""
        super().__init__()
        self.complete = complete
        self.calls = 0
        self._lock = threading.Lock()

    def _reply(self, prompt: Any) -> Any:
        from langchain_core.outputs import Generation, LLMResult

        text = prompt.to_string()
        schema = stated_schema(text)
        with self._lock:
            self.calls += 1
            reply = self.complete(text, bounded_schema(schema, 400, 10) if schema else None)
        return LLMResult(generations=[[Generation(text=reply)]])

    def generate_text(self, prompt, n=1, temperature=0.01, stop=None, callbacks=None):
        """One reply to `prompt` (docent's models give one completion a call)."""
        return self._reply(prompt)

    async def agenerate_text(self, prompt, n=1, temperature=0.01, stop=None, callbacks=None):
        """`generate_text` off the event loop."""
        return await asyncio.to_thread(self._reply, prompt)

    def is_finished(self, response: Any) -> bool:
        """Replies are complete: a schema-bound reply closes its JSON."""
        return True


class RagasTextEmbeddings(BaseRagasEmbeddings):
    """Ragas' older embedding interface over a local sentence-transformers encoder."""

    def __init__(self, encoder: Any) -> None:
        """Embed with `encoder`, a loaded `SentenceTransformer` (normalised vectors)."""
        super().__init__()
        self.local = LocalEmbedding(encoder)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The vectors of `texts`."""
        return self.local.embed_texts(texts)

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """`embed_documents`, for Ragas' async transforms."""
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        """`embed_query`, for Ragas' async transforms."""
        return self.embed_query(text)


def generate_testset(
    chunks: list[str], size: int, complete: CompleteText, encoder: Any
) -> list[dict[str, Any]]:
    """`size` items written from `chunks` by Ragas' generator, as `docent eval` reads them:
    `question`, `reference` and `reference_contexts`."""
    from ragas.testset import TestsetGenerator

    generator = TestsetGenerator(
        llm=RagasTextLLM(complete), embedding_model=RagasTextEmbeddings(encoder)
    )
    testset = generator.generate_with_chunks(chunks, testset_size=size)
    return [
        {
            "question": row["user_input"],
            "reference": row.get("reference") or "",
            "reference_contexts": list(row.get("reference_contexts") or []),
        }
        for row in testset.to_list()
        if row.get("user_input")
    ]
