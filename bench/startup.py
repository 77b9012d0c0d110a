"""How long docent's commands take from a cold start, and how much memory they peak at.

Each command runs as a fresh process (as a user's shell runs it), several times; the table
shows the median wall time, the peak resident memory of the process (`ru_maxrss`), the
target of issue 18, and the three top-level imports that took longest (`python -X
importtime`, from one more run). `python -c pass` runs first, in the same invocation: the
floor any Python command pays on this machine.

The data directory is a fresh one with `samples/handbook` ingested (not timed), so `ingest`
measures a no-op re-ingest of an unchanged folder and `ask` a cold question on the demo store.

Usage:
    .venv/bin/python bench/startup.py [--runs 3]
(about a minute on 2 cores)
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCENT = str(Path(sys.executable).parent / "docent")
QUESTION = "What is the minimum length of a password?"

# (label, arguments, wall-time target in seconds, peak-memory target in MB or None)
COMMANDS = [
    ("python -c pass", [sys.executable, "-c", "pass"], None, None),
    ("docent --help", [DOCENT, "--help"], 1.0, None),
    ("docent sources", [DOCENT, "sources"], 1.0, None),
    ("docent audit", [DOCENT, "audit"], 1.0, None),
    ("docent handoffs", [DOCENT, "handoffs"], 1.0, None),
    ("docent keys list", [DOCENT, "keys", "list"], 1.0, None),
    ("docent ingest (no-op)", [DOCENT, "ingest", "--quiet", "samples/handbook"], 2.0, None),
    ("docent ask (cold)", [DOCENT, "ask", QUESTION], 3.0, 600),
]


def run_once(arguments: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one run of `arguments`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        arguments, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode()
    process.stderr.close()
    if process.returncode != 0:
        sys.exit(f"{' '.join(arguments[1:])} failed ({process.returncode}):\n{error}")
    return wall, usage.ru_maxrss / 1024


def top_imports(arguments: list[str], env: dict[str, str], count: int = 3) -> str:
    """The `count` top-level imports that took longest in one run, as 'name 0.12s'."""
    if arguments[0] != sys.executable:
        arguments = [sys.executable, *arguments]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *arguments[1:]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    times = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        # Top-level imports are those indented by one space after the bar.
        if cumulative.strip().isdigit() and not name.startswith("  "):
            times.append((int(cumulative) / 1e6, name.strip()))
    times.sort(reverse=True)
    return ", ".join(f"{name} {seconds:.2f}s" for seconds, name in times[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "DOCENT_DATA_DIR": data}
        env.pop("DOCENT_CONFIG", None)
        subprocess.run(
            [DOCENT, "ingest", "--quiet", "samples/handbook"],
            cwd=REPO,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(
            f"{'command':24} {'wall s':>7} {'target':>7} {'peak MB':>8} {'target':>7}  top imports"
        )
        failed = []
        for label, arguments, wall_target, memory_target in COMMANDS:
            runs = [run_once(arguments, env) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            memory = max(r[1] for r in runs)
            within = (wall_target is None or wall < wall_target) and (
                memory_target is None or memory < memory_target
            )
            if not within:
                failed.append(label)
            targets = (
                f"{'< ' + str(wall_target) if wall_target else '':>7} {memory:8.0f} "
                f"{'< ' + str(memory_target) if memory_target else '':>7}"
            )
            print(f"{label:24} {wall:7.2f} {targets}  {top_imports(arguments, env)}")
        print(
            "torch loaded by `docent ask`: "
            + subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from pipelines.cli.main import main; sys.argv = ['docent', 'ask', "
                    f"{QUESTION!r}]\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
                    "print('torch._C' in sys.modules, file=sys.stderr)",
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
            ).stderr.strip()
        )
        print("all within target" if not failed else f"over target: {', '.join(failed)}")


if __name__ == "__main__":
    main()
