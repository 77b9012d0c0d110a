"""Schema set-up survives a kill at any point: the next open finds a usable file."""

import importlib
import subprocess
import sys
import textwrap

import pytest

from components.sqlite_schema import connect

# Every SQLite store of docent and the module that holds its migrations.
STORES = [
    "ingest.manifest",
    "pipelines.service.sessions",
    "pipelines.service.keys",
    "pipelines.service.jobs",
    "components.gates.audit_log",
    "components.routing.handoff_desk",
]

# Opens a new file with a store's migrations and dies (no clean-up, like SIGKILL) just as
# the first migration is about to be recorded in `user_version`.
_KILLED_OPEN = textwrap.dedent(
    """
    import importlib, os, sqlite3, sys
    from pathlib import Path
    import components.sqlite_schema as schema

    real_connect = sqlite3.connect

    def dying_connect(*args, **kwargs):
        db = real_connect(*args, **kwargs)
        def trace(statement):
            if statement.strip().upper().startswith("PRAGMA USER_VERSION = 1"):
                os._exit(9)
        db.set_trace_callback(trace)
        return db

    schema.sqlite3.connect = dying_connect
    migrations = importlib.import_module(sys.argv[1])._MIGRATIONS
    with schema.connect(Path(sys.argv[2]), migrations):
        pass
    """
)


@pytest.mark.parametrize("module", STORES)
def test_a_kill_during_schema_set_up_leaves_a_file_that_opens(tmp_path, module):
    path = tmp_path / "store.sqlite"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_OPEN, module, str(path)], capture_output=True, text=True
    )
    assert killed.returncode == 9, killed.stderr

    migrations = importlib.import_module(module)._MIGRATIONS
    with connect(path, migrations) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    assert version == len(migrations)


def test_a_failed_migration_changes_nothing(tmp_path):
    path = tmp_path / "store.sqlite"
    migrations = ["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER", "SELECT 1"]
    with pytest.raises(Exception, match="syntax error|incomplete input"):
        with connect(path, migrations):
            pass
    with connect(path, migrations[:1]) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM a").fetchone()[0] == 0
