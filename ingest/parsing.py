"""The per-file work of an ingest: parse one file and cut it into chunks.

It runs in worker processes (see `ingest.parse_pool`), on Ray, or in-process, and returns
plain data that pickles, so the same function serves every executor.
"""

from dataclasses import dataclass, field
from pathlib import Path

from haystack import Document, logging

from components.chunking.structure_chunker import StructureChunker
from components.converters.fallback_converter import FALLBACKS, FallbackConverter
from components.converters.markup_converter import MARKUP_TYPES, MarkupConverter
from components.converters.text_quality import TextQuality, page_qualities
from components.converters.unstructured_converter import UnstructuredConverter
from ingest.config import ChunkingSettings, ParsingSettings

logger = logging.getLogger(__name__)
# The failures after which another converter may succeed (see UnreadableFileError.kind).
FALLBACK_KINDS = {"parse_error", "no_text"}


@dataclass
class Parsed:
    """The chunks of one file, or why it has none (`reason`).

    `quality` is the share of real words in its extracted text (see
    `components.converters.text_quality`); None when it was not judged.
    """

    source: str
    chunks: list[Document] = field(default_factory=list)
    converter: str = ""
    reason: str = ""
    quality: float | None = None


class FileParser:
    """Parses and chunks one file at a time; the pipeline is built on the first call.

    Usage:
    ```python
    parse = FileParser(parsing=ParsingSettings(), chunking=ChunkingSettings(), tokenizer=path)
    parsed = parse(Path("handbook/policy.pdf"))
    parsed.chunks[0].meta["section"]
    ```
    """

    def __init__(
        self, *, parsing: ParsingSettings, chunking: ChunkingSettings, tokenizer: str
    ) -> None:
        """Keep the settings; nothing loads until the first file."""
        self.parsing = parsing
        self.chunking = chunking
        self.tokenizer = tokenizer
        self._converter: UnstructuredConverter | None = None
        self._markup: MarkupConverter | None = None
        self._chunker: StructureChunker | None = None

    def __getstate__(self) -> dict:
        # Workers receive the settings and build their own components.
        return {**self.__dict__, "_converter": None, "_markup": None, "_chunker": None}

    def __call__(self, path: Path) -> Parsed:
        """Parse and chunk the file at `path`.

        Markdown, HTML, reStructuredText and plain text are read by their markup
        (`converter` "markup") unless `parsing.markup` is "unstructured"; the other formats by
        unstructured. When that fails on the file or finds no text in it, and Haystack has a
        converter for its type, that converter gets a try; `converter` says which one served.
        A file whose text is garbled (below `parsing.min_text_quality`) is refused.
        """
        if self._converter is None:
            self._build()
        if self._markup is not None and path.suffix.lower() in MARKUP_TYPES:
            converted, converter = self._markup.run(sources=[path]), "markup"
        else:
            converted, converter = self._converter.run(sources=[path]), "unstructured"
        elements = converted["documents"]
        failure = converted["failures"][0] if converted["failures"] else None
        if failure and failure["kind"] in FALLBACK_KINDS and path.suffix.lower() in FALLBACKS:
            elements, converter = self._fallback(path, failure["reason"])
            if not elements:
                return Parsed(str(path), reason=failure["reason"])
        elif failure:
            return Parsed(str(path), reason=failure["reason"])
        pages = page_qualities(elements)
        quality = sum(pages.values(), TextQuality()).score
        if quality is not None and quality < self.parsing.min_text_quality:
            return Parsed(
                str(path),
                converter=converter,
                reason=_garbled(path, quality, pages, self.parsing.min_text_quality),
                quality=quality,
            )
        chunks = self._chunker.run(documents=elements)["documents"]
        if not chunks:
            return Parsed(
                str(path),
                reason="no text left after removing page headers, footers and numbers",
                quality=quality,
            )
        return Parsed(str(path), chunks, converter=converter, quality=quality)

    def parse_text(self, source: str, title: str, text: str) -> Parsed:
        """Chunk a record that is text already: its title, then its paragraphs."""
        if self._converter is None:
            self._build()
        parts = [(title.strip(), "Title")] if title.strip() else []
        parts += [(p.strip(), "NarrativeText") for p in text.split("\n\n") if p.strip()]
        elements = [
            Document(
                content=content,
                meta={
                    "source": source,
                    "file_type": "record",
                    "category": category,
                    "title_depth": 0,
                    "element_index": index,
                },
            )
            for index, (content, category) in enumerate(parts)
        ]
        chunks = self._chunker.run(documents=elements)["documents"]
        if not chunks:
            return Parsed(source, reason="the record has no text")
        return Parsed(source, chunks, converter="record")

    def _fallback(self, path: Path, reason: str) -> tuple[list[Document], str]:
        """The file's elements read by Haystack's converter for its type, if it finds text."""
        logger.info(
            "{source} could not be read ({reason}); trying {converter}",
            source=str(path),
            reason=reason,
            converter=FALLBACKS[path.suffix.lower()],
        )
        try:
            result = FallbackConverter().run(sources=[path])
        # Documented fallback: the Haystack converters raise their libraries' errors; the
        # file then keeps unstructured's reason.
        except Exception as e:  # noqa: BLE001
            logger.info(
                "{converter} failed too: {error}",
                converter=FALLBACKS[path.suffix.lower()],
                error=repr(e),
            )
            return [], ""
        return result["documents"], f"haystack:{result['converter']}"

    def _build(self) -> None:
        self._converter = UnstructuredConverter(
            pdf_strategy=self.parsing.pdf_strategy,
            languages=self.parsing.languages,
            max_unzipped_mb=self.parsing.max_unzipped_mb,
            max_zip_ratio=self.parsing.max_zip_ratio,
        )
        if self.parsing.markup == "structure":
            self._markup = MarkupConverter()
        self._chunker = StructureChunker(
            tokenizer=self.tokenizer,
            max_tokens=self.chunking.max_tokens,
            overlap_tokens=self.chunking.overlap_tokens,
        )
        self._chunker.warm_up()


def _garbled(
    path: Path, quality: float, pages: dict[int | None, TextQuality], threshold: float
) -> str:
    """Why a file with garbled text is refused, and what to do about it."""
    judged = [q.score for q in pages.values() if q.score is not None]
    below = sum(score < threshold for score in judged)
    on_pages = f"; {below} of {len(judged)} pages with text below it" if len(judged) > 1 else ""
    if path.suffix.lower() == ".pdf":
        cause = (
            "the PDF's fonts probably lack a map from glyphs to characters (old TeX or Type 3 "
            "fonts), or its text is rotated; OCR the PDF or export its text another way and "
            "ingest that"
        )
    else:
        cause = (
            "the file's text is probably in another encoding than the one it was read in, or "
            "not words at all; save it as UTF-8 text and ingest that"
        )
    return (
        f"the extracted text looks garbled ({quality:.0%} real words, below "
        f"parsing.min_text_quality {threshold:g}{on_pages}): {cause}, or lower "
        "parsing.min_text_quality (0 turns the check off)"
    )
