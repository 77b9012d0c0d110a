"""Turn the paths given on the command line into the list of files to ingest."""

from dataclasses import dataclass
from pathlib import Path

# `report.pdf.meta.json` holds metadata for `report.pdf`; it is not a document itself.
SIDECAR_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class Sources:
    """Files found under the given paths, and the given paths that do not exist.

    `names` holds each file's name for people: its path relative to the parent of the folder
    it was found in (`handbook/policies/leave.md` for `docent ingest ~/docs/handbook`), or its
    own name when it was given directly (`given`). It is what answers cite, so that no path of
    the machine that ingested it reaches a reader.
    """

    files: list[Path]
    missing: list[Path]
    names: dict[Path, str]
    given: set[Path]


def find_sources(paths: list[str | Path]) -> Sources:
    """Expand files and folders (recursively) into files, sorted, each once.

    Hidden files and folders (names starting with ".") inside a folder are skipped, and so are
    metadata sidecars (`<file>.meta.json` beside `<file>`); a file named directly is always
    taken.
    """
    names: dict[Path, str] = {}
    direct: set[Path] = set()
    missing: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_file():
            if path.resolve() not in names:
                names[path.resolve()] = path.name
                direct.add(path.resolve())
        elif path.is_dir():
            folder = path.resolve().name
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path)
                hidden = any(p.startswith(".") for p in relative.parts)
                if found.is_file() and not hidden and not _is_sidecar(found):
                    names.setdefault(found.resolve(), "/".join((folder, *relative.parts)))
        else:
            missing.append(path)
    return Sources(files=list(names), missing=missing, names=names, given=direct)


def _is_sidecar(path: Path) -> bool:
    return (
        path.name.endswith(SIDECAR_SUFFIX)
        and path.with_name(path.name[: -len(SIDECAR_SUFFIX)]).is_file()
    )
