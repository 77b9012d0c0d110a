"""Turn a small model's short reply into an answer made only of the documents' own words."""

import re
from typing import Any

from haystack import Document, component
from haystack.dataclasses import GeneratedAnswer

from components.embedding.bm25 import Bm25Encoder
from components.verification.claims import is_yes_no, polarity_verdict, quantities

_WORDS = re.compile(r"\w+")
# Text shown as code, not as prose.
_CODE = re.compile(r"[(){}\[\]=@;]|^\s")
# A span this close to its whole sentence is shown as the sentence alone.
_WHOLE = 0.8


@component
class ExtractiveAnswerBuilder:
    """Show what a small model picked, in the documents' words, or nothing.

    A small model is asked for a short span copied from the selected sentences (decoded
    under a `SpanConstraint` when it runs in process). Its reply is refused when the
    constraint had to force it (`forced` above `max_forced`), and becomes an answer only
    when it is a span of one of them (same words in the same order, case and punctuation
    aside) and adds a word to the question: then the answer is that span
    as the sentence writes it, followed by the whole sentence, quoted and cited ("28 days:
    “Full-time employees receive 28 days of paid annual leave per calendar year.” [1]");
    a span of nearly the whole sentence is shown as the sentence. A sentence ending with ":"
    brings the line it introduces (a code line, a list item). Anything else the model wrote
    is not shown: the answer is unsupported and the pipeline escalates or abstains.

    A yes/no question ("Do I need a receipt for ...?") is answered from the best sentence
    instead of the reply, whose "Yes" a small model writes for nearly any question: "Yes"
    when the question and the sentence are both negated or neither is, "No" otherwise,
    followed by the sentence, quoted and cited, for the reader to check.

    `documents` of the answer is the one chunk cited; `meta` holds `supported`, `method`
    ("span" or "polarity"), `span`, `sentence` and the model's `reply`.

    Usage:
    ```python
    builder = ExtractiveAnswerBuilder()
    answer = builder.run(query=q, replies=["28 days"], documents=sentences)["answers"][0]
    answer.data, answer.meta["supported"]
    ```
    """

    def __init__(
        self, *, language: str = "english", min_coverage: float = 0.5, max_forced: float = 0.1
    ) -> None:
        """Create the builder.

        :param language: the language of the stemmer and stop words that tell whether a
            span adds anything to the question.
        :param min_coverage: the share of the question's content words (stemmed) that a
            sentence with its section heading must hold to answer it.
        :param max_forced: a reply decoded under a span constraint is refused when the
            constraint moved the model further than this from its own choice (log-probability;
            see `SpanConstraint.forced`): the model wanted to write something else.
        """
        if not 0.0 <= min_coverage <= 1.0:
            raise ValueError(f"min_coverage must be in [0, 1] (got {min_coverage})")
        if max_forced < 0:
            raise ValueError(f"max_forced must be at least 0 (got {max_forced})")
        self.language = language
        self.min_coverage = min_coverage
        self.max_forced = max_forced
        self._terms = Bm25Encoder(language=language)

    @component.output_types(answers=list[GeneratedAnswer])
    def run(
        self,
        query: str,
        replies: list[str],
        documents: list[Document],
        forced: float | None = None,
    ) -> dict[str, Any]:
        """Anchor the first reply in `documents` (sentences, each with `sentence_score`);
        `forced`: how far a span constraint moved the model to write it (None: not decoded
        under one)."""
        reply = (replies[0] if replies else "").strip()
        question_terms = set(self._terms.terms(query))
        if is_yes_no(query):
            return {"answers": [self._yes_no(query, reply, question_terms, documents)]}
        if forced is not None and forced > self.max_forced:
            refused = _unsupported(query, reply, "span", forced=forced, refused="forced")
            return {"answers": [refused]}
        extra = {} if forced is None else {"forced": forced}
        # The span may occur in several sentences: the one that covers the question best.
        anchored = [
            (
                self._coverage(question_terms, d, headed=True),
                d.meta.get("sentence_score", 0.0),
                d,
                span,
            )
            for d in documents
            if (span := _find(reply, d.content or "")) is not None
        ]
        if not anchored:
            return {"answers": [_unsupported(query, reply, "span", refused="not_a_span", **extra)]}
        coverage, _, document, span = max(anchored, key=lambda found: found[:2])
        if coverage < self.min_coverage:
            extra.update(refused="uncovered", coverage=round(coverage, 4))
        elif set(self._terms.terms(span)) <= question_terms:
            extra.update(refused="restates")
        else:
            sentence, code = _shown(document)
            whole = len(span) >= _WHOLE * len(document.content or "")
            text = f"{sentence} [1]" if whole else f"{span}: \u201c{sentence}\u201d [1]"
            text += code
            answer = _answer(query, text, document, "span", span, reply)
            answer.meta.update(extra)
            return {"answers": [answer]}
        return {"answers": [_unsupported(query, reply, "span", **extra)]}

    def _yes_no(
        self, query: str, reply: str, question_terms: set[str], documents: list[Document]
    ) -> GeneratedAnswer:
        """ "Yes" or "No" read from the sentence that covers the question best: "No" needs
        it to cover `min_coverage` of the question, "Yes" all of it, quantities included
        (a sentence about the fourth day of sick leave does not say yes to two days)."""
        if not documents or not question_terms:
            return _unsupported(query, reply, "polarity", refused="no_polarity")
        best = max(
            documents,
            key=lambda d: (
                self._coverage(question_terms, d, headed=False),
                d.meta.get("sentence_score", 0.0),
            ),
        )
        verdict = polarity_verdict(query, best.content or "")
        coverage = self._coverage(question_terms, best, headed=verdict == "no")
        if verdict == "yes":
            enough = coverage == 1.0 and quantities(query) <= quantities(best.content or "")
        else:
            enough = coverage >= self.min_coverage
        if not enough:
            return _unsupported(query, reply, "polarity", refused="no_polarity")
        sentence, code = _shown(best)
        text = f"{verdict.capitalize()}: \u201c{sentence}\u201d [1]{code}"
        return _answer(query, text, best, "polarity", verdict.capitalize(), reply)

    def _coverage(self, question_terms: set[str], document: Document, headed: bool) -> float:
        """The share of `question_terms` in the sentence (with its section heading)."""
        text = document.content or ""
        if headed:
            text = f"{document.meta.get('section') or ''}\n{text}"
        return len(question_terms & set(self._terms.terms(text))) / len(question_terms)


def _find(reply: str, sentence: str) -> str | None:
    """The span of `sentence` with the words of `reply` in order, as the sentence writes
    it, or None."""
    words = _WORDS.findall(reply)
    if not words:
        return None
    pattern = r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)"
    match = re.search(pattern, sentence, re.IGNORECASE)
    return match.group(0) if match else None


def _unsupported(query: str, reply: str, method: str, **extra: Any) -> GeneratedAnswer:
    return GeneratedAnswer(
        data=reply,
        query=query,
        documents=[],
        meta={"supported": False, "method": method, "reply": reply, **extra},
    )


def _shown(document: Document) -> tuple[str, str]:
    """The sentence, with the line it introduces when it ends with ":" (a list item), and
    the code it introduces as a fenced block to follow the citation ("" when none)."""
    sentence = document.content or ""
    following = document.meta.get("next")
    if not following:
        return sentence, ""
    if "\n" in following or _CODE.search(following):
        return sentence, f"\n```\n{following}\n```"
    return f"{sentence} {following}", ""


def _answer(
    query: str, text: str, document: Document, method: str, picked: str, reply: str
) -> GeneratedAnswer:
    return GeneratedAnswer(
        data=text,
        query=query,
        documents=[document],
        meta={
            "supported": True,
            "method": method,
            "span": picked,
            "sentence": document.content,
            "reply": reply,
        },
    )
