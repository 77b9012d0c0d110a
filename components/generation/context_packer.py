"""Build a completion prompt from the best chunks that fit the model's context window."""

import re
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.core.serialization import (
    component_from_dict,
    component_to_dict,
    import_class_by_name,
)

from components.generation.native_output import native_output_silenced
from components.sources import source_name

INSTRUCTION = (
    "Answer the question with a short sentence, using only the numbered context passages, "
    "and cite the passage number in brackets."
)
# Two worked examples: a base model copies their form, a short sentence ending with a citation,
# and the second shows that the answer may come from any passage, not only the first.
EXAMPLES = (
    "Context:\n"
    "[1] Company Cafeteria > Opening hours\n"
    "The cafeteria on the second floor is open from 8:00 to 16:00 on weekdays. Breakfast is "
    "served until 10:00.\n\n"
    "Question: Until what time is breakfast served?\n"
    "Answer: Breakfast is served until 10:00 [1].\n\n"
    "Context:\n"
    "[1] Company Cafeteria > Opening hours\n"
    "The cafeteria on the second floor is open from 8:00 to 16:00 on weekdays. Breakfast is "
    "served until 10:00.\n\n"
    "[2] Company Cafeteria > Payment\n"
    "Meals are paid with the employee badge; the company covers half of the price of lunch.\n\n"
    "Question: How much of the lunch price does the company pay?\n"
    "Answer: The company covers half of the price of lunch [2].\n\n"
)
# The "short" style: the span that answers a factoid question, shown by five worked examples
# of the kinds of answer (a time, a share, a name, a place, a number).
SHORT_INSTRUCTION = "Answer each question with a short span copied from its context."
SHORT_EXAMPLES = "".join(
    f"Context: {context}\nQuestion: {question}\nAnswer: {answer}\n\n"
    for context, question, answer in (
        (
            "The cafeteria on the second floor is open from 8:00 to 16:00 on weekdays. "
            "Breakfast is served until 10:00.",
            "Until what time is breakfast served?",
            "10:00",
        ),
        (
            "Meals are paid with the employee badge; the company covers half of the price of "
            "lunch.",
            "How much of the lunch price does the company pay?",
            "half",
        ),
        (
            "The library was founded in 1854 by the merchant Thomas Crane, who donated his "
            "collection of maps.",
            "Who founded the library?",
            "Thomas Crane",
        ),
        (
            "The bridge, which spans the Elbe river, was completed after four years of "
            "construction.",
            "Which river does the bridge span?",
            "the Elbe river",
        ),
        (
            "During the 2009 season the team won eleven games, more than in any season before.",
            "How many games did the team win in 2009?",
            "eleven",
        ),
    )
)
# The fixed beginnings of the prompts, which a generator may keep evaluated between calls.
PROMPT_FRAMES = [f"{SHORT_INSTRUCTION}\n\n{SHORT_EXAMPLES}", f"{INSTRUCTION}\n\n{EXAMPLES}"]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# The prompt's own structure: a passage may not start a line the way the prompt does, or it
# could close the context and forge a question and its answer.
_STRUCTURE = re.compile(
    r"^([ \t]*)(context|question|answer|customer|assistant|system|user|instruction)s?[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER = re.compile(r"^([ \t]*)\[(\d+)\]", re.MULTILINE)
_WORD = re.compile(r"\w+")
# A passage cut shorter than this is not worth its place in the prompt.
_MIN_PASSAGE_TOKENS = 48


@component
class ContextPacker:
    """Pack retrieved chunks, best first, into a completion prompt within a context window.

    Chunks are numbered [1], [2], ... in the order given, each headed by its section (the
    chunk's own leading title lines are left out, the header shows them); passage text stays
    data: a line that opens like the prompt's own parts ("Question:", "Answer:") or a passage
    header is quoted, and the question is put on one line; a chunk that nearly
    repeats one already packed (overlapping windows, the same paragraph in two files) is
    dropped; a chunk that does not fit whole is cut at a sentence end, and packing stops when
    nothing more fits. Tokens are counted with the generator's own tokenizer, read from its
    GGUF file; for a model without one (a remote endpoint), `chars_per_token` estimates them
    on the safe side. `documents` returns exactly the chunks in the prompt, in the prompt's
    numbering, so citations map back to them.

    Usage:
    ```python
    packer = ContextPacker(model_path="gemma.gguf", context_window=2048, max_new_tokens=64)
    packer.warm_up()
    result = packer.run(question="...", documents=relevant)
    result["prompt"], result["documents"]
    ```
    """

    def __init__(
        self,
        *,
        model_path: str | None,
        context_window: int = 2048,
        max_new_tokens: int = 64,
        chars_per_token: float = 3.0,
        max_overlap: float = 0.8,
        generator: Any = None,
    ) -> None:
        """Create the packer.

        :param model_path: the GGUF file whose tokenizer measures the prompt, or None to
            estimate tokens from characters.
        :param context_window: the generator's context window, in tokens.
        :param max_new_tokens: tokens kept free for the answer.
        :param chars_per_token: characters per token when estimating (English text averages
            about 4; 3 leaves a margin).
        :param max_overlap: a chunk sharing more than this share of its word trigrams with a
            packed chunk is a near duplicate and is dropped.
        :param generator: an in-process generator with `count_tokens(text)` (a
            `LlamaCppGenerator`) whose model measures the prompt instead of `model_path`: the
            GGUF then loads once, for both (loading its vocabulary alone takes as long).
        """
        if max_new_tokens >= context_window:
            raise ValueError(
                f"max_new_tokens ({max_new_tokens}) must be below context_window ({context_window})"
            )
        if chars_per_token <= 0:
            raise ValueError(f"chars_per_token must be positive (got {chars_per_token})")
        if not 0 < max_overlap <= 1:
            raise ValueError(f"max_overlap must be in (0, 1] (got {max_overlap})")
        self.model_path = model_path
        self.context_window = context_window
        self.max_new_tokens = max_new_tokens
        self.chars_per_token = chars_per_token
        self.max_overlap = max_overlap
        self.generator = generator
        self._vocab: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise the packer, with its generator."""
        generator = (
            None if self.generator is None else component_to_dict(self.generator, "generator")
        )
        return default_to_dict(
            self,
            model_path=self.model_path,
            context_window=self.context_window,
            max_new_tokens=self.max_new_tokens,
            chars_per_token=self.chars_per_token,
            max_overlap=self.max_overlap,
            generator=generator,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ContextPacker":
        """Rebuild a packer that `to_dict` wrote."""
        generator = data["init_parameters"].get("generator")
        if generator is not None:
            data["init_parameters"]["generator"] = component_from_dict(
                import_class_by_name(generator["type"]), generator, "generator"
            )
        return default_from_dict(cls, data)

    def warm_up(self) -> None:
        """Load the model's vocabulary only, or the generator's model (idempotent)."""
        if self.generator is not None:
            self.generator.warm_up()
        elif self._vocab is None and self.model_path is not None:
            from llama_cpp import Llama

            with native_output_silenced():
                self._vocab = Llama(model_path=self.model_path, vocab_only=True, verbose=False)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for the generator, without the beginning-of-text token."""
        self.warm_up()
        if self.generator is not None:
            return self.generator.count_tokens(text)
        if self._vocab is None:
            return int(len(text) / self.chars_per_token) + 1
        return len(self._vocab.tokenize(text.encode(), add_bos=False, special=False))

    @component.output_types(prompt=str, documents=list[Document], prompt_tokens=int)
    def run(
        self, question: str, documents: list[Document], style: str = "sentence"
    ) -> dict[str, Any]:
        """Build the prompt for `question` from `documents`, best first.

        :param style: "sentence" (a cited sentence from numbered passages) or "short" (a
            span copied from the context, the passages' text run together).
        :returns: `prompt`, `documents`, the chunks it holds, numbered from 1, and
            `prompt_tokens`, the prompt's size (with the beginning-of-text token).
        """
        if style not in ("sentence", "short"):
            raise ValueError(f"style must be sentence or short (got {style!r})")
        short = style == "short"
        frame = self._prompt(question, "", short)
        frame_tokens = self.count_tokens(frame) + 1
        budget = self.context_window - self.max_new_tokens - frame_tokens
        passages: list[str] = []
        packed: list[Document] = []
        shingles: list[set[tuple[str, ...]]] = []
        for document in documents:
            own = _shingles(document.content or "")
            if any(_overlap(own, other) > self.max_overlap for other in shingles):
                continue
            title = document.meta.get("section") or source_name(document.meta)
            header = "" if short else f"[{len(packed) + 1}] {title}\n"
            fitted = self._fit(header, neutralise(_body(document)), budget)
            if fitted is None:
                break
            text, tokens = fitted
            passages.append(header + text)
            packed.append(document)
            shingles.append(own)
            budget -= tokens
        context = "\n\n".join(passages)
        prompt = self._prompt(question, context, short)
        used = self.context_window - self.max_new_tokens - budget
        return {"prompt": prompt, "documents": packed, "prompt_tokens": used}

    @staticmethod
    def _prompt(question: str, context: str, short: bool) -> str:
        # The question is one line: a line break in it could start a forged answer.
        question = " ".join(question.split())
        if short:
            return (
                f"{SHORT_INSTRUCTION}\n\n{SHORT_EXAMPLES}Context: {context}\n"
                f"Question: {question}\nAnswer:"
            )
        return f"{INSTRUCTION}\n\n{EXAMPLES}Context:\n{context}\n\nQuestion: {question}\nAnswer:"

    def _fit(self, header: str, text: str, budget: int) -> tuple[str, int] | None:
        """`text` whole, or cut at the last sentence end that fits, or None; with the tokens
        the passage (header and separator included) takes."""
        tokens = self.count_tokens(header + text + "\n\n")
        if tokens <= budget:
            return text, tokens
        if budget < _MIN_PASSAGE_TOKENS:
            return None
        kept: list[str] = []
        for sentence in _SENTENCE_END.split(text):
            candidate = self.count_tokens(header + " ".join([*kept, sentence]) + "\n\n")
            if candidate > budget:
                break
            kept.append(sentence)
            tokens = candidate
        return (" ".join(kept), tokens) if kept else None


def neutralise(text: str) -> str:
    """Passage text that cannot pass for the prompt's structure: a line opening like a prompt
    part ("Question:", "Answer:", "System:") or a passage header ("[2]") is quoted instead."""
    text = _STRUCTURE.sub(lambda m: f"{m.group(1)}({m.group(2)})", text)
    return _HEADER.sub(lambda m: f"{m.group(1)}({m.group(2)})", text)


def _body(document: Document) -> str:
    """The chunk's text without its leading title lines, which the passage header already shows.

    A small model given a passage that starts with its own title tends to answer with the title.
    """
    titles = set((document.meta.get("section") or "").split(" > "))
    lines = (document.content or "").split("\n")
    while len(lines) > 1 and lines[0].strip() in titles:
        lines.pop(0)
    return "\n".join(lines)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def _overlap(own: set[tuple[str, ...]], other: set[tuple[str, ...]]) -> float:
    """The share of `own`'s trigrams found in `other`."""
    return len(own & other) / len(own) if own else 0.0
