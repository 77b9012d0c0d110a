"""Generate text in process with llama.cpp."""

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from haystack import component, logging

from components import interruption
from components.errors import GenerationError, ModelCallError
from components.generation.native_output import native_output_silenced
from components.generation.span_constraint import SpanConstraint

logger = logging.getLogger(__name__)


@component
class LlamaCppGenerator:
    """Complete a prompt with a GGUF model run in process by llama-cpp-python.

    Base models (such as the shipped Gemma 3 270M) have no chat template, so this generator is
    completion-style: the prompt is continued until a stop sequence or `max_new_tokens`. With
    `answer_on_same_line` (the default), the first token may not be a line break: a small model
    after "Answer:" otherwise often opens a code block, or stops at once on a "\n" stop.

    The same prompt gets the same reply in every process: llama.cpp's results depend on how a
    prompt is cut into evaluation batches, so its cache of the previous prompt is not reused
    at whatever point two prompts happen to diverge. Only a declared `cached_prefixes` entry
    (a prompt's fixed instruction and examples) is reused, and it is always evaluated on its
    own first, in a fresh process as after any other prompt; the rest of the prompt follows
    in one batch.

    Usage:
    ```python
    generator = LlamaCppGenerator(model_path="gemma-3-270m-q4_k_m.gguf", stop=["\\n"])
    generator.warm_up()
    generator.run(prompt="Question: ...\\nAnswer:")["replies"][0]
    ```
    """

    def __init__(
        self,
        *,
        model_path: str,
        context_window: int = 2048,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        threads: int | None = None,
        answer_on_same_line: bool = True,
        cached_prefixes: list[str] | None = None,
    ) -> None:
        """Create the generator.

        :param model_path: path of the GGUF file.
        :param context_window: tokens of prompt and answer together.
        :param max_new_tokens: the longest answer, in tokens.
        :param temperature: 0 for deterministic, greedy decoding.
        :param stop: sequences that end the answer.
        :param threads: CPU threads; None lets llama.cpp choose.
        :param answer_on_same_line: forbid a line break as the first generated token.
        :param cached_prefixes: prompt beginnings (the fixed frame of a prompt) kept
            evaluated between calls; any other part of a prompt is evaluated anew each time.
        """
        if max_new_tokens >= context_window:
            raise ValueError(
                f"max_new_tokens ({max_new_tokens}) must be below context_window ({context_window})"
            )
        self.model_path = model_path
        self.context_window = context_window
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.stop = list(stop or [])
        self.threads = threads
        self.answer_on_same_line = answer_on_same_line
        self.cached_prefixes = list(cached_prefixes or [])
        self._prefix_tokens: list[list[int]] = []
        self._llm: Any = None
        self._line_breaks: list[int] = []

    def warm_up(self) -> None:
        """Load the model (idempotent)."""
        if self._llm is not None:
            return
        if not Path(self.model_path).is_file():
            raise GenerationError(f"the model file {self.model_path} does not exist")
        from llama_cpp import Llama

        try:
            with native_output_silenced():
                self._llm = Llama(
                    model_path=self.model_path,
                    n_ctx=self.context_window,
                    n_threads=self.threads,
                    verbose=False,
                )
        except (ValueError, RuntimeError) as e:
            raise GenerationError(f"llama.cpp could not load {self.model_path}: {e}") from e
        for text in ("\n", "\n\n", "\n\n\n", " \n", "\r\n", "\t\n"):
            tokens = self._llm.tokenize(text.encode(), add_bos=False, special=False)
            if len(tokens) == 1:
                self._line_breaks.append(tokens[0])
        self._prefix_tokens = [self._llm.tokenize(p.encode()) for p in self.cached_prefixes]

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for this model, without the beginning-of-text token."""
        self.warm_up()
        return len(self._llm.tokenize(text.encode(), add_bos=False, special=False))

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(
        self,
        prompt: str,
        json_schema: dict[str, Any] | None = None,
        streaming_callback: Callable[[str], None] | None = None,
        spans: list[str] | None = None,
    ) -> dict[str, Any]:
        """Continue `prompt`.

        :param json_schema: when given, decoding is constrained by a grammar built from this
            JSON schema, so the reply is JSON of that shape (stop sequences do not apply).
        :param spans: when given, the reply is a span of one of these texts, whole words
            (`SpanConstraint`); `meta` then holds `span_logprob`, how much the model wanted it.
        :param streaming_callback: called with each piece of text as it is decoded (text that
            could begin a stop sequence is held back until it cannot); the reply is still
            returned whole.
        :returns: `replies`, one stripped completion, and `meta`, its model, token counts,
            finish reason and seconds.
        :raises ModelCallError: llama.cpp failed (kind "server_error").
        :raises Interrupted: a stop was requested (`components.interruption`); it is checked
            after each token, so a long generation stops at once, and no cut reply is returned.
        """
        interruption.raise_if_stopped()
        self.warm_up()
        started = time.perf_counter()
        name = Path(self.model_path).name
        try:
            grammar = None
            if json_schema is not None:
                from llama_cpp import LlamaGrammar

                grammar = LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)
            # Tokenised once, with the beginning-of-text token and without parsing special-token
            # text, so a document cannot smuggle control tokens into the prompt.
            tokens = self._llm.tokenize(prompt.encode())
            self._restore_prefix(tokens)
            constraint = self._span_constraint(spans) if spans is not None else None
            if constraint is not None:
                from llama_cpp import LogitsProcessorList

                rules = LogitsProcessorList([constraint.processor(len(tokens))])
            else:
                rules = self._first_token_rules(len(tokens))
            output = self._llm.create_completion(
                tokens,
                max_tokens=self.max_new_tokens,
                temperature=self.temperature,
                stop=self.stop if grammar is None else [],
                logits_processor=rules,
                stopping_criteria=_stop_on_request(),
                grammar=grammar,
                stream=streaming_callback is not None,
            )
            if streaming_callback is not None:
                output = self._collect(output, streaming_callback, len(tokens))
        except (ValueError, RuntimeError) as e:
            raise ModelCallError(name, "server_error", f"llama.cpp failed to generate: {e}") from e
        choice = output["choices"][0]
        usage = output.get("usage", {})
        meta = {
            "model": name,
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "finish_reason": choice.get("finish_reason"),
            "seconds": round(time.perf_counter() - started, 3),
        }
        if constraint is not None:
            meta["span_logprob"] = round(constraint.logprob, 4)
            meta["span_forced"] = round(constraint.forced, 4)
        return {"replies": [choice["text"].strip()], "meta": [meta]}

    def _span_constraint(self, spans: list[str]) -> SpanConstraint:
        llm = self._llm

        def piece(token: int) -> str:
            # The token's text as it reads after another token (a leading space kept).
            return llm.detokenize([token], prev_tokens=[0]).decode("utf-8", errors="ignore")

        return SpanConstraint(
            spans,
            lambda text: llm.tokenize(text.encode(), add_bos=False, special=False),
            piece,
            stop_tokens=[llm.token_eos(), *self._line_breaks],
        )

    def _restore_prefix(self, tokens: list[int]) -> None:
        """Leave in llama.cpp's cache a declared prefix of `tokens`, evaluated on its own,
        and nothing else (see the class docstring)."""
        llm = self._llm
        for prefix in self._prefix_tokens:
            if len(tokens) > len(prefix) and tokens[: len(prefix)] == prefix:
                if llm.input_ids[: llm.n_tokens][: len(prefix)].tolist() != prefix:
                    llm.reset()
                    llm.eval(prefix)
                llm.n_tokens = len(prefix)
                return
        llm.reset()

    def _collect(
        self, chunks: Iterator[dict[str, Any]], callback: Callable[[str], None], prompt_tokens: int
    ) -> dict[str, Any]:
        """Pass each streamed piece to `callback`; the whole completion, as without streaming."""
        pieces: list[str] = []
        finish = None
        for chunk in chunks:
            choice = chunk["choices"][0]
            if choice["text"]:
                pieces.append(choice["text"])
                callback(choice["text"])
            finish = choice.get("finish_reason") or finish
        text = "".join(pieces)
        completion = len(self._llm.tokenize(text.encode(), add_bos=False, special=False))
        return {
            "choices": [{"text": text, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion},
        }

    def _first_token_rules(self, prompt_tokens: int) -> Any:
        """A logits processor that bans line breaks at the first generated position, or None."""
        if not (self.answer_on_same_line and self._line_breaks):
            return None
        from llama_cpp import LogitsProcessorList

        line_breaks = self._line_breaks

        def no_leading_line_break(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
            if len(input_ids) == prompt_tokens:
                scores[line_breaks] = -np.inf
            return scores

        return LogitsProcessorList([no_leading_line_break])


def _stop_on_request() -> Any:
    """A stopping criterion that raises `Interrupted` between two tokens once a stop is
    requested: llama.cpp generates in a loop that no KeyboardInterrupt reaches from outside
    the main thread."""
    from llama_cpp import StoppingCriteriaList

    def stop(input_ids: np.ndarray, logits: np.ndarray) -> bool:
        interruption.raise_if_stopped()
        return False

    return StoppingCriteriaList([stop])
