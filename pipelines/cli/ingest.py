"""`docent ingest`: files and folders into the collection, locally or through a running
`docent serve`."""

import json
import sys
import time

import click

from components.errors import DocentError
from pipelines.cli.common import Stopped, load_settings


def _stale_summary(summary: dict) -> str:
    """The part of the ingest summary on files whose stored chunks no longer match them."""
    parts = []
    if summary["emptied"]:
        parts.append(f"{summary['emptied']} emptied (their chunks removed)")
    if summary["gone"]:
        parts.append(f"{summary['gone']} deleted from disk but still served (--prune removes them)")
    still = sum(1 for f in summary["failures"] if f["kept"])
    if still:
        parts.append(f"{still} failed files still served from their last good version")
    return "".join(f"; {part}" for part in parts)


def _metadata(pairs: tuple[str, ...]) -> dict[str, str]:
    """`key=value` pairs from the command line as a dict."""
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key.strip()] = value.strip()
    return metadata


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
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
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where files are parsed: local worker processes, or Ray tasks "
    "(parsing.ray_address, else a local Ray instance). Default: parsing.executor.",
)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Empty the collection first and re-embed what is given (after changing the "
    "embedding model).",
)
def ingest(
    paths: tuple[str, ...],
    as_json: bool,
    quiet: bool,
    prune: bool,
    tenant: str | None,
    meta: tuple[str, ...],
    executor: str | None,
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
      docent ingest --executor ray /mnt/share      # parse on the Ray cluster
    """
    from pipelines.cli.progress import Progress, shows_progress
    from pipelines.local_server import running_server

    metadata = _metadata(meta)
    settings = load_settings()
    server = running_server(settings.data_path)
    if server is not None:
        given = [
            flag
            for flag, on in (
                ("--prune", prune),
                ("--rebuild", rebuild),
                ("--executor", executor),
                ("--meta", meta),
            )
            if on
        ]
        if given:
            raise click.UsageError(
                f"`docent serve` (process {server.pid}) holds the vector store and ingests "
                f"through its job queue, which takes no {', '.join(given)}: stop the server "
                f"(kill {server.pid}), run this command, then start the server again"
            )
        _ingest_through_server(server, paths, tenant, as_json, shows_progress(quiet, as_json))
        return
    if executor:
        parsing = settings.parsing.model_copy(update={"executor": executor})
        settings = settings.model_copy(update={"parsing": parsing})
    progress = Progress("ingest", "file", enabled=shows_progress(quiet, as_json))

    def stage(name: str, total: int) -> None:
        if name == "loading":
            progress.loading()
        else:
            progress.start(total)

    settled = {"ingested": 0, "unchanged": 0, "total": 0}

    def file_done(result, total: int) -> None:
        settled["total"] = total
        if result.status in settled:
            settled[result.status] += 1
        progress.expect(total)
        if result.status == "unchanged":
            progress.skip()
        else:
            progress.advance(
                chunks=result.chunks if result.status == "ingested" else 0,
                failed=int(result.status == "failed"),
            )

    try:
        indexer = settings.open_indexer(rebuild=rebuild)
        try:
            report = indexer.ingest(
                paths,
                on_file=file_done,
                on_stage=stage,
                prune=prune,
                tenant=tenant,
                metadata=metadata,
            )
        finally:
            indexer.close()
    except KeyboardInterrupt as e:
        stored = settled["ingested"] + settled["unchanged"]
        kept = f"{stored} of {settled['total']} files" if settled["total"] else "no file"
        raise Stopped(
            f"interrupted: {kept} stored and recorded in the manifest; run the same command "
            "again to resume (recorded files are skipped)"
        ) from e
    finally:
        progress.close()
    summary = report.to_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_ingest_summary(summary)
        for result in report.files:
            if result.status in ("failed", "gone", "emptied"):
                name = result.name or result.source
                click.echo(f"  {result.status}: {name}: {result.reason}", err=True)
    sys.exit(1 if report.failures else 0)


def _ingest_through_server(server, paths, tenant, as_json: bool, show: bool) -> None:
    """Ingest `paths` as a job of the running server, wait for it, and print its summary as
    a local ingest does."""
    from pipelines.local_server import ServerClient

    client = ServerClient(server)
    job = client.ingest(list(paths), tenant)
    if show:
        click.echo(
            f"ingest: through `docent serve` (process {server.pid}), job {job['id']}", err=True
        )
    shown = job["status"]
    try:
        while job["status"] not in ("done", "failed"):
            time.sleep(0.5)
            job = client.job(job["id"])
            if show and job["status"] != shown:
                shown = job["status"]
                click.echo(f"ingest: job {job['id']} {shown}", err=True)
    except KeyboardInterrupt as e:
        raise Stopped(
            f"interrupted: stopped waiting; the server's ingest job {job['id']} goes on "
            f"(GET /v1/jobs/{job['id']} tells how it ends)"
        ) from e
    summary = job.get("summary")
    if summary is None:
        raise DocentError(f"the server's ingest job {job['id']} failed: {job.get('error')}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_ingest_summary(summary)
        for failure in summary["failures"]:
            click.echo(f"  failed: {failure['name']}: {failure['reason']}", err=True)
    sys.exit(1 if summary["failures"] else 0)


def _print_ingest_summary(summary: dict) -> None:
    """The one-line summary of an ingest report."""
    recovered = (
        f"; settled {summary['recovered']} changes of an interrupted run"
        if summary["recovered"]
        else ""
    )
    indexed = (
        f"; vector index built in {summary['index_seconds']} s"
        if summary["index_seconds"] >= 0.1
        else ""
    )
    click.echo(
        f"Ingested {summary['ingested']} files ({summary['chunks_written']} chunks) in "
        f"{summary['seconds']} s, {summary['chunks_per_second']} chunks/s; "
        f"{summary['unchanged']} unchanged; {summary['removed']} removed files; "
        f"{summary['chunks_removed']} stale chunks removed; {summary['failed']} failed"
        f"{recovered}{indexed}{_stale_summary(summary)}."
    )
