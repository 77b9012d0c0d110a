"""Turn the paths given on the command line into the list of files to ingest."""

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

# `report.pdf.meta.json` holds metadata for `report.pdf`; it is not a document itself.
SIDECAR_SUFFIX = ".meta.json"
# What a path that is neither a file nor a folder is, by `stat` test.
_NOT_FILES = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


@dataclass(frozen=True)
class Sources:
    """Files found under the given paths, the given paths that do not exist, and the entries
    that are not ingested, with why (`refused`).

    `names` holds each file's name for people: its path relative to the parent of the folder
    it was found in (`handbook/policies/leave.md` for `docent ingest ~/docs/handbook`), or its
    own name when it was given directly (`given`). It is what answers cite, so that no path of
    the machine that ingested it reaches a reader. `refused` holds, by the path as found (a
    link is not resolved), the entry's name, named like a file, and why it is not ingested.
    """

    files: list[Path]
    missing: list[Path]
    names: dict[Path, str]
    given: set[Path]
    refused: dict[Path, tuple[str, str]] = field(default_factory=dict)


def find_sources(paths: list[str | Path], follow_outside_links: bool = False) -> Sources:
    """Expand files and folders (recursively) into files, sorted, each once.

    Hidden files and folders (names starting with ".") inside a folder are skipped, and so are
    metadata sidecars (`<file>.meta.json` beside `<file>`); a file named directly is always
    taken. Everything else that is not a regular file is refused with the reason: named pipes,
    sockets and devices (reading one can block forever or never end), links that point at
    nothing or at themselves, and links that leave the folder they were found in, unless
    `follow_outside_links` (a folder's links could otherwise pull in any file the user can
    read, such as `~/.ssh`). A link to a folder inside the folder is not followed: its files
    are found where they are.
    """
    found = _Walk(follow_outside_links)
    for given in paths:
        path = Path(given).expanduser()
        if not os.path.lexists(path):
            found.missing.append(path)
            continue
        target, reason = _target(path)
        if reason:
            found.refuse(path, path.name, reason)
        elif target.is_dir():
            found.walk(path, root=target, prefix=target.name)
        else:
            found.add(target, path.name, given=True)
    return Sources(
        files=list(found.names),
        missing=found.missing,
        names=found.names,
        given=found.given,
        refused=found.refused,
    )


class _Walk:
    """What `find_sources` has found so far."""

    def __init__(self, follow_outside_links: bool) -> None:
        self.follow_outside_links = follow_outside_links
        self.names: dict[Path, str] = {}
        self.given: set[Path] = set()
        self.missing: list[Path] = []
        self.refused: dict[Path, tuple[str, str]] = {}
        self._walked: set[Path] = set()

    def add(self, file: Path, name: str, given: bool = False) -> None:
        if file not in self.names:
            self.names[file] = name
            if given:
                self.given.add(file)

    def refuse(self, path: Path, name: str, reason: str) -> None:
        self.refused.setdefault(path, (name, reason))

    def walk(self, folder: Path, root: Path, prefix: str) -> None:
        """Add the files under `folder` (resolved: `root`), named `prefix/relative path`."""
        if root in self._walked:
            return
        self._walked.add(root)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            self.refuse(folder, prefix, f"cannot be read ({e.strerror})")
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            name = f"{prefix}/{entry.name}"
            target, reason = _target(path)
            if reason:
                self.refuse(path, name, reason)
                continue
            linked = entry.is_symlink()
            inside = target.is_relative_to(root)
            if linked and not inside and not self.follow_outside_links:
                self.refuse(
                    path,
                    name,
                    "a link to outside its folder; links out of an ingested folder are not "
                    "followed: ingest the target itself, or set parsing.follow_outside_links",
                )
            elif target.is_dir():
                if not linked or not inside:
                    self.walk(path, target, name)
            elif not _is_sidecar(path):
                self.add(target, name)


def _target(path: Path) -> tuple[Path, str]:
    """The resolved regular file or folder that `path` is (or links to), or why it is not one."""
    try:
        target = path.resolve(strict=True)
        mode = target.stat().st_mode
    except RuntimeError:  # Python < 3.13 reports a loop this way
        return path, "a link that loops back on itself; fix or delete the link"
    except FileNotFoundError:
        return path, "a link to something that does not exist; fix or delete the link"
    except OSError as e:
        if e.errno == errno.ELOOP:
            return path, "a link that loops back on itself; fix or delete the link"
        return path, f"cannot be read ({e.strerror})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return target, ""
    kind = next((what for test, what in _NOT_FILES if test(mode)), "not a regular file")
    via = " (through a link)" if path.is_symlink() else ""
    return path, f"{kind}{via}, not a file: only regular files are ingested; leave it out"


def _is_sidecar(path: Path) -> bool:
    return (
        path.name.endswith(SIDECAR_SUFFIX)
        and path.with_name(path.name[: -len(SIDECAR_SUFFIX)]).is_file()
    )
