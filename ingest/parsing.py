"""The per-file work of an ingest: parse one file and cut it into chunks.

It runs in worker processes (see `ingest.parse_pool`), on Ray, or in-process, and returns
plain data that pickles, so the same function serves every executor.
"""

from dataclasses import dataclass, field
from pathlib import Path

from haystack import Document, Pipeline

from components.chunking.structure_chunker import StructureChunker
from components.converters.unstructured_converter import UnstructuredConverter
from ingest.config import ChunkingSettings, ParsingSettings


@dataclass
class Parsed:
    """The chunks of one file, or why it has none (`reason`)."""

    source: str
    chunks: list[Document] = field(default_factory=list)
    converter: str = ""
    reason: str = ""


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
        self._pipeline: Pipeline | None = None

    def __getstate__(self) -> dict:
        # Workers receive the settings and build their own pipeline.
        return {**self.__dict__, "_pipeline": None}

    def __call__(self, path: Path) -> Parsed:
        """Parse and chunk the file at `path`."""
        if self._pipeline is None:
            self._pipeline = self._build()
        output = self._pipeline.run(
            {"converter": {"sources": [path]}}, include_outputs_from={"converter"}
        )
        failures = output["converter"]["failures"]
        if failures:
            return Parsed(str(path), reason=failures[0]["reason"])
        chunks = output["chunker"]["documents"]
        if not chunks:
            return Parsed(
                str(path), reason="no text left after removing page headers, footers and numbers"
            )
        return Parsed(str(path), chunks, converter="unstructured")

    def _build(self) -> Pipeline:
        pipeline = Pipeline()
        pipeline.add_component(
            "converter",
            UnstructuredConverter(
                pdf_strategy=self.parsing.pdf_strategy, languages=self.parsing.languages
            ),
        )
        pipeline.add_component(
            "chunker",
            StructureChunker(
                tokenizer=self.tokenizer,
                max_tokens=self.chunking.max_tokens,
                overlap_tokens=self.chunking.overlap_tokens,
            ),
        )
        pipeline.connect("converter.documents", "chunker.documents")
        return pipeline
