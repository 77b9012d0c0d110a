"""Components a user of docent might write and insert into the rag route's pipeline YAML: a
query rewriter before the search, and a filter of the passages before the answer."""

from pathlib import Path
from typing import Any

from haystack import Document, component


@component
class QueryRewriter:
    """Replace the user's words for things with the documents' (a glossary)."""

    def __init__(self, replacements: dict[str, str]) -> None:
        self.replacements = replacements

    @component.output_types(query=str)
    def run(self, query: str) -> dict[str, Any]:
        for word, replacement in self.replacements.items():
            query = query.replace(word, replacement)
        return {"query": query}


@component
class SourceFilter:
    """Keep only the passages of files whose name does not contain `exclude`."""

    def __init__(self, exclude: str) -> None:
        self.exclude = exclude

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        kept = [d for d in documents if self.exclude not in Path(d.meta["source"]).name]
        return {"documents": kept}


@component
class NeedsAContext:
    """A filter with an input no run of the rag route gives."""

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document], context: str) -> dict[str, Any]:
        return {"documents": documents}


@component
class RouteBySource:
    """Send the passages on `documents` when one comes from a file whose name contains
    `source`, else on `elsewhere` (which a pipeline may leave unconnected)."""

    def __init__(self, source: str) -> None:
        self.source = source

    @component.output_types(documents=list[Document], elsewhere=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        if any(self.source in Path(d.meta["source"]).name for d in documents):
            return {"documents": documents}
        return {"elsewhere": documents}
