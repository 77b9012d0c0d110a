"""Score how well each sentence of an answer is supported by the documents it rests on."""

import math
import re
from typing import Any

import numpy as np
from haystack import Document, component

from components.embedding.backends import check_backend, sentence_encoder
from components.embedding.bm25 import LANGUAGES, Bm25Encoder
from components.verification import claims

# A document "sentence" longer than this (a code block, a table row, a run-on list) is
# embedded by its start only: comparing meaning needs no more, and a 256-token input costs
# several times a sentence's.
UNIT_CHARS = 300
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")
# A sentence ends at . ! or ? (maybe followed by a closing quote or bracket) before the capital
# or digit that starts the next one, so that "$1.5 million" and "e.g. this" stay whole.
_SENTENCE_END = re.compile(
    r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+(?=[\"'\u201c\u2018(\[]?[A-Z0-9])"
)
_LIST_MARKER = re.compile(r"^(?:[-*•]|\d{1,2}[.)])\s+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Letters only, so that "Milner's" yields "Milner" and "s" (matches "Milner" in the source).
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
# Quantities a stop-word list drops ("three", "twice"): an answer that adds one to the words
# of the question does answer it ("Employees may work remotely three days per week").
_NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "fifteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "hundred",
        "thousand",
        "million",
        "billion",
        "half",
        "once",
        "twice",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "annually",
    ]
)


@component
class SupportVerifier:
    """Score an answer by how well its documents support each of its sentences.

    The answer is split into sentences: each line on its own, without list markers or
    citation markers such as " [1]"; a lead-in ending with ":" claims nothing and is skipped.
    Each sentence gets a support in [0, 1] from two measurements:
    - lexical: the share of its stemmed content words found in the documents, less
      `novelty_penalty` for each number or name (a capitalised word after the first) that no
      document contains, because an invented figure or name is one missing word among many
      for the share but often the whole error;
    - semantic: its largest cosine similarity to a sentence of a document, which credits
      paraphrases that share few words with the source.
    `support = embedding_weight * similarity + (1 - embedding_weight) * lexical`, clipped to
    [0, 1]. Claims that shared words miss are checked on their own (`components.verification
    .claims`): a code identifier (backticked, snake_case, CamelCase, dotted) or a number with
    its unit ("10 days", "$10") that no document writes counts as novel; a sentence that
    answers a yes/no question with a verdict the documents' most relevant sentence contradicts
    ("Yes" where it says "not"), or names an identifier every document mention marks as
    deprecated or replaced, contradicts them and scores 0. The answer's score is a soft
    minimum of the supports; `softness` 0, the default, takes the minimum, so the answer is
    as strong as its weakest sentence and is `supported` exactly when no sentence is
    `unsupported`.

    The defaults come from `bench/verifier.py` on FaithBench (LLM summaries of news and wiki
    passages, annotated for hallucinations): there the lexical part carries nearly all of the
    signal (cross-validated AUROC 0.61 against 0.55 for similarity alone; the verdicts of
    HHEM-2.1 score 0.61 on the same samples), and the defaults keep a little similarity and
    the novelty penalty, which cost no measurable accuracy there, for paraphrased answers and
    invented figures. The verifier
    points at sentences to check; it does not prove an answer faithful.

    Usage:
    ```python
    verifier = SupportVerifier(model=embedding_model_path("all-MiniLM-L6-v2"))
    verifier.warm_up()
    result = verifier.run(answer="Breakfast is served until 10:00 [1].", documents=chunks)
    result["score"], result["supported"], result["unsupported"]
    result["sentences"][0]  # {"sentence", "score", "document", "similarity", "lexical", "novel"}
    ```
    """

    def __init__(
        self,
        *,
        model: str,
        language: str = "english",
        threshold: float = 0.8,
        embedding_weight: float = 0.2,
        novelty_penalty: float = 0.2,
        softness: float = 0.0,
        batch_size: int = 32,
        backend: str = "torch",
        candidates: int = 2,
    ) -> None:
        """Create the verifier.

        :param model: the local folder of a sentence-transformers model.
        :param language: the language of stemmer and stop words, one of `LANGUAGES`.
        :param threshold: the lowest score, in [0, 1], of a supported answer or sentence. The
            default has the best balanced accuracy on FaithBench (0.60), where it flags three
            summaries in four; 0.6 flags one in three at nearly the same balanced accuracy.
        :param embedding_weight: the weight, in [0, 1], of the semantic similarity in a
            sentence's support; the lexical support has the rest.
        :param novelty_penalty: what each number or name absent from the documents takes off
            the lexical support, in [0, 1].
        :param softness: the temperature, >= 0, of the soft minimum over sentences: 0 takes the
            weakest sentence's support, larger values move towards their mean.
        :param batch_size: sentences embedded per batch.
        :param backend: the encoder: "torch", "onnx" or "onnx-int8" (see `sentence_encoder`).
        :param candidates: how many document sentences, those sharing the most terms with it,
            each answer sentence is compared with by embedding (0: all of them). Embedding
            every sentence of five passages was most of a question's time outside generation;
            on FaithBench the defaults score the same with 2 as with all (AUROC 0.624 both,
            balanced accuracy 0.604 against 0.599; bench/verifier.py --candidates).
        """
        if candidates < 0:
            raise ValueError(f"candidates must be at least 0 (got {candidates})")
        check_backend(backend)
        if language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)} (got {language!r})")
        for name, value in (
            ("threshold", threshold),
            ("embedding_weight", embedding_weight),
            ("novelty_penalty", novelty_penalty),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1] (got {value})")
        if softness < 0:
            raise ValueError(f"softness must be >= 0 (got {softness})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        self.model = model
        self.language = language
        self.threshold = threshold
        self.embedding_weight = embedding_weight
        self.novelty_penalty = novelty_penalty
        self.softness = softness
        self.batch_size = batch_size
        self.backend = backend
        self.candidates = candidates
        self._encoder = Bm25Encoder(language=language)
        self._embedder: Any = None

    def warm_up(self) -> None:
        """Load the embedding model on the CPU, from its local folder only (idempotent)."""
        if self._embedder is None:
            self._embedder = sentence_encoder(self.model, self.backend)

    @component.output_types(
        score=float, supported=bool, unsupported=list[str], sentences=list[dict]
    )
    def run(
        self, answer: str, documents: list[Document], query: str | None = None
    ) -> dict[str, Any]:
        """Score `answer` against the content of `documents`.

        With `query`, a sentence that adds no content word to the question ("The class you
        raise to return an error is the class you raise...") answers nothing and scores 0,
        however well the documents support it; its entry says `restates_question`.

        :returns: `score` in [0, 1]; `supported`, whether it reaches the threshold;
            `unsupported`, the sentences below the threshold; `sentences`, one dict per
            sentence: its text, `score`, `document` (the index of the best-supporting document),
            `similarity`, `lexical` and `novel` (the numbers and names no document contains).
            An empty answer or no document content gives a score of 0.
        """
        # A lead-in ("The steps are:") claims nothing by itself.
        sentences = [s for s in split_sentences(_MARKER.sub("", answer)) if not s.endswith(":")]
        kept = [i for i, d in enumerate(documents) if d.content and d.content.strip()]
        if not sentences or not kept:
            return {"score": 0.0, "supported": False, "unsupported": sentences, "sentences": []}
        self.warm_up()
        contents = [documents[i].content for i in kept]
        units, owners = _context_units(contents)
        sentence_terms = [set(self._encoder.terms(s)) for s in sentences]
        compared = self._compared(sentence_terms, units)
        embedded = sorted(set().union(*compared))
        vectors = self._embedder.encode(
            sentences + [units[u][:UNIT_CHARS] for u in embedded],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        # A document sentence not compared with an answer sentence counts as dissimilar (-1).
        cosines = np.full((len(sentences), len(units)), -1.0, dtype=np.float32)
        found = vectors[: len(sentences)] @ vectors[len(sentences) :].T
        column = {u: k for k, u in enumerate(embedded)}
        for i, chosen in enumerate(compared):
            units_of = sorted(chosen)
            cosines[i, units_of] = found[i, [column[u] for u in units_of]]
        # Per sentence and document: the best cosine, and the share of terms in the document.
        similarities = np.stack(
            [cosines[:, np.asarray(owners) == d].max(axis=1) for d in range(len(contents))], axis=1
        )
        document_terms = [set(self._encoder.terms(c)) for c in contents]
        shares = np.array([[_share(t, d) for d in document_terms] for t in sentence_terms])
        best = np.argmax(
            self.embedding_weight * similarities + (1 - self.embedding_weight) * shares, axis=1
        )
        context_terms = set().union(*document_terms)
        context_words = {w.lower() for c in contents for w in _WORD.findall(c)}
        context_numbers = set().union(*(_numbers(c) for c in contents))
        query_terms = set(self._encoder.terms(query)) if query else set()
        query_quantities = _quantities(query or "")
        context = "\n".join(contents)
        evidence = (
            _evidence(query, units, self._encoder) if query and claims.is_yes_no(query) else None
        )
        details = []
        for i, sentence in enumerate(sentences):
            novel = sorted(_numbers(sentence) - context_numbers) + [
                name for name in _names(sentence) if name.lower() not in context_words
            ]
            novel += claims.novel_claims(sentence, context, novel)
            contradicts = claims.contradictions(sentence, query or "", evidence, context)
            # Lexical support counts the terms of all documents: a sentence may join two.
            lexical = _share(sentence_terms[i], context_terms)
            similarity = float(similarities[i].max())
            restates = (
                bool(query_terms)
                and bool(sentence_terms[i])
                and sentence_terms[i] <= query_terms
                and _quantities(sentence) <= query_quantities
            )
            support = (
                0.0
                if restates or contradicts
                else sentence_support(
                    similarity,
                    lexical,
                    len(novel),
                    embedding_weight=self.embedding_weight,
                    novelty_penalty=self.novelty_penalty,
                )
            )
            details.append(
                {
                    "sentence": sentence,
                    "score": round(support, 4),
                    "document": kept[best[i]],
                    "similarity": round(similarity, 4),
                    "lexical": round(lexical, 4),
                    "novel": novel,
                    "restates_question": restates,
                    "contradicts": contradicts,
                }
            )
        score = soft_min([d["score"] for d in details], self.softness)
        return {
            "score": round(score, 4),
            "supported": score >= self.threshold,
            "unsupported": [d["sentence"] for d in details if d["score"] < self.threshold],
            "sentences": details,
        }

    def _compared(self, sentence_terms: list[set[str]], units: list[str]) -> list[set[int]]:
        """Per answer sentence, the document sentences to compare it with by embedding: the
        `candidates` sharing the most terms with it, or all when none shares one."""
        if not self.candidates:
            return [set(range(len(units)))] * len(sentence_terms)
        unit_terms = [set(self._encoder.terms(u)) for u in units]
        compared = []
        for terms in sentence_terms:
            overlaps = [len(terms & t) for t in unit_terms]
            if not any(overlaps):
                compared.append(set(range(len(units))))
                continue
            ranked = sorted(range(len(units)), key=lambda u: -overlaps[u])
            compared.append({u for u in ranked[: self.candidates] if overlaps[u]})
        return compared


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, each line on its own and without its list marker ("1.", "-")."""
    sentences = []
    for line in text.splitlines():
        line = _LIST_MARKER.sub("", line.strip())
        sentences += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return sentences


def sentence_support(
    similarity: float,
    lexical: float,
    novel: int,
    *,
    embedding_weight: float,
    novelty_penalty: float,
) -> float:
    """A sentence's support in [0, 1] from its similarity, lexical share and novel items."""
    lexical_support = lexical - novelty_penalty * novel
    support = embedding_weight * similarity + (1 - embedding_weight) * lexical_support
    return min(1.0, max(0.0, support))


def soft_min(values: list[float], softness: float) -> float:
    """`-t log(mean(exp(-v / t)))`: the minimum at t = 0, towards the mean as t grows."""
    low = min(values)
    if softness == 0:
        return low
    # Shifted by the minimum so that exp() cannot underflow to zero for small t.
    mean = sum(math.exp(-(v - low) / softness) for v in values) / len(values)
    return low - softness * math.log(mean)


def _context_units(contents: list[str]) -> tuple[list[str], list[int]]:
    """The sentences of all documents, each with the index of its document."""
    units: list[str] = []
    owners: list[int] = []
    for index, content in enumerate(contents):
        sentences = split_sentences(content)
        units += sentences
        owners += [index] * len(sentences)
    return units, owners


def _evidence(query: str, units: list[str], encoder: Bm25Encoder) -> str | None:
    """The document sentence sharing the most terms with the question, or None."""
    terms = set(encoder.terms(query))
    overlaps = [len(terms & set(encoder.terms(unit))) for unit in units]
    if not overlaps or not max(overlaps):
        return None
    return units[overlaps.index(max(overlaps))]


def _share(terms: set[str], context: set[str]) -> float:
    """The share of `terms` in `context`; 1.0 when there is nothing to check."""
    return len(terms & context) / len(terms) if terms else 1.0


def _numbers(text: str) -> set[str]:
    """The numbers written with digits in `text`, without thousands separators.

    Number words are left out: "scored two goals" is often a count the source never states.
    """
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def _quantities(text: str) -> set[str]:
    """The numbers of `text`, in digits or in words."""
    words = {w.lower() for w in _WORD.findall(text)}
    return _numbers(text) | (words & _NUMBER_WORDS)


def _names(sentence: str) -> list[str]:
    """Capitalised words after the first word of a sentence: names, places, titles."""
    words = _WORD.findall(sentence)
    return list(dict.fromkeys(w for w in words[1:] if w[0].isupper()))
