"""What an answer records of the documents and the models: citations, quotes, the check of an
extractive answer, skipped models."""

from typing import Any

from haystack import Document

from components.generation.fallback_generator import ModelCall
from components.sources import source_name
from pipelines.answer import Answer, Citation

SNIPPET_CHARS = 300


def extracted(cited: Any) -> dict[str, Any]:
    """The check of an extractive answer: supported exactly when it is the documents' words
    (a span of a selected sentence, or a yes/no read from one)."""
    meta = cited.meta
    supported = bool(meta["supported"])
    return {
        "score": 1.0 if supported else 0.0,
        "supported": supported,
        "unsupported": [] if supported else [meta["reply"]],
        "extractive": {
            key: meta[key]
            for key in ("method", "span", "sentence", "reply", "forced", "refused", "coverage")
            if key in meta
        },
    }


def refusal(check: dict[str, Any], builder: Any) -> str:
    """Why an extractive model's reply was not shown, from its check (see `extracted`) and
    the thresholds of the `ExtractiveAnswerBuilder` that made it."""
    refused = check.get("refused")
    if refused == "forced":
        return (
            "the model wanted to write something other than a span of the selected sentences "
            f"(forced {check['forced']:.2f} from its own choice; verification.max_forced is "
            f"{builder.max_forced})"
        )
    if refused == "uncovered":
        return (
            "the model's span comes from a sentence that holds too little of the question "
            f"({check['coverage']:.0%} of its content words; {builder.min_coverage:.0%} is "
            "needed)"
        )
    if refused == "restates":
        return "the model's span adds no content word to those of the question"
    if refused == "no_polarity":
        return (
            "no selected sentence covers the yes/no question well enough to read its answer "
            "(a yes needs every word of the question and its numbers)"
        )
    return "the model's reply is not a span of the selected sentences"


def citation(number: int, document: Document) -> Citation:
    return Citation(
        number=number,
        source=source_name(document.meta),
        page=document.meta.get("page"),
        section=document.meta.get("section", ""),
        snippet=(document.content or "")[:SNIPPET_CHARS],
        score=document.meta.get("similarity"),
    )


def quote(document: Document) -> str:
    """A passage on one line without its title lines, cut after its last whole sentence
    within SNIPPET_CHARS (or at a word, with an ellipsis, when its first sentence is longer)."""
    titles = set((document.meta.get("section") or "").split(" > "))
    lines = (document.content or "").split("\n")
    body = [line for line in lines if line.strip() not in titles] or lines
    flat = " ".join(" ".join(body).split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    head = flat[:SNIPPET_CHARS]
    end = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    if end > 0:
        return head[: end + 1]
    return head.rsplit(" ", 1)[0] + "\u2026"


def record_skips(answer: Answer, skipped: list[tuple[str, str]]) -> None:
    for name, reason in skipped:
        answer.models_tried.append(ModelCall(name, "skipped", reason).to_dict())
