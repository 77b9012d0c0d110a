"""Turn a model's reply into an answer whose sentences cite the chunks that support them."""

import re
from typing import Any

from haystack import Document, component
from haystack.dataclasses import GeneratedAnswer

from components.embedding.bm25 import Bm25Encoder

ABSTAIN = "The documents do not say."
_MARKER = re.compile(r"\s*\[(\d+)\]")


def strip_citations(text: str) -> str:
    """`text` without its citation markers ("... per week [1]." -> "... per week.")."""
    return _MARKER.sub("", text)


# A sentence ends at . ! or ? followed by white space, so "127.0.0.1" or "3.5" stays whole.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@component
class CitedAnswerBuilder:
    """Attach citations to the sentences of a reply, or abstain when nothing supports it.

    Small models rarely cite reliably, so support is measured, not trusted: a sentence is
    supported by the packed chunk that holds the largest share of its stemmed content words,
    when that share reaches `min_support`. Citations are renumbered [1], [2], ... in the order the
    answer first uses them, and `documents` of the answer lists exactly those chunks in that
    order. When no sentence is supported, the answer is "The documents do not say." with no
    citations, and `meta["supported"]` is False.

    Usage:
    ```python
    builder = CitedAnswerBuilder(min_support=0.5)
    answer = builder.run(query=q, replies=["Three days per week."], documents=packed)["answers"][0]
    answer.data        # "Three days per week [1]."
    answer.documents   # [the chunk that says so]
    ```
    """

    def __init__(self, *, min_support: float = 0.5, language: str = "english") -> None:
        """Create the builder.

        :param min_support: the share, in (0, 1], of a sentence's content words that one chunk
            must hold to support it.
        :param language: the language of stemmer and stop words used to compare words.
        """
        if not 0 < min_support <= 1:
            raise ValueError(f"min_support must be in (0, 1] (got {min_support})")
        self.min_support = min_support
        self.language = language
        self._encoder = Bm25Encoder(language=language)

    @component.output_types(answers=list[GeneratedAnswer])
    def run(self, query: str, replies: list[str], documents: list[Document]) -> dict[str, Any]:
        """Build the answer to `query` from the first reply and the packed `documents`."""
        reply = strip_citations(replies[0] if replies else "").strip()
        doc_terms = [
            set(self._encoder.terms(f"{d.meta.get('section', '')}\n{d.content or ''}"))
            for d in documents
        ]
        cited: list[Document] = []
        parts: list[str] = []
        best_support = 0.0
        for sentence in (s.strip() for s in _SENTENCE_END.split(reply)):
            if not sentence:
                continue
            index, support = self._support(sentence, doc_terms)
            best_support = max(best_support, support)
            if index is None:
                parts.append(sentence)
                continue
            if documents[index] not in cited:
                cited.append(documents[index])
            parts.append(_cite(sentence, cited.index(documents[index]) + 1))
        if not cited:
            answer = GeneratedAnswer(
                data=ABSTAIN,
                query=query,
                documents=[],
                meta={"supported": False, "support": round(best_support, 3), "reply": reply},
            )
        else:
            answer = GeneratedAnswer(
                data=" ".join(parts),
                query=query,
                documents=cited,
                meta={"supported": True, "support": round(best_support, 3), "reply": reply},
            )
        return {"answers": [answer]}

    def _support(self, sentence: str, doc_terms: list[set[str]]) -> tuple[int | None, float]:
        """The index of the best-supporting document (or None) and its support share."""
        terms = set(self._encoder.terms(sentence))
        if not doc_terms:
            return None, 0.0
        if not terms:
            # Nothing to compare ("Yes."): the reply stands on the best-ranked passage.
            return 0, 1.0
        shares = [len(terms & d) / len(terms) for d in doc_terms]
        best = max(range(len(shares)), key=lambda i: (shares[i], -i))
        if shares[best] < self.min_support:
            return None, shares[best]
        return best, shares[best]


def _cite(sentence: str, number: int) -> str:
    """Put the citation before the sentence's final punctuation: "... per week [1]."."""
    stripped = sentence.rstrip(".!?")
    return f"{stripped} [{number}]{sentence[len(stripped) :]}"
