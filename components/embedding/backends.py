"""The embedding backends in one place: which encoder or Haystack embedder runs a model.

`torch` runs a local sentence-transformers model with sentence-transformers; `onnx` and
`onnx-int8` run the same model exported once to ONNX Runtime (fp32 weights, or int8; see
`OnnxSentenceEncoder`). Ingest embeds chunks with `document_embedder`, the query pipeline a
question with `text_embedder`, and the query-time components (intent classification, sentence
selection, verification) short texts with the process's shared `sentence_encoder`. Each
library is imported when a model of its backend is built.

Usage:
```python
embedder = document_embedder(model_path, "onnx-int8", meta_fields_to_embed=["section"])
embedder.warm_up()
embedder.run(documents=chunks)["documents"][0].embedding
```
"""

import threading
from pathlib import Path
from typing import Any

from components.shipped_models import model_cache

# The embedding backends, and the precision of the ONNX model each runs (None: torch).
ONNX_PRECISIONS = {"torch": None, "onnx": "fp32", "onnx-int8": "int8"}


def check_backend(backend: str) -> None:
    """Raise ValueError unless `backend` is one of `ONNX_PRECISIONS`' names."""
    if backend not in ONNX_PRECISIONS:
        raise ValueError(f"backend must be one of {', '.join(ONNX_PRECISIONS)} (got {backend!r})")


def document_embedder(
    model_path: str,
    backend: str,
    *,
    batch_size: int = 32,
    meta_fields_to_embed: list[str] | None = None,
) -> Any:
    """A Haystack document embedder of the backend: the values of `meta_fields_to_embed` and
    the content, joined by a line break, embedded and normalised."""
    check_backend(backend)
    if backend == "torch":
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
        )

        return SentenceTransformersDocumentEmbedder(
            model=model_path,
            batch_size=batch_size,
            progress_bar=False,
            normalize_embeddings=True,
            meta_fields_to_embed=meta_fields_to_embed,
            local_files_only=True,
        )
    from components.embedding.onnx_embedders import OnnxDocumentEmbedder

    return OnnxDocumentEmbedder(
        model=model_path,
        cache_dir=str(model_cache()),
        precision=ONNX_PRECISIONS[backend],
        batch_size=batch_size,
        meta_fields_to_embed=meta_fields_to_embed,
    )


def text_embedder(model_path: str, backend: str) -> Any:
    """A Haystack text embedder of the backend, for queries (normalised)."""
    check_backend(backend)
    if backend == "torch":
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersTextEmbedder,
        )

        return SentenceTransformersTextEmbedder(
            model=model_path, normalize_embeddings=True, progress_bar=False, local_files_only=True
        )
    from components.embedding.onnx_embedders import OnnxTextEmbedder

    return OnnxTextEmbedder(
        model=model_path, cache_dir=str(model_cache()), precision=ONNX_PRECISIONS[backend]
    )


_ENCODERS: dict[tuple[str, str], Any] = {}
_ENCODERS_LOCK = threading.Lock()


def sentence_encoder(model_path: str, backend: str = "torch") -> Any:
    """The process's one CPU sentence encoder for a local model folder and backend, loaded on
    first use: a `SentenceTransformer` ("torch"), or the same model under ONNX Runtime
    ("onnx", or "onnx-int8" quantised; see `OnnxSentenceEncoder`) with `SentenceTransformer`'s
    `encode` signature.

    Components that embed short texts at query time (intent classification, verification)
    share it instead of each holding a copy of the same weights.
    """
    check_backend(backend)
    key = (str(Path(model_path).resolve()), backend)
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            if backend == "torch":
                from sentence_transformers import SentenceTransformer

                _ENCODERS[key] = SentenceTransformer(key[0], device="cpu", local_files_only=True)
            else:
                _ENCODERS[key] = _OnnxModel(key[0], ONNX_PRECISIONS[backend])
        return _ENCODERS[key]


class _OnnxModel:
    """An `OnnxSentenceEncoder` behind `SentenceTransformer.encode`'s arguments."""

    def __init__(self, model_path: str, precision: str) -> None:
        from components.embedding.onnx_encoder import OnnxSentenceEncoder

        # Query-time texts (a question with its candidate sentences, an intent's examples)
        # always go together, so batching them keeps the same input giving the same scores.
        self.encoder = OnnxSentenceEncoder(
            model_path=model_path,
            cache_dir=str(model_cache()),
            precision=precision,
            per_text=False,
        )
        self.encoder.warm_up()

    def encode(
        self,
        sentences: list[str],
        batch_size: int = 32,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
    ) -> Any:
        """The sentences' vectors as a float32 array, in batches bucketed by length;
        `convert_to_numpy` and `show_progress_bar` are accepted and change nothing."""
        del convert_to_numpy, show_progress_bar
        return self.encoder.encode(
            list(sentences), normalize=normalize_embeddings, batch_size=batch_size
        )
