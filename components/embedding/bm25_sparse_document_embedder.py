"""Attach BM25 sparse vectors to documents."""

from dataclasses import replace
from typing import Any

from haystack import Document, component

from components.embedding.bm25 import Bm25Encoder


@component
class Bm25SparseDocumentEmbedder:
    """Compute a BM25 sparse vector for each document, for Qdrant's IDF-modified sparse index.

    The text embedded is the content preceded by the values of `meta_fields_to_embed`, so that a
    section title counts as words of its chunk.

    Usage:
    ```python
    embedder = Bm25SparseDocumentEmbedder(meta_fields_to_embed=["section"])
    documents = embedder.run(documents=chunks)["documents"]
    documents[0].sparse_embedding   # SparseEmbedding(indices=[...], values=[...])
    ```
    """

    def __init__(
        self,
        *,
        language: str = "english",
        k1: float = 1.2,
        b: float = 0.75,
        avg_doc_tokens: int = 120,
        meta_fields_to_embed: list[str] | None = None,
    ) -> None:
        """Create the embedder; the arguments are those of `Bm25Encoder`."""
        self.language = language
        self.k1 = k1
        self.b = b
        self.avg_doc_tokens = avg_doc_tokens
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self._encoder = Bm25Encoder(language=language, k1=k1, b=b, avg_doc_tokens=avg_doc_tokens)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Return copies of `documents` with `sparse_embedding` set."""
        embedded = []
        for document in documents:
            fields = [
                str(document.meta[f]) for f in self.meta_fields_to_embed if document.meta.get(f)
            ]
            text = "\n".join([*fields, document.content or ""])
            embedded.append(replace(document, sparse_embedding=self._encoder.encode_document(text)))
        return {"documents": embedded}
