"""What a request returns: the answer, its citations, and the record of every decision."""

from dataclasses import asdict, dataclass, field
from typing import Any

from haystack import Document

from components.sources import source_name


@dataclass
class Citation:
    """One source of an answer, numbered as in the answer text."""

    number: int
    source: str
    page: int | None
    section: str
    snippet: str
    score: float | None


@dataclass
class Answer:
    """An answer with its citations and the trace of how it was made.

    `decision` says what the pipeline did: "pass" (a verified answer from the documents),
    "abstain" (no answer the documents support), "direct" (generated without retrieval),
    "extract" (structured data in `data`), "handoff", "reply" or "refuse". `models_tried`
    lists every model call or skip with its outcome, tokens, seconds and cost, including
    answers sent on because verification found them weak. `retrieval` records the runtime
    gate on retrieval: the best passage's similarity, the floor below which the pipeline
    abstains, the level below which it escalates, and the verdict. `conversation` says how a
    follow-up question was read: the question it follows, the question it was read as, and
    the text searched when that alone found nothing. `safety` lists the sentences taken out of
    the retrieved passages because they tried to instruct the model.
    """

    question: str
    answer: str
    citations: list[Citation]
    supported: bool
    decision: str = "pass"
    intent: dict[str, Any] | None = None
    route: str = "rag"
    model: str | None = None
    models_tried: list[dict[str, Any]] = field(default_factory=list)
    retrieval: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    cost: float = 0.0
    tokens: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "completion": 0})
    data: Any = None
    handoff: dict[str, Any] | None = None
    handoff_offered: bool = False
    conversation: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None
    trace_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def passage(document: Document) -> dict[str, Any]:
    """A retrieved chunk as search results show it: source, page, section, text and its dense
    similarity to the question."""
    return {
        "source": source_name(document.meta),
        "page": document.meta.get("page"),
        "section": document.meta.get("section", ""),
        "text": document.content or "",
        "similarity": document.meta.get("similarity"),
    }
