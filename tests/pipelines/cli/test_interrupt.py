"""Ctrl-C: a real `docent` process gets a real SIGINT while it works, exits within 2 seconds
with code 130 and a line saying what it kept, and the next run resumes from there.

The limit asserted is 3 seconds, not 2: these tests share a loaded 2-core machine with others,
and the interval measured includes the signal's delivery and the process's exit as seen from
the parent. On an idle machine the commands exit in 0.1-0.4 s.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.cli import DOCENT, docent

REPO = Path(__file__).resolve().parents[3]
HANDBOOK = REPO / "samples" / "handbook"
# Seconds from SIGINT to exit allowed here (the promise is 2; see the module docstring).
EXIT_WITHIN = 3.0
QUESTIONS = [
    "How many days per week can employees work remotely?",
    "What is the minimum length of a password?",
    "Within how many days must expense reports be submitted?",
    "What happens on the first day of onboarding?",
    "How many vacation days do employees get?",
]


class Running:
    """A `docent` process whose stderr (progress bars, messages) is read as it comes."""

    def __init__(self, args: list[str], env: dict, *, own_group: bool = False) -> None:
        self.proc = subprocess.Popen(
            [str(DOCENT), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=own_group,
        )
        self.stdout = b""
        self.stderr = b""
        self._readers = [
            threading.Thread(target=self._read, args=(name,), daemon=True)
            for name in ("stdout", "stderr")
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str) -> None:
        stream = getattr(self.proc, name)
        while chunk := os.read(stream.fileno(), 65536):
            setattr(self, name, getattr(self, name) + chunk)

    def wait_for_progress(self, at_least: int, timeout: float = 120) -> None:
        """Wait until the progress bar shows `at_least` items done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = re.findall(rb"\| *(\d+)/\d+ ", self.stderr)
            if counts and int(counts[-1]) >= at_least:
                return
            assert self.proc.poll() is None, self.stderr.decode(errors="replace")
            time.sleep(0.05)
        raise AssertionError(f"no progress to {at_least}: {self.stderr[-500:]!r}")

    def interrupt(self, *, group: bool = False) -> float:
        """Send SIGINT (to the whole process group, as a terminal's Ctrl-C does, when `group`)
        and return the seconds until the process exited."""
        sent = time.monotonic()
        if group:
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        finally:
            elapsed = time.monotonic() - sent
            if self.proc.poll() is None:
                self.proc.kill()
        for reader in self._readers:
            reader.join(timeout=10)
        return elapsed

    @property
    def last_line(self) -> str:
        lines = self.stderr.decode(errors="replace").replace("\r", "\n").splitlines()
        return [line for line in lines if line.strip()][-1]


def _env(data_dir: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCENT_", "HF_", "TRANSFORMERS_"))
    }
    env["DOCENT_DATA_DIR"] = str(data_dir)
    return env


@pytest.fixture(scope="module")
def handbook_env(tmp_path_factory) -> dict:
    """A data directory holding the sample handbook."""
    env = _env(tmp_path_factory.mktemp("handbook-data"))
    ingested = docent("ingest", "--quiet", str(HANDBOOK), env=env)
    assert ingested.returncode == 0, ingested.stderr
    return env


def test_ctrl_c_stops_batch_ask_at_once_and_the_next_run_resumes(tmp_path, handbook_env):
    questions = tmp_path / "questions.jsonl"
    ids = [f"q{n}" for n in range(30)]
    questions.write_text(
        "".join(
            json.dumps({"id": i, "question": f"{QUESTIONS[n % len(QUESTIONS)]} ({n})"}) + "\n"
            for n, i in enumerate(ids)
        )
    )
    answers = tmp_path / "answers.jsonl"
    run = Running(["batch", "ask", str(questions), "-o", str(answers)], handbook_env)
    run.wait_for_progress(2)
    seconds = run.interrupt()

    assert run.proc.returncode == 130, run.stderr
    assert seconds < EXIT_WITHIN, (seconds, run.stderr[-500:])
    written = [json.loads(line) for line in answers.read_text().splitlines()]
    assert 2 <= len(written) < len(ids)
    assert answers.read_text().endswith("\n")
    assert run.last_line == (
        f"interrupted: {len(written)} of 30 items are done in {answers}; run the same command "
        "again to resume"
    )
    assert not Path(f"{answers}.failures.jsonl").exists()

    again = docent("batch", "ask", "--quiet", str(questions), "-o", str(answers), env=handbook_env)
    assert again.returncode == 0, again.stderr
    assert f"{30 - len(written)} done, {len(written)} already done, 0 failed" in again.stdout
    records = [json.loads(line) for line in answers.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted(ids)  # each exactly once
    assert all(r["answer"] for r in records)


def test_ctrl_c_stops_ask_at_once(handbook_env):
    run = Running(["ask", *QUESTIONS * 4], handbook_env)
    deadline = time.monotonic() + 120
    while b"Q: " not in run.stdout and time.monotonic() < deadline:
        assert run.proc.poll() is None, run.stderr
        time.sleep(0.05)
    seconds = run.interrupt()

    assert run.proc.returncode == 130, run.stderr
    assert seconds < EXIT_WITHIN, (seconds, run.stderr[-500:])
    answered = run.stdout.decode().count("Q: ")
    assert run.last_line.startswith(f"interrupted: {answered} of 20 questions answered")


def _pages(folder: Path, count: int) -> None:
    """`count` Markdown pages of a few sections each."""
    folder.mkdir()
    for n in range(count):
        sections = "\n\n".join(
            f"## Part {part}\n\n"
            + " ".join(f"Step {step}: check valve {n}-{part}-{step} weekly." for step in range(12))
            for part in range(4)
        )
        (folder / f"page-{n:03d}.md").write_text(f"# Guide {n}\n\n{sections}\n")


def test_ctrl_c_from_a_terminal_stops_ingest_at_once_and_the_next_run_resumes(tmp_path):
    corpus = tmp_path / "corpus"
    _pages(corpus, 120)
    config = tmp_path / "config.yaml"
    # Small write batches: files are recorded a few at a time, as on a large corpus.
    config.write_text(
        yaml.safe_dump({"data_dir": str(tmp_path / "data"), "embedding": {"write_batch": 24}})
    )
    env = _env(tmp_path / "data")
    # A terminal's Ctrl-C reaches the whole process group, the parser workers too.
    run = Running(["ingest", "--config", str(config), str(corpus)], env, own_group=True)
    run.wait_for_progress(8)
    seconds = run.interrupt(group=True)

    assert run.proc.returncode == 130, run.stderr
    assert seconds < EXIT_WITHIN, (seconds, run.stderr[-500:])
    assert b"Traceback" not in run.stderr, run.stderr.decode(errors="replace")
    message = re.fullmatch(
        r"interrupted: (\d+) of 120 files stored and recorded in the manifest; run the same "
        r"command again to resume \(recorded files are skipped\)",
        run.last_line,
    )
    assert message, run.last_line
    kept = int(message.group(1))
    assert 8 <= kept < 120

    again = docent("ingest", "--json", "--config", str(config), str(corpus), env=env)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    # A file recorded in the instant before the signal, too late to be counted, is unchanged
    # now as well: nothing is ingested twice.
    assert summary["unchanged"] >= kept and summary["failed"] == 0
    assert summary["unchanged"] + summary["ingested"] == 120
    check = docent("sources", "--check", "--json", "--config", str(config), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    listing = json.loads(check.stdout)
    assert len(listing["sources"]) == 120
    assert listing["check"] == {"missing": [], "orphaned": [], "pending": [], "out_of_date": []}


# Work that ignores the interruption, as a native call that does not return for minutes does.
STUCK = """
import time
from pipelines.cli.main import _on_interrupt
import signal
signal.signal(signal.SIGINT, _on_interrupt)
print("working", flush=True)
while True:
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        pass
"""


@pytest.mark.parametrize("presses", [1, 2])
def test_work_that_does_not_stop_is_left_behind(presses):
    """One Ctrl-C: the process exits FORCED_EXIT_AFTER seconds later whatever it is doing;
    a second Ctrl-C: at once."""
    from pipelines.cli.main import FORCED_EXIT_AFTER

    process = subprocess.Popen(
        [str(DOCENT.with_name("python")), "-c", STUCK],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline() == "working\n"
    sent = time.monotonic()
    for _ in range(presses):
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
    try:
        process.wait(timeout=30)
    finally:
        process.kill()
    seconds = time.monotonic() - sent
    assert process.returncode == 130
    if presses == 1:
        assert FORCED_EXIT_AFTER - 0.1 < seconds < FORCED_EXIT_AFTER + 1.5
        assert process.stderr.read().startswith("interrupted: stopped without waiting")
    else:
        assert seconds < 1.5
        assert process.stderr.read() == "interrupted again: stopped at once\n"
