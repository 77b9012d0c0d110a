"""Chunk parsed elements along document structure within a token budget."""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haystack import Document, component

# Page furniture repeats on every page and carries no meaning of its own.
_SKIPPED_CATEGORIES = {"Footer", "PageNumber", "PageBreak"}
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'“(\[A-Z0-9])")


@dataclass(frozen=True)
class _Unit:
    """A piece of text that is never split further unless it alone exceeds the budget."""

    text: str
    tokens: int
    element: int
    page: int | None
    is_title: bool
    section: str


def chunk_id(source: str, index: int, content: str) -> str:
    """The deterministic id of a chunk: the same file and settings always give the same ids."""
    return hashlib.sha256(f"{source}\x00{index}\x00{content}".encode()).hexdigest()


@component
class StructureChunker:
    """Group the elements of each file into chunks that follow its titles and sections.

    A new title starts a new chunk (titles directly after each other stay together); inside a
    section, elements are packed until `max_tokens` of the embedding model's tokenizer would be
    exceeded, and the next chunk repeats the last sentences, up to `overlap_tokens`. An element
    longer than the budget is split at sentence ends, and a sentence longer than the budget at
    token boundaries. Every chunk carries `source`, `file_type`, `section` (the title path,
    "Policy > Eligibility"), `page` where known, `chunk_index`, `tokens` and `content_hash`, and
    its id is derived from source, position and content.

    Usage:
    ```python
    chunker = StructureChunker(tokenizer="/path/to/all-MiniLM-L6-v2", max_tokens=200)
    chunker.warm_up()
    chunks = chunker.run(documents=elements)["documents"]
    ```
    """

    def __init__(self, *, tokenizer: str, max_tokens: int = 200, overlap_tokens: int = 32) -> None:
        """Create the chunker.

        :param tokenizer: a local folder or name of a Hugging Face tokenizer (the embedding
            model's), used to measure chunks.
        :param max_tokens: the largest chunk, in tokens.
        :param overlap_tokens: how many tokens of trailing sentences the next chunk of the same
            section repeats.
        """
        if max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16 (got {max_tokens})")
        if not 0 <= overlap_tokens < max_tokens // 2:
            raise ValueError(
                f"overlap_tokens must be in [0, max_tokens / 2) (got {overlap_tokens})"
            )
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self._tokenizer: Any = None

    def warm_up(self) -> None:
        """Load the tokenizer (idempotent)."""
        if self._tokenizer is None:
            # The tokenizer file alone, through `tokenizers`: the same token counts as the
            # transformers tokenizer, without importing transformers (and torch) in every
            # parser process. A name or a folder without one goes through transformers.
            file = Path(self.tokenizer) / "tokenizer.json"
            if file.is_file():
                from tokenizers import Tokenizer

                self._tokenizer = Tokenizer.from_file(str(file))
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer).backend_tokenizer
            # It only measures text here: whole texts, never cut to the model's input limit.
            self._tokenizer.no_truncation()
            self._tokenizer.no_padding()

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        """Chunk the elements of one or more files, given in document order.

        :param documents: elements, as produced by `UnstructuredConverter`.
        :returns: `documents`: the chunks, file after file.
        """
        self.warm_up()
        by_source: dict[str, list[Document]] = {}
        for element in documents:
            by_source.setdefault(element.meta["source"], []).append(element)
        chunks: list[Document] = []
        for source, elements in by_source.items():
            chunks.extend(self._chunk_file(source, elements))
        return {"documents": chunks}

    def _chunk_file(self, source: str, elements: list[Document]) -> list[Document]:
        file_type = elements[0].meta.get("file_type", "")
        groups: list[list[_Unit]] = []
        current: list[_Unit] = []
        for unit in self._units(elements):
            if unit.is_title and any(not u.is_title for u in current):
                groups.append(current)
                current = []
            elif current and sum(u.tokens for u in current) + unit.tokens > self.max_tokens:
                groups.append(current)
                current = [] if unit.is_title else self._overlap(current, unit)
            current.append(unit)
        if current:
            groups.append(current)
        return [
            self._make_chunk(source, file_type, index, group) for index, group in enumerate(groups)
        ]

    def _overlap(self, previous: list[_Unit], following: _Unit) -> list[_Unit]:
        """The trailing body units of `previous` that fit the overlap and leave room."""
        tail: list[_Unit] = []
        budget = min(self.overlap_tokens, self.max_tokens - following.tokens)
        for unit in reversed(previous):
            if unit.is_title or unit.section != following.section:
                break
            if sum(u.tokens for u in tail) + unit.tokens > budget:
                break
            tail.insert(0, unit)
        return tail

    def _units(self, elements: list[Document]):
        path: list[tuple[int, str]] = []
        for element in elements:
            category = element.meta.get("category", "")
            if category in _SKIPPED_CATEGORIES:
                continue
            text = element.content or ""
            page = element.meta.get("page_number")
            index = element.meta.get("element_index", 0)
            is_title = category == "Title"
            if is_title:
                depth = int(element.meta.get("title_depth") or 0)
                path = [(d, t) for d, t in path if d < depth] + [(depth, text)]
            section = " > ".join(t for _, t in path)
            for piece, tokens in self._split(text):
                yield _Unit(piece, tokens, index, page, is_title, section)

    def _split(self, text: str) -> list[tuple[str, int]]:
        """Split text that exceeds the budget at sentence ends, then at token boundaries;
        each piece with its number of tokens."""
        tokens = self._count(text)
        if tokens <= self.max_tokens:
            return [(text, tokens)]
        pieces: list[tuple[str, int]] = []
        for sentence in _SENTENCE_END.split(text):
            tokens = self._count(sentence)
            if tokens <= self.max_tokens:
                pieces.append((sentence, tokens))
            else:
                pieces.extend((piece, self._count(piece)) for piece in self._split_tokens(sentence))
        return pieces

    def _split_tokens(self, text: str) -> list[str]:
        offsets = self._tokenizer.encode(text, add_special_tokens=False).offsets
        pieces = []
        for start in range(0, len(offsets), self.max_tokens):
            window = offsets[start : start + self.max_tokens]
            pieces.append(text[window[0][0] : window[-1][1]].strip())
        return [p for p in pieces if p]

    def _count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _make_chunk(self, source: str, file_type: str, index: int, units: list[_Unit]) -> Document:
        parts: list[str] = []
        for position, unit in enumerate(units):
            if position:
                parts.append(" " if _continues(units[position - 1], unit) else "\n")
            parts.append(unit.text)
        content = "".join(parts)
        body = next((u for u in units if not u.is_title), units[-1])
        meta: dict[str, Any] = {
            "source": source,
            "file_type": file_type,
            "section": body.section,
            "chunk_index": index,
            "tokens": self._count(content),
            "content_hash": hashlib.sha256(content.encode()).hexdigest(),
        }
        page = next((u.page for u in units if u.page is not None), None)
        if page is not None:
            meta["page"] = page
        return Document(id=chunk_id(source, index, content), content=content, meta=meta)


def _continues(previous: _Unit, unit: _Unit) -> bool:
    """True when `unit` goes on the same sentence or paragraph as `previous`.

    That is the case for pieces of one element, and for the lines of a wrapped paragraph that
    PDF extraction returns as separate elements: the earlier one does not end a sentence and
    the later one starts in lower case.
    """
    if previous.is_title or unit.is_title:
        return False
    if previous.element == unit.element:
        return True
    return previous.text[-1:] not in ".!?:;" and unit.text[:1].islower()
