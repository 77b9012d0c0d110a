"""An extractive summary: the most central sentences of a document, in order, with pages."""

from typing import Any

import numpy as np
from haystack import Document, component

from components.embedding.backends import check_backend, sentence_encoder
from components.generation.sentence_selector import chunk_sentences


@component
class CentralSentences:
    """Summarise a document by its `count` most central sentences, in the document's order.

    A sentence's centrality is its mean cosine similarity to every other sentence of the
    document (LexRank's degree centrality without the graph walk): the sentences that say
    what most of the document says. Near repeats of a chosen sentence (cosine above
    `max_similarity`) are passed over, so that the summary does not say one thing twice. Title
    lines and fragments under `min_words` words are not candidates. Every sentence is the
    document's own, with the page of its chunk.

    Usage:
    ```python
    summariser = CentralSentences(model=embedding_model_path("all-MiniLM-L6-v2"), count=3)
    summariser.warm_up()
    result = summariser.run(documents=parsed.chunks)
    result["summary"], result["sentences"]  # [{"text": ..., "page": 2}, ...]
    ```
    """

    def __init__(
        self,
        *,
        model: str,
        backend: str = "onnx-int8",
        count: int = 3,
        min_words: int = 6,
        max_similarity: float = 0.9,
        max_sentences: int = 400,
    ) -> None:
        """Create the summariser.

        :param model: the local folder of the sentence-transformers model.
        :param backend: the encoder: "torch", "onnx" or "onnx-int8".
        :param count: how many sentences the summary has.
        :param min_words: shorter fragments are not candidates.
        :param max_similarity: a sentence this similar to one already chosen is skipped.
        :param max_sentences: only the first sentences of a long document are read.
        """
        check_backend(backend)
        if count < 1 or min_words < 1 or max_sentences < 1:
            raise ValueError("count, min_words and max_sentences must be at least 1")
        if not 0 < max_similarity <= 1:
            raise ValueError(f"max_similarity must be in (0, 1] (got {max_similarity})")
        self.model = model
        self.backend = backend
        self.count = count
        self.min_words = min_words
        self.max_similarity = max_similarity
        self.max_sentences = max_sentences
        self._encoder: Any = None

    def warm_up(self) -> None:
        """Load the encoder (idempotent)."""
        if self._encoder is None:
            self._encoder = sentence_encoder(self.model, self.backend)

    @component.output_types(summary=str, sentences=list[dict])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """The summary of the document whose chunks are `documents`, in order.

        :returns: `summary`, the sentences joined, each followed by its page ("(p. 2)") when
            the chunk has one; `sentences`, each `{"text", "page"}`. Both empty when the
            document has no sentence.
        """
        found = [
            (sentence, documents[rank].meta.get("page"))
            for rank, _, sentence, _ in chunk_sentences(documents, self.min_words)
        ][: self.max_sentences]
        if not found:
            return {"summary": "", "sentences": []}
        self.warm_up()
        vectors = self._encoder.encode(
            [text for text, _ in found], normalize_embeddings=True, batch_size=64
        )
        similarity = vectors @ vectors.T
        n = len(found)
        centrality = (similarity.sum(axis=1) - 1) / max(1, n - 1)
        chosen: list[int] = []
        for index in np.argsort(-centrality, kind="stable"):
            if all(similarity[index, other] <= self.max_similarity for other in chosen):
                chosen.append(int(index))
            if len(chosen) == self.count:
                break
        sentences = [{"text": found[i][0], "page": found[i][1]} for i in sorted(chosen)]
        summary = " ".join(
            s["text"] if s["page"] is None else f"{s['text']} (p. {s['page']})" for s in sentences
        )
        return {"summary": summary, "sentences": sentences}
