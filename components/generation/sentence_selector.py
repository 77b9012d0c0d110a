"""Pick the sentences of retrieved chunks that most likely answer a question."""

import dataclasses
import re
from typing import Any

import numpy as np
from haystack import Document, component

from components.embedding.backends import check_backend, sentence_encoder

# A line of code: indented, or holding the punctuation of code, or opening with a keyword.
_CODE_LINE = re.compile(
    r"^\s|[(){}\[\]=@;<>]|^(def|class|import|from|return|async|await|pip|docent|curl)\b|^\$ "
)
MAX_CODE_LINES = 12
# Where a sentence starts: after . ! or ?, white space, then a capital, digit or quote.
SENTENCE_START = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@component
class SentenceSelector:
    """Split chunks into sentences and keep the `top_k` most like the question.

    Each sentence (a line of a chunk, split at sentence ends; the chunk's title lines and
    fragments under `min_words` words left out) is scored by the mean of two cosine
    similarities to the question, of the sentence alone and of the sentence headed by its
    chunk's section, less `rank_penalty` per place its chunk was retrieved below the first.
    On docent's knowledge-base set (bench/kb.py) the section heading and the rank each add
    right sentences over the sentence alone: the key answer is in the best sentence for 51
    of 116 questions against 48, in the best three for 68 against 64.

    The sentences come back as documents carrying their chunk's metadata and id (so a
    citation names the chunk's file and page), with `sentence_score`, in reading order: by
    their chunk's rank, then by position in it. `next` holds what follows a sentence ending
    with ":": the code lines it introduces (up to `MAX_CODE_LINES`; the parser keeps a code
    block's lines, indentation included, beside the text), or else the next line (a list
    item).

    Usage:
    ```python
    selector = SentenceSelector(model=embedding_model_path("all-MiniLM-L6-v2"), top_k=5)
    selector.warm_up()
    sentences = selector.run(question="How long is parental leave?", documents=chunks)
    sentences["documents"][0].content, sentences["documents"][0].meta["sentence_score"]
    ```
    """

    def __init__(
        self,
        *,
        model: str,
        backend: str = "onnx-int8",
        top_k: int = 5,
        rank_penalty: float = 0.02,
        min_words: int = 3,
    ) -> None:
        """Create the selector.

        :param model: the local folder of the sentence-transformers model that scores.
        :param backend: the encoder: "torch", "onnx" or "onnx-int8" (see `sentence_encoder`).
        :param top_k: how many sentences to keep.
        :param rank_penalty: taken off a sentence's score per place its chunk ranks below
            the first.
        :param min_words: shorter fragments are not candidates.
        """
        check_backend(backend)
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        if rank_penalty < 0:
            raise ValueError(f"rank_penalty must be at least 0 (got {rank_penalty})")
        if min_words < 1:
            raise ValueError(f"min_words must be at least 1 (got {min_words})")
        self.model = model
        self.backend = backend
        self.top_k = top_k
        self.rank_penalty = rank_penalty
        self.min_words = min_words
        self._encoder: Any = None

    def warm_up(self) -> None:
        """Load the encoder (idempotent; shared with the other users of the model)."""
        if self._encoder is None:
            self._encoder = sentence_encoder(self.model, self.backend)

    @component.output_types(documents=list[Document])
    def run(
        self, question: str, documents: list[Document], top_k: int | None = None
    ) -> dict[str, Any]:
        """The `top_k` (default: the component's) best sentences of `documents`, best chunk
        first, in reading order; the documents themselves when none has a sentence."""
        candidates = chunk_sentences(documents, self.min_words)
        if not candidates:
            return {"documents": list(documents)}
        self.warm_up()
        texts = [sentence for _, _, sentence, _ in candidates]
        headed = [
            f"{documents[rank].meta.get('section') or ''}: {sentence}"
            for rank, _, sentence, _ in candidates
        ]
        vectors = self._encoder.encode(
            [question, *texts, *headed], normalize_embeddings=True, batch_size=64
        )
        n = len(candidates)
        scores = (vectors[1 : n + 1] @ vectors[0] + vectors[n + 1 :] @ vectors[0]) / 2
        scores = scores - self.rank_penalty * np.array([rank for rank, *_ in candidates])
        # Ties go to the earlier sentence, so that the same input keeps the same choice.
        best = sorted(np.argsort(-scores, kind="stable")[: top_k or self.top_k])
        chosen = []
        for index in best:
            rank, position, sentence, following = candidates[index]
            meta = {
                **documents[rank].meta,
                "sentence_score": round(float(scores[index]), 4),
                "chunk_rank": rank,
                "sentence_index": position,
            }
            if following:
                meta["next"] = following
            chosen.append(dataclasses.replace(documents[rank], content=sentence, meta=meta))
        return {"documents": chosen}


def is_title(line: str, document: Document) -> bool:
    """Whether `line` is one of the chunk's own title lines (its section's parts)."""
    return line.strip() in (document.meta.get("section") or "").split(" > ")


def _introduced(lines: list[str]) -> str:
    """What a line ending with ":" introduces: the code lines that follow it, as written,
    or the next non-empty line."""
    code = []
    for line in lines:
        if not line.strip() or not _CODE_LINE.search(line) or len(code) == MAX_CODE_LINES:
            break
        code.append(line.rstrip())
    if code:
        return "\n".join(code)
    return next((line.strip() for line in lines if line.strip()), "")


def chunk_sentences(documents: list[Document], min_words: int) -> list[tuple[int, int, str, str]]:
    """(chunk rank, position, sentence, the next line when it ends with ":") of each chunk."""
    found = []
    for rank, document in enumerate(documents):
        raw = (document.content or "").split("\n")
        lines = [line.strip() for line in raw]
        position = 0
        for number, line in enumerate(lines):
            if not line or is_title(line, document):
                continue
            following = _introduced(raw[number + 1 :])
            parts = SENTENCE_START.split(line)
            for k, sentence in enumerate(parts):
                if len(sentence.split()) < min_words:
                    continue
                last = k == len(parts) - 1
                found.append(
                    (rank, position, sentence, following if last and line.endswith(":") else "")
                )
                position += 1
    return found
