"""Turn a query into a BM25 sparse vector."""

from typing import Any

from haystack import component
from haystack.dataclasses import SparseEmbedding

from components.embedding.bm25 import Bm25Encoder


@component
class Bm25SparseTextEmbedder:
    """Compute the BM25 query vector of a text: one per distinct stemmed term.

    Usage:
    ```python
    embedder = Bm25SparseTextEmbedder()
    embedder.run(text="How long must a password be?")["sparse_embedding"]
    ```
    """

    def __init__(self, *, language: str = "english") -> None:
        """Create the embedder for texts in `language` (see `Bm25Encoder`)."""
        self.language = language
        self._encoder = Bm25Encoder(language=language)

    @component.output_types(sparse_embedding=SparseEmbedding)
    def run(self, text: str) -> dict[str, Any]:
        """Return `sparse_embedding`, the query vector of `text`."""
        return {"sparse_embedding": self._encoder.encode_query(text)}
