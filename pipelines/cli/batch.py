"""`docent batch`: a query pipeline or a document task over many items, resumably."""

import json
import sys
from pathlib import Path

import click

from pipelines.cli.common import Stopped, store_settings


@click.group()
def batch() -> None:
    """Run a query pipeline or a document task over many items, resumably.

    Results go to --output, one record per item (CSV when the name ends in .csv, else JSON
    Lines). Each record is on disk before the next item starts: run the same command again
    after an interruption and only the missing items are done. A document's id is its path
    below the common root of the given paths (a/readme.md, b/readme.md). Failed items are
    listed in OUTPUT.failures.jsonl and tried again by the next run; the exit code is 1 if
    any failed.

    \b
    Examples:
      docent batch ask questions.jsonl -o answers.jsonl
      docent batch summarise reports/ -o summaries.csv
      docent batch classify --config configs/support.yaml tickets/ -o intents.csv
      docent batch extract invoices/ --schema invoice.schema.json -o fields.jsonl
    """


def _batch_options(command):
    command = click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Results file: .csv for CSV, anything else for JSON Lines.",
    )(command)
    command = click.option(
        "--workers",
        default=1,
        show_default=True,
        help="Items at once (more than 1 only with models behind an endpoint).",
    )(command)
    command = click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")(
        command
    )
    return click.option("--quiet", is_flag=True, help="No progress bar.")(command)


def _run_batch(task: str, items_of, output, workers, as_json, quiet, **options) -> None:
    from ingest.batch_runner import BatchInterrupted, BatchRunner
    from pipelines.batch import check_task, check_workers, fields, make_task
    from pipelines.cli.progress import Progress, shows_progress
    from pipelines.query.pipeline import QAPipeline

    settings = store_settings()
    check_workers(settings, workers)
    items = items_of()
    runner = BatchRunner(
        output, fields=fields(task, Path(output), options.get("schema")), workers=workers
    )
    # Classifying needs intents, not a route per intent.
    qa = QAPipeline.from_settings(settings, routing=task != "classify")
    progress = Progress(task, "item", enabled=shows_progress(quiet, as_json))

    def item_done(item_id: str, status: str, total: int) -> None:
        progress.expect(total)
        progress.advance(failed=int(status == "failed"))

    try:
        check_task(task, qa, options.get("schema"))
        progress.start()
        report = runner.run(items, make_task(task, qa, **options), on_item=item_done)
    except BatchInterrupted as e:
        done = e.report.already_done + e.report.done
        raise Stopped(
            f"interrupted: {done} of {e.report.total} items are done in {output}; run the same "
            "command again to resume"
        ) from e
    finally:
        progress.close()
        qa.close()
    summary = report.to_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        click.echo(
            f"{task}: {summary['done']} done, {summary['already_done']} already done, "
            f"{summary['failed']} failed, in {summary['seconds']} s; results in {output}"
        )
        for failure in report.failed:
            click.echo(f"  failed: {failure['id']}: {failure['reason']}", err=True)
    sys.exit(1 if report.failed else 0)


@batch.command("ask")
@click.argument("questions", type=click.Path(dir_okay=False, path_type=Path))
@_batch_options
@click.option("--tenant", help="Search only the documents ingested for this tenant.")
def batch_ask(questions, output, workers, as_json, quiet, tenant) -> None:
    """Answer each question of a JSON Lines file ({"id": ..., "question": ...} per line).

    \b
    Examples:
      docent batch ask questions.jsonl -o answers.jsonl
      docent batch ask --tenant acme questions.jsonl -o answers.csv
    """
    from pipelines.batch import load_questions

    _run_batch(
        "ask",
        lambda: load_questions(questions),
        output,
        workers,
        as_json,
        quiet,
        tenant=tenant,
    )


@batch.command("summarise")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_batch_options
def batch_summarise(paths, output, workers, as_json, quiet) -> None:
    """Summarise each document under the given files and folders.

    \b
    Examples:
      docent batch summarise reports/ -o summaries.jsonl
    """
    from pipelines.batch import document_items

    _run_batch("summarise", lambda: document_items(paths), output, workers, as_json, quiet)


@batch.command("classify")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_batch_options
def batch_classify(paths, output, workers, as_json, quiet) -> None:
    """Classify each document with the configuration's intent classifier.

    \b
    Examples:
      docent batch classify --config configs/support.yaml tickets/ -o intents.csv
    """
    from pipelines.batch import document_items

    _run_batch("classify", lambda: document_items(paths), output, workers, as_json, quiet)


@batch.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--schema",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON schema of the fields to extract.",
)
@_batch_options
def batch_extract(paths, schema, output, workers, as_json, quiet) -> None:
    """Extract fields of a JSON schema from each document (null where it does not say).

    \b
    Examples:
      docent batch extract invoices/ --schema invoice.schema.json -o fields.jsonl
    """
    from pipelines.batch import document_items, load_schema

    fields = load_schema(schema)
    _run_batch(
        "extract",
        lambda: document_items(paths),
        output,
        workers,
        as_json,
        quiet,
        schema=fields,
    )
