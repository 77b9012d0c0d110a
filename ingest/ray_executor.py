"""Parse files as Ray tasks: the same per-file work as the local pool, on a cluster.

The tasks return their chunks to the process that runs the ingest, which embeds them and
owns the writes (an embedded store allows one writer; with a Qdrant server the same process
writes too), so the manifest's journal works unchanged.

Each Ray worker parses in a one-process `ParsePool` of its own, so a task has the same limits
as a local ingest: the memory limit (`parsing.max_worker_mb`, an operating-system limit that
cannot be set on the Ray worker itself, whose runtime needs far more address space), and a
crash or a ZIP bomb costs one parser process, not the Ray worker.
"""

import atexit
import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from components.errors import ConfigError
from ingest.parse_pool import ParsePool
from ingest.parsing import Parsed

# The parser pool of this Ray worker process, by the parser and limits it was made for.
_worker_pools: dict[bytes, ParsePool] = {}


def _parse_remote(
    parse: Callable[[Path], Parsed], path: Path, memory_mb: int | None, timeout: float
) -> Parsed:
    key = pickle.dumps((parse, memory_mb, timeout))
    if key not in _worker_pools:
        _close_worker_pools()  # made for another ingest's settings
        _worker_pools[key] = ParsePool(parse, workers=1, timeout=timeout, memory_mb=memory_mb)
    return next(iter(_worker_pools[key].parse([path])))


@atexit.register
def _close_worker_pools() -> None:
    for pool in _worker_pools.values():
        pool.close()
    _worker_pools.clear()


class RayParsePool:
    """Runs a file parser as Ray tasks, each file under a time limit.

    Usage:
    ```python
    with RayParsePool(FileParser(...), workers=8, timeout=120, address="ray://head:10001") as pool:
        for parsed in pool.parse(paths):      # in the order they finish
            ...
    ```
    """

    def __init__(
        self,
        parse: Callable[[Path], Parsed],
        *,
        workers: int,
        timeout: float,
        address: str | None = None,
        memory_mb: int | None = None,
    ) -> None:
        """Keep the settings; Ray starts (or is joined) on the first `parse`.

        :param workers: files in flight at once (a local instance gets this many CPUs).
        :param address: a Ray cluster's address; None starts a local instance.
        :param memory_mb: the address space a file's parser process may use (None: no limit).
        """
        self.parse_file = parse
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.address = address
        self._started_ray = False
        self._remote = None

    def __enter__(self) -> "RayParsePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def parse(self, paths: Iterable[Path]) -> Iterator[Parsed]:
        """Parse `paths` as Ray tasks and yield each result as it arrives."""
        ray = self._ray()
        parse_ref = ray.put(self.parse_file)
        todo = list(paths)
        running: dict = {}  # task ref -> (path, when it was submitted)
        while todo or running:
            while todo and len(running) < self.workers:
                path = todo.pop(0)
                task = self._remote.remote(parse_ref, path, self.memory_mb, self.timeout)
                running[task] = (path, time.monotonic())
            oldest = min(started for _, started in running.values())
            wait = max(0.0, oldest + self.timeout - time.monotonic())
            ready, _ = ray.wait(list(running), num_returns=1, timeout=wait)
            for ref in ready:
                path, _ = running.pop(ref)
                yield self._result(ray, ref, path)
            now = time.monotonic()
            for ref, (path, started) in list(running.items()):
                if now - started >= self.timeout:
                    ray.cancel(ref, force=True)
                    del running[ref]
                    yield Parsed(
                        str(path),
                        reason=f"parsing took longer than {self.timeout:g} s and was stopped "
                        "(parsing.file_timeout); the file may be damaged or very large: split "
                        "it, or raise the limit",
                    )

    def close(self) -> None:
        """Shut down the local Ray instance if this pool started it."""
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False

    def _result(self, ray, ref, path: Path) -> Parsed:
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as e:
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            return Parsed(
                str(path), reason=f"the Ray task parsing this file failed ({detail[:200]})"
            )

    def _ray(self):
        try:
            import ray
        except ImportError as e:
            raise ConfigError(
                "parsing.executor 'ray' needs Ray: pip install 'ray==2.60.0' (it is in "
                "requirements.lock)"
            ) from e
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
                self._started_ray = True
        if self._remote is None:
            self._remote = ray.remote(max_retries=0)(_parse_remote)
        return ray
