"""Tell which intent a short text expresses, from example utterances, or that it has none."""

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from haystack import component, logging

from components.embedding.backends import check_backend, sentence_encoder
from components.intent.examples import checked_pair
from components.shipped_models import embedding_model_path

logger = logging.getLogger(__name__)

METHODS = ("centroid", "knn", "logreg", "logreg_knn")
# Bump when what the cache files hold changes meaning, so that old files are never read
# (2: the ONNX export's eager attention, whose int8 vectors differ slightly).
CACHE_FORMAT = 2
# Queries scored at once: their similarities to 15,000 examples take 15 MB.
_SLICE = 256
# Picked by bench/intents.py for the default method: 5-fold cross-validation on CLINC150's
# train split plus oos_train, weighting in-scope and out-of-scope queries 4.5 : 1 as its test
# split does.
DEFAULT_THRESHOLD = 0.265


@component
class IntentClassifier:
    """Classify a text into one of the intents shown by examples, or reject it as out of scope.

    A sentence-transformers model embeds the examples once (never fine-tuned); `warm_up` fits a
    light head on the embeddings in seconds. The score of an intent is the probability given by
    `method`, times the cosine similarity of the text to the intent's closest example raised to
    `similarity_power`, so that a text unlike every example scores low whatever the softmax
    says. Methods:
    - `centroid`: softmax over the cosine similarities to the intents' mean embeddings;
    - `knn`: the `k` most similar examples vote, weighted by a softmax of their similarities;
    - `logreg`: a multinomial logistic regression (inverse regularization `regularization`);
    - `logreg_knn` (the default, the best measured): `knn_weight` of `knn`, the rest `logreg`.

    The text is `out_of_scope_label` when the best intent scores below
    `out_of_scope_threshold`, or when examples labelled `out_of_scope_label` (unrelated
    requests, optional) outscore it; then `confidence` is 1 minus the best intent's score and
    the runner-up is the best intent. The default threshold is calibrated for the default method.

    With `cache_dir`, the example embeddings and the fitted head are kept there, keyed by the
    model's files, the examples and the head's settings: a second `warm_up` with the same
    examples neither embeds nor fits again.

    Usage:
    ```python
    classifier = IntentClassifier(
        model=embedding_model_path("all-MiniLM-L6-v2"),
        examples=load_examples("intents.csv"),
        cache_dir="~/.cache/docent/intents",
    )
    classifier.warm_up()
    classifier.run(text="I was charged twice")
    # {"intent": "billing", "confidence": 0.71, "runner_up": "account_access", ...}
    ```
    """

    def __init__(
        self,
        *,
        model: str,
        examples: list[tuple[str, str]] | list[list[str]],
        out_of_scope_threshold: float | None = DEFAULT_THRESHOLD,
        out_of_scope_label: str = "out_of_scope",
        method: str = "logreg_knn",
        regularization: float = 30.0,
        k: int = 5,
        knn_weight: float = 0.3,
        temperature: float = 0.05,
        similarity_power: float = 1.0,
        cache_dir: str | None = None,
        batch_size: int = 64,
        backend: str = "torch",
    ) -> None:
        """Create the classifier; nothing is loaded before `warm_up`.

        :param model: a local sentence-transformers folder, or a shipped model's name.
        :param examples: `(text, intent)` pairs; at least two intents besides
            `out_of_scope_label`, whose own examples (optional) show what to reject.
        :param out_of_scope_threshold: the lowest score, in [0, 1], of an accepted intent;
            None never rejects for a low score.
        :param out_of_scope_label: the intent returned for a rejected text.
        :param method: one of "centroid", "knn", "logreg", "logreg_knn".
        :param regularization: the inverse regularization strength of the logistic regression.
        :param k: how many nearest examples vote (`knn`, `logreg_knn`).
        :param knn_weight: the share, in [0, 1], of the vote in `logreg_knn`.
        :param temperature: the softmax temperature of `centroid` and of the vote's weights.
        :param similarity_power: the power of the closest example's similarity in the score;
            0 ignores it.
        :param cache_dir: a folder for the embeddings and head; None caches nothing.
        :param batch_size: texts embedded at once.
        :param backend: the encoder: "torch", "onnx" or "onnx-int8" (see `sentence_encoder`).
        """
        pairs = [checked_pair(index, example) for index, example in enumerate(examples)]
        intents = sorted({intent for _, intent in pairs} - {out_of_scope_label})
        if len(intents) < 2:
            raise ValueError(
                f"examples must show at least 2 intents besides {out_of_scope_label!r} "
                f"(got {intents})"
            )
        if out_of_scope_threshold is not None and not 0 <= out_of_scope_threshold <= 1:
            raise ValueError(
                f"out_of_scope_threshold must be in [0, 1] or None (got {out_of_scope_threshold})"
            )
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
        for name, value in (("regularization", regularization), ("temperature", temperature)):
            if value <= 0:
                raise ValueError(f"{name} must be above 0 (got {value})")
        for name, value in (("k", k), ("batch_size", batch_size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1 (got {value})")
        check_backend(backend)
        if not 0 <= knn_weight <= 1:
            raise ValueError(f"knn_weight must be in [0, 1] (got {knn_weight})")
        if similarity_power < 0:
            raise ValueError(f"similarity_power must be at least 0 (got {similarity_power})")
        self.model = model
        self.examples = [list(pair) for pair in pairs]
        self.out_of_scope_threshold = out_of_scope_threshold
        self.out_of_scope_label = out_of_scope_label
        self.method = method
        self.regularization = regularization
        self.k = k
        self.knn_weight = knn_weight
        self.temperature = temperature
        self.similarity_power = similarity_power
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.backend = backend
        self.embed_seconds = 0.0
        self.fit_seconds = 0.0
        self._encoder: Any = None
        self._head: _Head | None = None

    def warm_up(self) -> None:
        """Load the model, embed the examples and fit the head, or read them from the cache.

        Idempotent. Afterwards `embed_seconds` and `fit_seconds` say how long embedding and
        fitting took (0.0 when read from the cache).
        """
        if self._head is not None:
            return
        folder = Path(embedding_model_path(self.model))
        self._encoder = sentence_encoder(str(folder), self.backend)
        texts = [text for text, _ in self.examples]
        intents = np.array([intent for _, intent in self.examples])
        model_files = [
            [str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns]
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        ]
        embeddings_key = _key(CACHE_FORMAT, model_files, self.backend, texts)
        started = time.perf_counter()
        embeddings, embedded = self._cached(f"examples-{embeddings_key}", self._encode, texts)
        self.embed_seconds = time.perf_counter() - started if embedded else 0.0
        head = _Head.build(embeddings, intents)
        if self.method in ("logreg", "logreg_knn"):
            head_key = _key(embeddings_key, intents.tolist(), "logreg", self.regularization)
            started = time.perf_counter()
            head.weights, fitted = self._cached(f"head-{head_key}", self._fit, head)
            self.fit_seconds = time.perf_counter() - started if fitted else 0.0
        logger.info(
            "Intent classifier ready: {count} examples, embedded in {embed:.1f} s, "
            "fitted in {fit:.1f} s (0: from the cache)",
            count=len(texts),
            embed=self.embed_seconds,
            fit=self.fit_seconds,
        )
        self._head = head

    @component.output_types(
        intent=str, confidence=float, runner_up=str | None, runner_up_confidence=float, margin=float
    )
    def run(self, text: str) -> dict[str, Any]:
        """Classify `text`.

        :returns: `intent` (or `out_of_scope_label`), its `confidence` in [0, 1], the
            `runner_up` intent (None when there is none) with its `runner_up_confidence`, and
            `margin`, confidence minus runner-up confidence.
        """
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: list[str]) -> list[dict[str, Any]]:
        """Classify many texts, embedded `batch_size` at a time; one dict like `run`'s each."""
        self.warm_up()
        return self._decide(self._head, self._encode(texts))

    def cross_validate(self, folds: int = 5, seed: int = 0) -> list[dict[str, Any]]:
        """Classify each example with a head fitted on the other folds, in example order.

        The embeddings are reused, so this takes seconds; use it to choose the threshold on
        the examples themselves. Folds are stratified by intent and shuffled with `seed`.
        """
        from sklearn.model_selection import StratifiedKFold

        self.warm_up()
        head = self._head
        results: list[dict[str, Any]] = [{} for _ in self.examples]
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(head.embeddings, head.labels):
            fold = _Head.build(head.embeddings[train], head.classes[head.labels[train]])
            if self.method in ("logreg", "logreg_knn"):
                fold.weights = self._fit(fold)
            for row, result in zip(test, self._decide(fold, head.embeddings[test]), strict=True):
                results[head.order[row]] = result
        return results

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._encoder.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def _fit(self, head: "_Head") -> np.ndarray:
        """Logistic regression weights, one row per intent: coefficients, then the intercept."""
        from sklearn.linear_model import LogisticRegression

        regression = LogisticRegression(C=self.regularization, max_iter=1000)
        regression.fit(head.embeddings, head.labels)
        weights = np.hstack([regression.coef_, regression.intercept_[:, None]])
        if len(head.classes) == 2:
            # A binary regression has one row z; the softmax of (-z/2, z/2) is its sigmoid.
            weights = np.vstack([-weights, weights]) / 2
        return weights.astype(np.float32)

    def _cached(
        self, name: str, compute: Callable[[Any], np.ndarray], argument: Any
    ) -> tuple[np.ndarray, bool]:
        """`compute(argument)`, kept in `cache_dir/name.npy`; and whether it was computed."""
        if self.cache_dir is None:
            return compute(argument), True
        path = Path(self.cache_dir).expanduser() / f"{name}.npy"
        if path.is_file():
            try:
                return np.load(path, allow_pickle=False), False
            except (OSError, ValueError) as e:
                # A damaged cache file costs a recomputation, not a failure.
                logger.warning("Ignoring the cache file {path}: {error}", path=path, error=e)
        value = compute(argument)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-", suffix=".npy")
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, value)
            os.replace(partial, path)
        finally:
            Path(partial).unlink(missing_ok=True)
        return value, True

    def _decide(self, head: "_Head", queries: np.ndarray) -> list[dict[str, Any]]:
        """The intent, confidence and runner-up of each embedded query."""
        scores = np.vstack(
            [
                np.clip(self._scores(head, queries[start : start + _SLICE]), 0.0, 1.0)
                for start in range(0, len(queries), _SLICE)
            ]
        )
        in_scope = head.classes != self.out_of_scope_label
        rejecting = scores[:, ~in_scope].max(axis=1) if not in_scope.all() else None
        ranked = np.argsort(-np.where(in_scope, scores, -1.0), axis=1)[:, :2]
        floor = -1.0 if self.out_of_scope_threshold is None else self.out_of_scope_threshold
        results = []
        for row, (best, second) in enumerate(ranked):
            score = float(scores[row, best])
            runner_up, runner_up_score = None, 0.0
            if in_scope[second]:
                runner_up, runner_up_score = str(head.classes[second]), float(scores[row, second])
            if score < floor or (rejecting is not None and rejecting[row] > score):
                intent, confidence = self.out_of_scope_label, 1.0 - score
                runner_up, runner_up_score = str(head.classes[best]), score
            else:
                intent, confidence = str(head.classes[best]), score
            results.append(
                {
                    "intent": intent,
                    "confidence": confidence,
                    "runner_up": runner_up,
                    "runner_up_confidence": runner_up_score,
                    "margin": confidence - runner_up_score,
                }
            )
        return results

    def _scores(self, head: "_Head", queries: np.ndarray) -> np.ndarray:
        """Each intent's probability times the similarity of its closest example, per query."""
        similarities = queries @ head.embeddings.T
        if self.method == "centroid":
            probabilities = _softmax(queries @ head.centroids.T / self.temperature)
        elif self.method == "knn":
            probabilities = self._vote(head, similarities)
        else:
            logits = queries @ head.weights[:, :-1].T + head.weights[:, -1]
            probabilities = _softmax(logits)
            if self.method == "logreg_knn":
                probabilities = (1 - self.knn_weight) * probabilities + self.knn_weight * (
                    self._vote(head, similarities)
                )
        closest = np.maximum.reduceat(similarities, head.starts, axis=1)
        return probabilities * np.clip(closest, 0.0, None) ** self.similarity_power

    def _vote(self, head: "_Head", similarities: np.ndarray) -> np.ndarray:
        """The votes of the `k` most similar examples, weighted by a softmax of similarity."""
        k = min(self.k, similarities.shape[1])
        nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        weights = _softmax(np.take_along_axis(similarities, nearest, axis=1) / self.temperature)
        votes = np.zeros((len(similarities), len(head.classes)))
        np.add.at(votes, (np.arange(len(similarities))[:, None], head.labels[nearest]), weights)
        return votes


@dataclass
class _Head:
    """The fitted state: example embeddings grouped by intent, and the regression's weights."""

    classes: np.ndarray  # the intents, sorted
    embeddings: np.ndarray  # one row per example, grouped by intent in `classes` order
    labels: np.ndarray  # the index in `classes` of each row of `embeddings`
    order: np.ndarray  # the position in the examples of each row of `embeddings`
    starts: np.ndarray  # the first row of each intent
    centroids: np.ndarray  # the normalised mean embedding of each intent
    weights: np.ndarray | None = None

    @classmethod
    def build(cls, embeddings: np.ndarray, intents: np.ndarray) -> "_Head":
        """Group `embeddings` (in example order, normalised) by their `intents`."""
        classes, labels = np.unique(intents, return_inverse=True)
        order = np.argsort(labels, kind="stable")
        starts = np.searchsorted(labels[order], np.arange(len(classes)))
        grouped = embeddings[order]
        centroids = np.add.reduceat(grouped, starts, axis=0)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        return cls(classes, grouped, labels[order], order, starts, centroids)


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)
