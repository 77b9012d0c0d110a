"""What happens to each source file: skipped, refused or parsed, with what its chunks carry.

The policy: a file whose bytes and settings fingerprint are unchanged is skipped; one too
large, unreadable, or whose metadata file is bad or tries to move it to another tenant is
refused; a file recorded for another tenant moves only when the caller may take it over.
Files recorded under a given folder and no longer in it are gone (`gone_sources`).
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import ConfigError, UnreadableFileError
from ingest.fingerprint import file_fingerprint
from ingest.freshness import hash_file
from ingest.manifest import SourceState
from ingest.report import FileResult
from ingest.sources import SIDECAR_SUFFIX

# Metadata fields that docent sets on every chunk; user metadata may not override them.
RESERVED_META = frozenset(
    "source source_name file_type file_name file_hash fingerprint chunks_in_file ingested_at "
    "section chunk_index tokens content_hash page converter".split()
)


@dataclass(frozen=True)
class Job:
    """A file to parse, with what its chunks will carry."""

    path: Path
    name: str
    file_hash: str
    fingerprint: str
    tenant: str | None
    extra: dict[str, Any]

    def meta(self, chunks_in_file: int, now: str) -> dict[str, Any]:
        """The metadata docent sets on each of the file's chunks."""
        return {
            "file_name": self.path.name,
            "source_name": self.name,
            "file_hash": self.file_hash,
            "fingerprint": self.fingerprint,
            "chunks_in_file": chunks_in_file,
            "ingested_at": now,
        }


def admit(
    path: Path,
    name: str,
    stored: SourceState | None,
    *,
    fingerprint: str,
    max_file_mb: float,
    tenant: str | None,
    take_over: bool,
    metadata: dict[str, Any],
) -> FileResult | Job:
    """Decide what to do with one file: skip it, refuse it, or parse it.

    :param stored: what the manifest records of the file, if anything.
    :param fingerprint: the run's settings fingerprint (see `ingest.fingerprint`).
    :param tenant: the tenant the run imposes; None lets the file's metadata file name one.
    :param take_over: whether a file recorded for another tenant may move to `tenant`.
    :param metadata: the run's extra fields for every chunk.
    """
    try:
        size = path.stat().st_size
        file_hash = hash_file(path)
        sidecar = read_sidecar(path)
        check_metadata(sidecar, f"its metadata file {path.name}{SIDECAR_SUFFIX}")
        extra = {**metadata, **sidecar}
    except OSError as e:
        return FileResult(str(path), "failed", reason=f"cannot be read: {e.strerror}", name=name)
    except (UnreadableFileError, ConfigError) as e:
        return FileResult(str(path), "failed", reason=getattr(e, "reason", str(e)), name=name)
    if size > max_file_mb * 1_000_000:
        return FileResult(
            str(path),
            "failed",
            name=name,
            reason=f"the file is {size / 1e6:.0f} MB, above the limit of {max_file_mb:g} MB "
            "(parsing.max_file_mb); split it, or raise the limit",
        )
    if tenant is None:
        tenant = extra.pop("tenant", None)
    elif extra.pop("tenant", tenant) != tenant:
        return FileResult(
            str(path),
            "failed",
            name=name,
            reason=f"its metadata file {path.name}{SIDECAR_SUFFIX} names the tenant "
            f"{sidecar['tenant']!r}, but this ingest is for the tenant {tenant!r}; a file "
            "cannot move itself to another tenant: remove the tenant from the metadata file",
        )
    if stored is not None and stored.tenant != tenant and not take_over:
        return FileResult(
            str(path),
            "failed",
            name=name,
            reason="the file is ingested for another tenant; that tenant (or an operator) "
            "must remove it first",
        )
    fingerprint = file_fingerprint(fingerprint, tenant, extra, name)
    if stored and stored.matches(file_hash, fingerprint):
        return FileResult(str(path), "unchanged", chunks=len(stored.chunk_ids), name=name)
    return Job(path, name, file_hash, fingerprint, tenant, extra)


def gone_sources(
    paths: list[str | Path], found: list[Path], stored: dict[str, SourceState]
) -> list[SourceState]:
    """The recorded sources under the given folders that are no longer in them (a folder
    that does not exist has none, so a mistyped or unmounted path prunes nothing)."""
    roots = [Path(p).expanduser().resolve() for p in paths if Path(p).expanduser().is_dir()]
    present = {str(path) for path in found}
    return [
        state
        for source, state in sorted(stored.items())
        if source not in present and any(Path(source).is_relative_to(r) for r in roots)
    ]


def check_metadata(metadata: dict[str, Any], where: str) -> None:
    """Raise ConfigError when `metadata` (found at `where`) sets a field docent sets itself,
    or a tenant that is not a string."""
    taken = sorted(set(metadata) & RESERVED_META)
    if taken:
        raise ConfigError(
            f"{where}: the field(s) {', '.join(taken)} are set by docent itself; use other names"
        )
    if "tenant" in metadata and not isinstance(metadata["tenant"], str):
        raise ConfigError(f"{where}: tenant must be a string")


def read_sidecar(path: Path) -> dict[str, Any]:
    """The metadata of `<file>.meta.json` beside the file, if there is one."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    # A file whose name is near the limit can have no sidecar (the name would be too long).
    if len(os.fsencode(sidecar.name)) > 255 or not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UnreadableFileError(
            str(path), f"its metadata file {sidecar.name} is not valid JSON ({e}); fix it"
        ) from e
    if not isinstance(data, dict):
        raise UnreadableFileError(
            str(path), f"its metadata file {sidecar.name} must hold a JSON object of fields"
        )
    return data
