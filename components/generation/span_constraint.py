"""Constrain a model's reply, token by token, to a span of given texts."""

import math
from typing import Any

import numpy as np


class SpanConstraint:
    """Let a model write only a span of `texts`: whole words, in the texts' order.

    Each text is tokenised as it would follow a space. At the reply's first token any token
    that starts a word of a text (after a space, or a word after punctuation such as a
    backtick) is allowed; after that only the token that continues one of the spans written
    so far, or, once the reply holds a letter or digit, a stop token where a word ends (the
    next token of the text starts with a space or punctuation, or the text ends). Greedy
    decoding under this constraint is the span the model itself likes best, one token at a
    time, so its words are always the documents' words. `logprob` is the mean
    log-probability, under the model's unconstrained distribution, of the tokens it chose
    (stop token included): how much the model wanted that span; `forced` how far the
    constraint had to move it from its own first choice.

    Usage (with llama-cpp-python's `logits_processor`):
    ```python
    constraint = SpanConstraint(texts, tokenize, piece, stop_tokens=[eos, newline])
    llm.create_completion(prompt_tokens, logits_processor=[constraint.processor(len(prompt))])
    constraint.logprob
    ```
    """

    def __init__(
        self,
        texts: list[str],
        tokenize: Any,
        piece: Any,
        stop_tokens: list[int],
    ) -> None:
        """Tokenise `texts`.

        :param tokenize: text -> token ids (without a beginning-of-text token).
        :param piece: token id -> its text.
        :param stop_tokens: the tokens that end a reply (end of text, line break).
        """
        self.stop_tokens = sorted(set(stop_tokens))
        self._streams: list[list[int]] = []
        # The tokens that hold a letter or digit: a reply ends only once it has one.
        self._worded: set[int] = set()
        # Whether a reply may start at each position, and may end before it.
        self._starts: list[list[bool]] = []
        self._ends: list[list[bool]] = []
        for text in texts:
            tokens = tokenize(" " + " ".join(text.split()))
            pieces = [piece(token) for token in tokens]
            self._streams.append(tokens)
            self._starts.append(
                [
                    p[:1].isspace() or (p[:1].isalnum() and not before[-1:].isalnum())
                    for before, p in zip(["", *pieces], pieces)
                ]
            )
            self._worded.update(t for t, p in zip(tokens, pieces) if any(c.isalnum() for c in p))
            self._ends.append([not p[:1].isalnum() for p in pieces[1:]] + [True])
        self._prompt_tokens = 0
        self._chosen: list[float] = []
        self._gaps: list[float] = []
        self._last: tuple[np.ndarray, float] | None = None

    @property
    def logprob(self) -> float:
        """The mean log-probability of the tokens chosen so far (-inf when none)."""
        return sum(self._chosen) / len(self._chosen) if self._chosen else -math.inf

    @property
    def forced(self) -> float:
        """How far the constraint moved the model, in log-probability: the largest gap, over
        the tokens chosen so far, between the model's own first choice and the token the
        constraint let it write (0.0 when the model wrote the span unconstrained)."""
        return max(self._gaps, default=0.0)

    def processor(self, prompt_tokens: int) -> Any:
        """A logits processor for a prompt of `prompt_tokens` tokens (resets the record)."""
        self._prompt_tokens = prompt_tokens
        self._chosen = []
        self._gaps = []
        self._last = None
        return self._constrain

    def _constrain(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        written = [int(t) for t in input_ids[self._prompt_tokens :]]
        if self._last is not None and written:
            # The token chosen at the previous step, scored by the unconstrained logits.
            logits, norm = self._last
            self._chosen.append(float(logits[written[-1]]) - norm)
            self._gaps.append(float(np.max(logits)) - float(logits[written[-1]]))
        allowed = self._allowed(written)
        self._last = (scores.copy(), _logsumexp(scores))
        constrained = np.full_like(scores, -np.inf)
        constrained[allowed] = scores[allowed]
        return constrained

    def _allowed(self, written: list[int]) -> list[int]:
        """The tokens that may follow `written`."""
        allowed: set[int] = set()
        n = len(written)
        worded = any(token in self._worded for token in written)
        for stream, starts, ends in zip(self._streams, self._starts, self._ends):
            for start in range(len(stream) - max(n, 1) + 1):
                if not starts[start] or stream[start : start + n] != written:
                    continue
                at = start + n
                if at < len(stream):
                    allowed.add(stream[at])
                if worded and ends[at - 1]:
                    allowed.update(self.stop_tokens)
        if not allowed:
            # Nothing continues (a reply longer than every text): end it.
            allowed.update(self.stop_tokens)
        return sorted(allowed)


def _logsumexp(scores: np.ndarray) -> float:
    top = float(np.max(scores))
    return top + math.log(float(np.sum(np.exp(scores - top))))
