"""Haystack embedders over `OnnxSentenceEncoder`: documents at ingest, text at query time."""

import dataclasses
from typing import Any

from haystack import Document, component

from components.embedding.onnx_encoder import OnnxSentenceEncoder


@component
class OnnxDocumentEmbedder:
    """Embed documents with a sentence-transformers model run by ONNX Runtime.

    Like Haystack's `SentenceTransformersDocumentEmbedder`: the values of
    `meta_fields_to_embed` and the content, joined by a line break, are embedded and the
    vectors normalised; the documents come back with `embedding` set.

    Usage:
    ```python
    embedder = OnnxDocumentEmbedder(model=path, cache_dir=cache, precision="int8")
    embedder.warm_up()
    embedder.run(documents=chunks)["documents"][0].embedding
    ```
    """

    def __init__(
        self,
        *,
        model: str,
        cache_dir: str,
        precision: str = "fp32",
        batch_size: int = 32,
        meta_fields_to_embed: list[str] | None = None,
    ) -> None:
        """Create the embedder; the model is exported or loaded on `warm_up`."""
        self.model = model
        self.cache_dir = cache_dir
        self.precision = precision
        self.batch_size = batch_size
        self.meta_fields_to_embed = list(meta_fields_to_embed or [])
        self.encoder = OnnxSentenceEncoder(
            model_path=model, cache_dir=cache_dir, precision=precision, batch_size=batch_size
        )

    def warm_up(self) -> None:
        """Export (once) and load the model."""
        self.encoder.warm_up()

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """The documents with their normalised embeddings."""
        texts = [
            "\n".join(
                [
                    *(
                        str(d.meta[key])
                        for key in self.meta_fields_to_embed
                        if d.meta.get(key) is not None
                    ),
                    d.content or "",
                ]
            )
            for d in documents
        ]
        vectors = self.encoder.encode(texts, normalize=True)
        return {
            "documents": [
                dataclasses.replace(d, embedding=v.tolist())
                for d, v in zip(documents, vectors, strict=True)
            ]
        }


@component
class OnnxTextEmbedder:
    """Embed a query with a sentence-transformers model run by ONNX Runtime (normalised).

    Usage:
    ```python
    OnnxTextEmbedder(model=path, cache_dir=cache).run(text="How long is the warranty?")
    ```
    """

    def __init__(self, *, model: str, cache_dir: str, precision: str = "fp32") -> None:
        """Create the embedder; the model is exported or loaded on `warm_up`."""
        self.model = model
        self.cache_dir = cache_dir
        self.precision = precision
        self.encoder = OnnxSentenceEncoder(
            model_path=model, cache_dir=cache_dir, precision=precision
        )

    def warm_up(self) -> None:
        """Export (once) and load the model."""
        self.encoder.warm_up()

    @component.output_types(embedding=list[float])
    def run(self, text: str) -> dict[str, Any]:
        """The text's normalised embedding."""
        return {"embedding": self.encoder.encode([text], normalize=True)[0].tolist()}
