"""BM25 term weighting for Qdrant sparse vectors.

Qdrant's IDF modifier supplies the inverse document frequency at query time, from the
collection itself; the document side carries BM25's saturated term frequency and the query side
a weight of one per distinct term, so that the dot product Qdrant computes is BM25's score.
"""

import hashlib
import importlib.util
import re
from collections import Counter
from functools import cache
from pathlib import Path

from haystack.dataclasses import SparseEmbedding

_WORD = re.compile(r"\w+", re.UNICODE)
_SPACY_CODES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "portuguese": "pt",
    "dutch": "nl",
}
LANGUAGES = tuple(_SPACY_CODES)
STEM_CACHE = 200_000  # words whose stems are remembered, per language
# Encoders of one language share their stems: the verifier, the citation builder and the
# sparse embedder stem the same passages.
_STEMS: dict[str, dict[str, str]] = {}


@cache
def _stop_words(language: str) -> frozenset[str]:
    """spaCy's stop words of `language`, read from their module alone: importing the `spacy`
    package takes over a second (thinc, torch) and nothing else of it is needed here."""
    spacy = importlib.util.find_spec("spacy")  # finds the package without importing it
    path = Path(
        spacy.submodule_search_locations[0], "lang", _SPACY_CODES[language], "stop_words.py"
    )
    spec = importlib.util.spec_from_file_location(f"_docent_stop_words_{language}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return frozenset(module.STOP_WORDS)


def term_index(term: str) -> int:
    """A stable 31-bit index for a term, the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "big") >> 1


class Bm25Encoder:
    """Turns text into BM25 sparse vectors: stemmed terms without stop words.

    Usage:
    ```python
    encoder = Bm25Encoder(language="english")
    encoder.encode_document("Passwords must be long")   # saturated term frequencies
    encoder.encode_query("password length")             # one per distinct term
    ```
    """

    def __init__(
        self,
        *,
        language: str = "english",
        k1: float = 1.2,
        b: float = 0.75,
        avg_doc_tokens: int = 120,
    ) -> None:
        """Create an encoder.

        :param language: the language of stemmer and stop words, one of `LANGUAGES`.
        :param k1: BM25's term-frequency saturation.
        :param b: BM25's length normalisation, 0 (none) to 1 (full).
        :param avg_doc_tokens: the typical chunk length in terms, used for length normalisation.
        """
        if language not in _SPACY_CODES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)} (got {language!r})")
        import snowballstemmer

        self.language = language
        self.k1 = k1
        self.b = b
        self.avg_doc_tokens = avg_doc_tokens
        self._stemmer = snowballstemmer.stemmer(language)
        self._stop = _stop_words(language)
        self._stems = _STEMS.setdefault(language, {})

    def terms(self, text: str) -> list[str]:
        """The stemmed, lower-cased terms of `text`, stop words removed, in order."""
        stems = self._stems
        terms = []
        for word in _WORD.findall(text.lower()):
            if word in self._stop:
                continue
            stem = stems.get(word)
            if stem is None:
                # The stemmer is pure Python and words recur: remember each word's stem.
                if len(stems) >= STEM_CACHE:
                    stems.clear()
                stem = stems[word] = self._stemmer.stemWord(word)
            terms.append(stem)
        return terms

    def encode_document(self, text: str) -> SparseEmbedding:
        """BM25 document weights: tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average))."""
        terms = self.terms(text)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avg_doc_tokens)
        weights: dict[int, float] = {}
        for term, tf in Counter(terms).items():
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return _sparse(weights)

    def encode_query(self, text: str) -> SparseEmbedding:
        """Query weights: one per distinct term; Qdrant multiplies in the IDF."""
        return _sparse({term_index(term): 1.0 for term in set(self.terms(text))})


def _sparse(weights: dict[int, float]) -> SparseEmbedding:
    indices = sorted(weights)
    return SparseEmbedding(indices=indices, values=[weights[i] for i in indices])
