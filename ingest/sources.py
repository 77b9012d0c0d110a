"""Turn the paths given on the command line into the list of files to ingest."""

from dataclasses import dataclass
from pathlib import Path

# `report.pdf.meta.json` holds metadata for `report.pdf`; it is not a document itself.
SIDECAR_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class Sources:
    """Files found under the given paths, and the given paths that do not exist."""

    files: list[Path]
    missing: list[Path]


def find_sources(paths: list[str | Path]) -> Sources:
    """Expand files and folders (recursively) into files, sorted, each once.

    Hidden files and folders (names starting with ".") inside a folder are skipped, and so are
    metadata sidecars (`<file>.meta.json` beside `<file>`); a file named directly is always
    taken.
    """
    files: dict[Path, None] = {}
    missing: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_file():
            files[path.resolve()] = None
        elif path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path)
                hidden = any(p.startswith(".") for p in relative.parts)
                if found.is_file() and not hidden and not _is_sidecar(found):
                    files[found.resolve()] = None
        else:
            missing.append(path)
    return Sources(files=list(files), missing=missing)


def _is_sidecar(path: Path) -> bool:
    return (
        path.name.endswith(SIDECAR_SUFFIX)
        and path.with_name(path.name[: -len(SIDECAR_SUFFIX)]).is_file()
    )
