"""Read a follow-up question in the context of the conversation's previous question."""

from typing import Any

from haystack import component

# Pronouns that stand for the previous question's topic, and the wh-words to drop from it.
_STAND_INS = {"it", "they", "them", "that", "this", "those", "these"}
_POSSESSIVES = {"its", "their"}
_WH = {"what", "which", "whose", "how", "many", "much"}


@component
class FollowUpResolver:
    """Turn a follow-up into a question that stands alone, as far as that can be done safely.

    With spaCy's English model: a pronoun that stands for a thing ("it", "they", "that",
    "its") is replaced by the topic of the previous question (its subject or object noun
    phrase, without wh-words): after "How long does the espresso machine warranty last?",
    "What does it cover?" becomes "What does the espresso machine warranty cover?". The
    `context_query` is the previous question and this one together: to search with when the
    question alone finds nothing relevant ("What is not covered?").

    Usage:
    ```python
    resolver = FollowUpResolver()
    resolver.run(question="What does it cover?", history=["How long does the warranty last?"])
    # {"question": "What does the warranty cover?", "context_query": "How long ... cover?",
    #  "topic": "the warranty"}
    ```
    """

    def __init__(self, *, model: str = "en_core_web_sm") -> None:
        """Create the resolver; the spaCy model loads on `warm_up` or first use."""
        self.model = model
        self._nlp: Any = None

    def warm_up(self) -> None:
        """Load the spaCy model (idempotent)."""
        if self._nlp is None:
            import spacy

            self._nlp = spacy.load(self.model, disable=["ner", "lemmatizer"])

    @component.output_types(question=str, context_query=str | None, topic=str | None)
    def run(self, question: str, history: list[str]) -> dict[str, Any]:
        """Resolve `question` against `history` (earlier questions, oldest first).

        :returns: `question` (resolved, or as given), `context_query` (the previous and this
            question; None without history) and `topic` (what its pronouns were taken to
            mean; None when none was replaced).
        """
        if not history:
            return {"question": question, "context_query": None, "topic": None}
        self.warm_up()
        doc = self._nlp(question)
        pronouns = [
            t
            for t in doc
            if (t.lower_ in _STAND_INS and t.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj"))
            or t.lower_ in _POSSESSIVES
        ]
        context_query = f"{history[-1]} {question}"
        topic = self._topic(history[-1]) if pronouns else None
        if topic is None:
            return {"question": question, "context_query": context_query, "topic": None}
        parts = []
        for token in doc:
            if token in pronouns:
                text = topic
                if token.lower_ in _POSSESSIVES:
                    text += "'" if topic.endswith("s") else "'s"
                parts.append(text + token.whitespace_)
            else:
                parts.append(token.text_with_ws)
        return {"question": "".join(parts), "context_query": context_query, "topic": topic}

    def _topic(self, previous: str) -> str | None:
        """The noun phrase the previous question is about: its subject or object, not a
        pronoun, without wh-words ("What water temperature" -> "the water temperature")."""
        chunks = [
            c
            for c in self._nlp(previous).noun_chunks
            if c.root.tag_ not in ("PRP", "WP") and c.root.dep_ in ("nsubj", "nsubjpass", "dobj")
        ]
        if not chunks:
            return None
        words = [t.text for t in chunks[0] if t.lower_ not in _WH]
        if not words:
            return None
        if words[0].lower() not in ("the", "a", "an", "my", "your", "our"):
            words.insert(0, "the")
        elif words[0].lower() in ("my", "your"):
            # "my password" in the previous question is "your password" to the documents.
            words[0] = "the"
        return " ".join(words)
