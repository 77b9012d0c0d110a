"""The `docent` command line: an adapter that parses, calls the library and renders."""

import json
import logging
import os
import sys
import time
from pathlib import Path

import click

import components  # noqa: F401  (sets the offline defaults before any model library loads)
from components.errors import ConfigError, DocentError

CONFIG_HELP = "YAML configuration file (default: $DOCENT_CONFIG, else the embedded defaults)."


def _settings(config: str | None):
    from pipelines.config import load_settings

    return load_settings(config)


def _show_path(source: str) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        return source


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """docent: ingest documents, then ask questions answered with citations.

    \b
    Examples:
      docent ingest handbook/ notes.pdf
      docent ask "How many days per week can employees work remotely?"
      docent ask --json "What is the minimum password length?"
      DOCENT_DATA_DIR=/tmp/kb docent ingest --config configs/default.yaml docs/

    Everything runs offline on this machine: Qdrant local mode under the data directory,
    all-MiniLM-L6-v2 embeddings and Gemma 3 270M answers, shipped in Python packages.
    """


def _metadata(pairs: tuple[str, ...]) -> dict[str, str]:
    """`key=value` pairs from the command line as a dict."""
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key.strip()] = value.strip()
    return metadata


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--prune",
    is_flag=True,
    help="Also remove the chunks of files that are gone from the given folders.",
)
@click.option("--tenant", help="Tag every chunk with this tenant; `ask --tenant` searches only it.")
@click.option(
    "--meta",
    "meta",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a metadata field to every chunk (repeatable). A file's sidecar "
    "`<file>.meta.json` adds fields for that file alone.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Empty the collection first and re-embed what is given (after changing the "
    "embedding model).",
)
def ingest(
    paths: tuple[str, ...],
    config: str | None,
    as_json: bool,
    quiet: bool,
    prune: bool,
    tenant: str | None,
    meta: tuple[str, ...],
    rebuild: bool,
) -> None:
    """Ingest files and folders (searched recursively) into the collection.

    Files are parsed in parallel, chunked by section, embedded and written. A manifest in the
    data directory records each file's hash, settings and chunks: ingesting the same files
    again embeds nothing, a changed file's old chunks are replaced, and a run that was killed
    is settled by the next one. A file that cannot be read is reported with the reason and the
    others go on; the exit code is 1 if any file failed.

    \b
    Examples:
      docent ingest samples/handbook
      docent ingest --prune shared/policies     # nightly sync: deleted files leave too
      docent ingest --tenant acme --meta team=support acme-docs/
      docent ingest report.pdf slides.pptx --json
    """
    from tqdm import tqdm

    metadata = _metadata(meta)
    settings = _settings(config)
    indexer = settings.open_indexer(rebuild=rebuild)
    bar = None
    counts = {"chunks": 0, "failed": 0}
    started = time.perf_counter()

    def progress(result, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="file", desc="ingest", file=sys.stderr)
        if result.status == "ingested":
            counts["chunks"] += result.chunks
        counts["failed"] += result.status == "failed"
        rate = counts["chunks"] / max(time.perf_counter() - started, 1e-9)
        bar.set_postfix({**counts, "chunks/s": f"{rate:.1f}"})
        bar.update(1)

    try:
        report = indexer.ingest(
            paths, on_file=progress, prune=prune, tenant=tenant, metadata=metadata
        )
    finally:
        if bar is not None:
            bar.close()
        indexer.close()
    summary = report.to_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        recovered = (
            f"; settled {summary['recovered']} changes of an interrupted run"
            if summary["recovered"]
            else ""
        )
        click.echo(
            f"Ingested {summary['ingested']} files ({summary['chunks_written']} chunks) in "
            f"{summary['seconds']} s, {summary['chunks_per_second']} chunks/s; "
            f"{summary['unchanged']} unchanged; {summary['removed']} removed files; "
            f"{summary['chunks_removed']} stale chunks removed; {summary['failed']} failed"
            f"{recovered}."
        )
        for failure in report.failures:
            click.echo(f"  failed: {_show_path(failure.source)}: {failure.reason}", err=True)
    sys.exit(1 if report.failures else 0)


@cli.command()
@click.argument("questions", nargs=-1, required=True)
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per question: answer, citations, intent, route, decision, "
    "models tried, verification, cost, timings, trace id.",
)
@click.option("--tenant", help="Search only the documents ingested with --tenant TENANT.")
@click.option("--trace", is_flag=True, help="Also print the route, models tried and cost.")
def ask(
    questions: tuple[str, ...],
    config: str | None,
    as_json: bool,
    tenant: str | None,
    trace: bool,
) -> None:
    """Answer questions from the ingested documents, with numbered citations.

    Each question is classified (when the configuration has intents) and follows its route:
    answered from the documents, answered directly, handed to a person, or declined. An answer
    the verifier finds unsupported goes to the next model; when none is left, the answer says
    the documents do not say instead of guessing.

    \b
    Examples:
      docent ask "How do I declare a path parameter?"
      docent ask --json "What is the refund policy?"
      docent ask --config configs/support.yaml --trace "I was charged twice this month"
      docent ask --tenant acme "What is the refund policy?"
      docent ask "First question?" "Second question?"
    """
    from pipelines.qa import QAPipeline

    qa = QAPipeline.from_settings(_settings(config))
    try:
        for question in questions:
            answer = qa.ask(question, tenant=tenant)
            if as_json:
                click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
                continue
            click.echo(f"Q: {answer.question}\nA: {answer.answer}")
            for c in answer.citations:
                where = [_show_path(c.source)]
                if c.page is not None:
                    where.append(f"page {c.page}")
                if c.section:
                    where.append(f'section "{c.section}"')
                click.echo(f"   [{c.number}] {', '.join(where)}")
            if answer.handoff:
                click.echo(f"   handoff ticket {answer.handoff['id']}")
            if trace:
                click.echo(_trace(answer))
            click.echo(f"   ({answer.timings['total']:.2f} s)\n")
    finally:
        qa.close()


def _trace(answer) -> str:
    """The route, the models tried and the cost, as indented lines."""
    intent = answer.intent or {}
    head = (
        f"   intent: {intent.get('name', '-')} ({intent.get('confidence', '-')}); "
        f"route: {answer.route}; decision: {answer.decision}; model: {answer.model or '-'}"
    )
    lines = [head]
    for call in answer.models_tried:
        detail = f" ({call['detail']})" if call["detail"] else ""
        lines.append(f"   tried {call['model']}: {call['outcome']}{detail}")
    if answer.verification and "score" in answer.verification:
        lines.append(f"   verification: {answer.verification['score']}")
    lines.append(
        f"   tokens: {answer.tokens['prompt']} in, {answer.tokens['completion']} out; "
        f"cost: {answer.cost:.6f}; trace: {answer.trace_id}"
    )
    return "\n".join(lines)


@cli.command()
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--limit", default=20, show_default=True, help="How many tickets to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the tickets as a JSON list.")
def handoffs(config: str | None, limit: int, as_json: bool) -> None:
    """List the conversations handed to a person, newest first.

    \b
    Examples:
      docent handoffs --config configs/support.yaml
      docent handoffs --json --limit 5
    """
    from components.routing.handoff_desk import HandoffDesk

    settings = _settings(config)
    desk = HandoffDesk(path=settings.handoff_path)
    tickets = [ticket.to_dict() for ticket in desk.tickets(limit)]
    if as_json:
        click.echo(json.dumps(tickets, indent=2, ensure_ascii=False))
        return
    if not tickets:
        click.echo("No handoffs yet.")
    for ticket in tickets:
        click.echo(
            f"{ticket['id']}  {ticket['intent'] or '-'}  {ticket['question']!r}  "
            f"webhook: {ticket['webhook_status']}"
        )


def main() -> None:
    """Run the command line; domain errors become one clear message and exit code 2 or 1."""
    logging.basicConfig(level=os.environ.get("DOCENT_LOG_LEVEL", "WARNING"))
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
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
