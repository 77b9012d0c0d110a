"""The `docent` command line: the group, its commands (one module per command group:
`ingest`, `ask`, `sources`, `pipeline`, `serve` with `mcp`, `keys`, `batch`, `eval` with
`testset`, and the records in `admin`), and the one place where errors and Ctrl-C become exit codes.

Each command is an adapter that parses, calls the library and renders; the modules import
only click and the standard library at the top, so `docent --help` and `docent sources`
start without loading a model library."""

import logging
import os
import signal
import sys
import threading

import click

import components  # noqa: F401  (sets the offline defaults before any model library loads)
from components import interruption
from components.errors import ConfigError, DocentError
from pipelines.cli.admin import audit, handoffs
from pipelines.cli.ask import ask
from pipelines.cli.batch import batch
from pipelines.cli.common import Stopped, config_option, with_config
from pipelines.cli.eval import eval_command, testset
from pipelines.cli.ingest import ingest
from pipelines.cli.keys import keys
from pipelines.cli.pipeline import pipeline
from pipelines.cli.serve import mcp, serve
from pipelines.cli.sources import sources


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """docent: ingest documents, then ask questions answered with citations.

    \b
    Examples:
      docent ingest handbook/ notes.pdf
      docent ask "How many days per week can employees work remotely?"
      docent ask --json "What is the minimum password length?"
      DOCENT_DATA_DIR=/tmp/kb docent --config configs/default.yaml ingest docs/

    Everything runs offline on this machine: Qdrant Edge under the data directory,
    all-MiniLM-L6-v2 embeddings and Gemma 3 270M answers, shipped in Python packages.
    --config goes before the command or after it.
    """


# --config is declared once: the group takes it, and so does each command (after its name).
cli.params.append(config_option())
COMMANDS = (
    ingest,
    ask,
    sources,
    pipeline,
    serve,
    mcp,
    keys,
    batch,
    eval_command,
    testset,
    handoffs,
    audit,
)
for command in COMMANDS:
    cli.add_command(with_config(command))


# Seconds after Ctrl-C by which the process exits even if some work has not stopped (a
# native call, a network request): what it leaves is what a crash leaves, which every
# resumable command settles on its next run.
FORCED_EXIT_AFTER = 1.5


def _on_interrupt(signum, frame) -> None:
    """SIGINT: ask all work to stop and interrupt the main thread; exit at once on a second
    Ctrl-C, or when the first has not ended the command within FORCED_EXIT_AFTER seconds."""
    if interruption.stop_requested():
        _exit_interrupted("interrupted again: stopped at once")
    interruption.request_stop()
    message = (
        "interrupted: stopped without waiting for the work in progress; what was finished is "
        "kept: run the same command again to resume"
    )
    timer = threading.Timer(FORCED_EXIT_AFTER, _exit_interrupted, [message])
    timer.daemon = True
    timer.start()
    raise KeyboardInterrupt


def _exit_interrupted(message: str) -> None:
    """Print `message` and end the process with 130 (128 + SIGINT), without the interpreter's
    teardown: freeing the loaded models and joining threads blocked in a network call took
    seconds. Callers have closed their stores and output files before."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(2, f"{message}\n".encode())
    finally:
        os._exit(130)


def main() -> None:
    """Run the command line; domain errors become one clear message and exit code 2 or 1;
    Ctrl-C ends a command within 2 seconds with exit code 130."""
    logging.basicConfig(level=os.environ.get("DOCENT_LOG_LEVEL", "WARNING"))
    # A background job of a non-interactive shell starts with SIGINT ignored: keep it so.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_interrupt)
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as e:
        cause = e if isinstance(e, KeyboardInterrupt) else e.__cause__
        if not isinstance(cause, KeyboardInterrupt):  # end of input at a prompt
            click.echo("Aborted.", err=True)
            sys.exit(130)
        _exit_interrupted(str(cause) if isinstance(cause, Stopped) else "interrupted")
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except ConfigError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except DocentError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
