"""SpanConstraint: a reply decoded under it is always a span of its texts, in whole words."""

import re

import numpy as np
import pytest

from components.generation.llama_cpp_generator import LlamaCppGenerator
from components.generation.span_constraint import SpanConstraint
from components.shipped_models import gguf_model_path

# A small vocabulary: token i is WORDS[i]; a leading space marks a token that starts a word,
# "time" continues one ("Fulltime").
WORDS = ["<eos>", "\n", " Full", "time", " staff", " get", " 28", " days", ".", " leave", " 5"]
STOP = [0, 1]
TEXTS = {
    " Fulltime staff get 28 days.": [2, 3, 4, 5, 6, 7, 8],
    " 5 days leave.": [10, 7, 9, 8],
}


def tokenize(text: str) -> list[int]:
    return TEXTS[text]


def allowed(constraint: SpanConstraint, written: list[int]) -> set[int]:
    process = constraint.processor(prompt_tokens=1)
    scores = process(np.array([99, *written]), np.zeros(len(WORDS), dtype=np.float32))
    return {i for i, s in enumerate(scores) if s > -np.inf}


@pytest.fixture
def constraint() -> SpanConstraint:
    texts = ["Fulltime staff get 28 days.", "5 days leave."]
    return SpanConstraint(texts, tokenize, WORDS.__getitem__, stop_tokens=STOP)


def test_a_reply_starts_at_a_word_and_continues_only_as_a_text_does(constraint):
    # "time" continues a word, so no reply starts there; nothing ends an empty reply.
    assert allowed(constraint, []) == {2, 4, 5, 6, 7, 9, 10}
    assert allowed(constraint, [WORDS.index(" 28")]) == {7, *STOP}
    # " days" occurs in both texts: either continuation, or a stop after a whole word.
    assert allowed(constraint, [WORDS.index(" days")]) == {8, 9, *STOP}


def test_a_reply_never_ends_inside_a_word(constraint):
    assert allowed(constraint, [WORDS.index(" Full")]) == {3}


def test_forced_and_logprob_measure_the_model_s_own_choice(constraint):
    process = constraint.processor(prompt_tokens=1)
    logits = np.zeros(len(WORDS), dtype=np.float32)
    logits[WORDS.index(" leave")] = 2.0  # the model prefers " leave" after " days"...
    process(np.array([99]), logits.copy())
    process(np.array([99, WORDS.index(" 28")]), logits.copy())
    process(np.array([99, WORDS.index(" 28"), WORDS.index(" days")]), logits.copy())
    # ... and was held to " 28 days": 2.0 below its first choice at each step.
    assert constraint.forced == pytest.approx(2.0)
    assert constraint.logprob < 0


@pytest.fixture(scope="module")
def gemma():
    generator = LlamaCppGenerator(model_path=gguf_model_path("gemma-3-270m"), stop=["\n"])
    generator.warm_up()
    return generator


@pytest.mark.parametrize(
    "question",
    [
        "How many days of paid annual leave does a full-time employee get?",
        "Who founded the library, and why?",
        "What colour is the sky on Mars?",
    ],
)
def test_the_shipped_model_under_the_constraint_answers_with_a_span(gemma, question):
    texts = [
        "Full-time employees receive 28 days of paid annual leave per calendar year.",
        "The library was founded in 1854 by the merchant Thomas Crane.",
    ]
    prompt = f"Context: {' '.join(texts)}\nQuestion: {question}\nAnswer:"
    output = gemma.run(prompt=prompt, spans=texts)
    reply, meta = output["replies"][0], output["meta"][0]
    assert reply and any(re.search(rf"(?<!\w){re.escape(reply)}(?!\w)", text) for text in texts), (
        reply
    )
    assert meta["span_forced"] >= 0 and meta["span_logprob"] <= 0
