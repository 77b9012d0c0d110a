"""The `docent serve` running on this machine's data directory, and how the CLI uses it.

An embedded store admits one process, so while `docent serve` holds it, `docent ask` and
`docent ingest` could not open it. The server therefore records where it listens beside the
store (`serve.json` in the data directory, readable by its owner only), with an operator token
made at start-up: whoever can read the data directory can read the store anyway, so the token
gives nothing more than the files do. The CLI finds the record, checks that its process is
alive, and sends its work to the server over loopback HTTP with the token.

Usage:
```python
server = running_server(settings)          # None when no live server holds this data dir
if server is not None:
    answer = ServerClient(server).ask("What is the refund policy?", tenant=None)
```
"""

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components.errors import DocentError, StoreError

RECORD = "serve.json"
# The header by which the operator names a tenant; the server reads it for the operator only.
OPERATOR_TENANT_HEADER = "X-Docent-Operator-Tenant"
# How long the CLI waits for a server that is still loading its models (503).
STARTING_WAIT = 120.0


@dataclass(frozen=True)
class ServerRecord:
    """Where a running `docent serve` listens, and the token of its operator."""

    pid: int
    url: str
    token: str


def record_path(data_path: Path) -> Path:
    """The record's file in the data directory."""
    return data_path / RECORD


def write_record(data_path: Path, host: str, port: int) -> ServerRecord:
    """Record this process as the server of `data_path` (a fresh operator token); readable
    by the owner only."""
    # A server listening on every address is reached on loopback.
    local = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    bracketed = f"[{local}]" if ":" in local else local
    record = ServerRecord(os.getpid(), f"http://{bracketed}:{port}", secrets.token_urlsafe(32))
    data_path.mkdir(parents=True, exist_ok=True)
    path = record_path(data_path)
    partial = path.with_suffix(f".{os.getpid()}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(asdict(record), file)
    partial.replace(path)
    return record


def remove_record(data_path: Path, record: ServerRecord) -> None:
    """Remove the record, if it is still this server's."""
    path = record_path(data_path)
    if _read(path) == record:
        path.unlink(missing_ok=True)


def running_server(data_path: Path) -> ServerRecord | None:
    """The live server recorded for `data_path`, or None (no record, or its process is gone:
    a killed server leaves a record behind)."""
    record = _read(record_path(data_path))
    return record if record is not None and running_server_alive(record) else None


def running_server_alive(server: ServerRecord) -> bool:
    """Whether the process of `server` still runs."""
    try:
        os.kill(server.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, under another user
    return True


def held_by_server(error: StoreError, data_path: Path) -> StoreError:
    """`error` (the store is in use), with what to do when a running server holds it."""
    server = running_server(data_path)
    if server is None:
        return error
    return StoreError(
        f"`docent serve` (process {server.pid}, {server.url}) holds the vector store; "
        "`docent ask`, `docent ingest` and `docent sources` go through it or beside it, other "
        f"commands need the store to themselves: stop the server (kill {server.pid}), run the "
        "command, then start the server again"
    )


def _read(path: Path) -> ServerRecord | None:
    try:
        data = json.loads(path.read_text())
        return ServerRecord(int(data["pid"]), str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ServerClient:
    """The CLI's calls to a running server, as its operator."""

    def __init__(self, server: ServerRecord, timeout: float = 600.0) -> None:
        self.server = server
        self.timeout = timeout

    def ask(self, question: str, tenant: str | None) -> dict[str, Any]:
        """The answer of the server's pipeline, as `docent ask --json` prints it."""
        return self._call("POST", "/v1/ask", {"question": question}, tenant)

    def ingest(self, paths: list[str], tenant: str | None) -> dict[str, Any]:
        """Queue an ingest job of local paths on the server; its record."""
        resolved = [str(Path(p).expanduser().resolve()) for p in paths]
        return self._call("POST", "/v1/ingest", {"paths": resolved}, tenant)

    def job(self, job_id: str) -> dict[str, Any]:
        """An ingest job's record: status, files, summary when done."""
        return self._call("GET", f"/v1/jobs/{job_id}", None)

    def _call(
        self, method: str, path: str, body: dict | None, tenant: str | None = None
    ) -> dict[str, Any]:
        import httpx

        deadline = time.monotonic() + STARTING_WAIT
        headers = {"Authorization": f"Bearer {self.server.token}"}
        if tenant is not None:
            headers[OPERATOR_TENANT_HEADER] = tenant
        while True:
            try:
                response = httpx.request(
                    method,
                    self.server.url + path,
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except httpx.ConnectError as e:
                # A server that is starting listens only once its models are loaded.
                if (
                    _refused(e)
                    and time.monotonic() < deadline
                    and running_server_alive(self.server)
                ):
                    time.sleep(0.5)
                    continue
                raise DocentError(
                    f"`docent serve` (process {self.server.pid}) holds the store but did not "
                    f"answer at {self.server.url} ({e}); stop it (kill {self.server.pid}) or "
                    "wait until it is up"
                ) from e
            except httpx.HTTPError as e:
                raise DocentError(
                    f"`docent serve` (process {self.server.pid}) holds the store but did not "
                    f"answer at {self.server.url} ({type(e).__name__}: {e}); stop it "
                    f"(kill {self.server.pid}) or wait until it is up"
                ) from e
            # 503: still loading its models; 429: too many waiting. Both ask to come back.
            if response.status_code in (429, 503) and time.monotonic() < deadline:
                time.sleep(float(response.headers.get("Retry-After", 1)))
                continue
            if response.status_code >= 400:
                try:
                    detail = response.json().get("detail", response.text)
                except ValueError:
                    detail = response.text
                raise DocentError(f"the server at {self.server.url} refused: {detail}")
            return response.json()


def _refused(error: BaseException) -> bool:
    """Whether a connection error is the port's refusal (nothing listens there yet)."""
    while error is not None:
        if isinstance(error, ConnectionRefusedError):
            return True
        error = error.__cause__ or error.__context__
    return False
