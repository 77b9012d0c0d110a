"""What an ingest run did: one `FileResult` per file and the run's `IngestReport`."""

from dataclasses import dataclass, field, replace

from ingest.manifest import SourceState


@dataclass
class FileResult:
    """What happened to one file."""

    source: str
    # "ingested", "unchanged", "failed", "removed" (pruned), "emptied" (the file is empty now:
    # its earlier chunks were removed) or "gone" (deleted from disk, not pruned: still served)
    status: str
    chunks: int = 0
    reason: str = ""
    name: str = ""  # the source's name for people (see `ingest.sources.Sources`)
    kept: int = 0  # chunks of an earlier version still served (a failed or gone file)


@dataclass
class IngestReport:
    """The summary of one ingest run."""

    files: list[FileResult] = field(default_factory=list)
    chunks_written: int = 0
    chunks_removed: int = 0
    recovered: int = 0  # changes left by an interrupted run, settled first
    seconds: float = 0.0
    index_seconds: float = 0.0  # building the vector index after writing

    def count(self, status: str) -> int:
        """How many files ended with `status`."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def failures(self) -> list[FileResult]:
        """The files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    def to_dict(self) -> dict:
        """A JSON-ready summary."""
        return {
            "ingested": self.count("ingested"),
            "unchanged": self.count("unchanged"),
            "failed": self.count("failed"),
            "removed": self.count("removed"),
            "emptied": self.count("emptied"),
            "gone": self.count("gone"),
            "chunks_written": self.chunks_written,
            "chunks_removed": self.chunks_removed,
            "recovered": self.recovered,
            "seconds": round(self.seconds, 2),
            "index_seconds": round(self.index_seconds, 2),
            "chunks_per_second": round(self.chunks_written / self.seconds, 1)
            if self.seconds
            else 0,
            # `source` is the name that citations and `docent sources` show; `path` the file.
            "failures": [
                {"source": f.name or f.source, "path": f.source, "reason": f.reason, "kept": f.kept}
                for f in self.failures
            ],
            "gone_files": [
                {"source": f.source, "name": f.name, "reason": f.reason, "kept": f.kept}
                for f in self.files
                if f.status == "gone"
            ],
        }


def with_kept_chunks(result: FileResult, stored: SourceState | None) -> FileResult:
    """A failed file's result, saying that its earlier chunks are still served (if any)."""
    if result.status != "failed" or stored is None or not stored.chunk_ids:
        return result
    kept = len(stored.chunk_ids)
    return replace(
        result,
        kept=kept,
        reason=f"{result.reason}; its {kept} chunks from the last ingest are still served: fix "
        "the file and ingest it again, or delete it and ingest its folder with --prune",
    )
