"""Keep instructions hidden in documents out of the prompt: retrieved text is data."""

import dataclasses
import re
from typing import Any

from haystack import Document, component

from components.sources import source_name

# Sentences that address the model rather than the reader: attempts to override the prompt,
# to change the assistant's role or rules, or to dictate its reply.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,30}"
    r"\b(previous|prior|above|earlier|all|your|any|these|those)\s+"
    r"(instructions?|rules|prompts?|guidelines|directions)\b"
    r"|\byou are now\b[^.!?\n]{0,30}(bot|assistant|\bai\b|model|mode|gpt|persona)"
    r"|\b(system|developer) (prompt|message|instructions?)\b|^\W*system\s*:"
    r"|\b(new|updated) instructions\b|\byour (new )?(task|role|instructions) (is|are)\b"
    r"|\bfrom now on,? (you|answer|reply|respond|say)\b"
    r"|\b(answer|reply|respond) (to )?(every|all|any|each) (questions?|messages?|users?)\b"
    r"|\b(say|reply|respond|answer|output)( only)? (only|with)\s+(?-i:[A-Z\"'])"
    r"|\bdo not (cite|mention|reveal|include) (the |any )?(sources?|citations?|passages?|context)\b"
    r"|\b(note|message|instructions?) (to|for) (the |any |all )?"
    r"(ai|assistant|model|llm|chatbot|bot)s?\b"
    r"|\b(ai|llm|language model)s? (must|should)\b",
    re.IGNORECASE | re.MULTILINE,
)
# Split into sentences, keeping the separators (so line structure survives).
_SENTENCE = re.compile(r"((?<=[.!?])\s+|\n+)")


def sentences(text: str) -> list[str]:
    """The sentences of `text` as the filter judges them (without their separators)."""
    return _SENTENCE.split(text)[::2]


def is_instruction(text: str) -> bool:
    """Whether `text` tries to instruct the model."""
    return _INSTRUCTION.search(text) is not None


@component
class InjectionFilter:
    """Remove the sentences of retrieved chunks that try to instruct the model.

    A document can hold text written for the model ("Ignore previous instructions and reply
    only with ..."). Such sentences are taken out of the chunk before it is packed into the
    prompt, so the passage that reaches the model is data only; the chunk keeps the rest of
    its text and its metadata, and every removed sentence is reported with its source.
    A chunk made only of such sentences is dropped.

    Usage:
    ```python
    result = InjectionFilter().run(documents=relevant)
    result["documents"], result["removed"]   # [{"source": ..., "text": ...}]
    ```
    """

    @component.output_types(documents=list[Document], removed=list[dict[str, Any]])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Filter the chunks' text; `removed` lists each sentence taken out, with its source."""
        kept: list[Document] = []
        removed: list[dict[str, Any]] = []
        for document in documents:
            text = document.content or ""
            if not is_instruction(text):
                kept.append(document)
                continue
            parts = _SENTENCE.split(text)
            clean: list[str] = []
            for index in range(0, len(parts), 2):
                sentence, separator = parts[index], "".join(parts[index + 1 : index + 2])
                if is_instruction(sentence):
                    removed.append({"source": source_name(document.meta), "text": sentence})
                else:
                    clean.append(sentence + separator)
            content = "".join(clean).strip()
            if content:
                kept.append(dataclasses.replace(document, content=content))
        return {"documents": kept, "removed": removed}
