"""Run the installed `docent` command, as a user would, for the tests."""

import subprocess
import sys
from pathlib import Path

DOCENT = Path(sys.executable).with_name("docent")


def docent(*args: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """`docent ARGS...` in a child process with `env`; its exit code and output, not raised."""
    return subprocess.run(
        [str(DOCENT), *args], check=False, env=env, capture_output=True, text=True, timeout=timeout
    )
