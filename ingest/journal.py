"""The store's changes, journaled in the manifest: settled after a crash, audited, reconciled.

Every change is begun in the manifest before it touches the store and committed after, so a
run killed at any point leaves a journal that the next run settles (`Journal.recover`): the
collection ends with exactly the current chunks and the manifest agrees with it.
"""

from collections.abc import Callable, Iterable
from dataclasses import replace

from haystack import logging

from ingest.manifest import Manifest, SourceState
from ingest.report import FileResult, IngestReport
from ingest.store import Store

logger = logging.getLogger(__name__)


class Journal:
    """The manifest and the store it describes, kept in agreement.

    Usage:
    ```python
    journal = Journal(manifest, store)
    journal.recover()  # settle what an interrupted run began
    stored = journal.stored_sources()
    ```
    """

    def __init__(self, manifest: Manifest, store: Store) -> None:
        """Keep `manifest` and `store` in agreement; nothing is read until asked."""
        self.manifest = manifest
        self.store = store

    def recover(self) -> int:
        """Settle the changes that an interrupted run began; returns how many there were.

        A change whose new chunks all reached the store is finished (its stale chunks are
        deleted and it is recorded). Any other is rolled back: its new-only chunks are deleted
        and the source keeps its recorded chunks, marked for re-ingestion.
        """
        pending = self.manifest.pending()
        if not pending:
            return 0
        stored = self.manifest.sources()
        for change in pending:
            previous = stored[change.source].chunk_ids if change.source in stored else frozenset()
            present = (
                {d.id for d in self.store.get_documents_by_id(sorted(change.chunk_ids))}
                if change.chunk_ids
                else set()
            )
            if present == change.chunk_ids:
                self.delete(previous - change.chunk_ids)
                self.manifest.commit([change.source])
                logger.info("Finished the interrupted ingest of {source}", source=change.source)
            else:
                self.delete(present - previous)
                self.manifest.abandon(change.source)
                logger.info("Rolled back the interrupted ingest of {source}", source=change.source)
        return len(pending)

    def audit(self) -> dict[str, list[str]]:
        """Compare the manifest with the store: chunk ids `missing` from the store, chunk ids
        in the store that no source accounts for (`orphaned`), and `pending` changes."""
        recorded = {i for s in self.manifest.sources().values() for i in s.chunk_ids}
        held = {d.id for d in self.store.filter_documents()}
        return {
            "missing": sorted(recorded - held),
            "orphaned": sorted(held - recorded),
            "pending": [c.source for c in self.manifest.pending()],
        }

    def stored_sources(self) -> dict[str, SourceState]:
        """The manifest's sources, reconciled with the store when their counts disagree.

        A store filled before the manifest existed is adopted. Chunks missing from the store
        (deleted behind docent's back) mark their source for re-ingestion; chunks that no
        source accounts for but whose source is recorded are stale copies and are deleted.
        """
        stored = self.manifest.sources()
        recorded = sum(len(s.chunk_ids) for s in stored.values())
        if recorded == self.store.count_documents():
            return stored
        held: dict[str, set[str]] = {}
        for document in self.store.filter_documents():
            held.setdefault(document.meta.get("source", ""), set()).add(document.id)
        if not stored:
            # Old payloads carry no trustworthy settings: every adopted source is re-ingested
            # when it is next given, and pruned like any other when it is gone.
            self.manifest.adopt(
                SourceState(s, "", "", frozenset(i), "unstructured") for s, i in held.items()
            )
            return self.manifest.sources()
        for source, state in stored.items():
            ids = held.get(source, set())
            if state.chunk_ids - ids:
                logger.warning(
                    "{n} chunks of {source} are missing from the store; re-ingesting it",
                    n=len(state.chunk_ids - ids),
                    source=source,
                )
                self.manifest.adopt([replace(state, file_hash="", chunk_ids=frozenset(ids))])
            elif ids - state.chunk_ids:
                self.delete(ids - state.chunk_ids)
        return self.manifest.sources()

    def forget(
        self,
        gone: list[SourceState],
        report: IngestReport,
        done: Callable[[FileResult], None],
    ) -> None:
        """Delete the sources' chunks and forget them, journaled like any change."""
        if not gone:
            return
        self.manifest.begin(SourceState(s.source, None, None, frozenset()) for s in gone)
        for state in gone:
            report.chunks_removed += self.delete(state.chunk_ids)
        self.manifest.commit(s.source for s in gone)
        for state in gone:
            done(
                FileResult(
                    state.source, "removed", chunks=len(state.chunk_ids), name=state.display_name
                )
            )

    def delete(self, ids: Iterable[str]) -> int:
        """Delete chunks from the store by id; returns how many."""
        ids = sorted(ids)
        if ids:
            self.store.delete_documents(ids)
        return len(ids)
