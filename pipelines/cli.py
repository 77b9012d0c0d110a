"""The `docent` command line: an adapter that parses, calls the library and renders."""

import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

import components  # noqa: F401  (sets the offline defaults before any model library loads)
from components import interruption
from components.errors import ConfigError, DocentError

CONFIG_HELP = "YAML configuration file (default: $DOCENT_CONFIG, else the embedded defaults)."


# Addresses only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Stopped(KeyboardInterrupt):
    """Ctrl-C ended a command; the message says what was kept and how to resume."""


def _settings(config: str | None):
    from pipelines import telemetry
    from pipelines.config import load_settings

    settings = load_settings(config)
    telemetry.configure(settings.tracing)
    return settings


def _store_settings(config: str | None):
    """The settings of a command that opens the store itself: refused at once, before any
    model loads, when another process (a running `docent serve`: say so) holds it."""
    settings = _settings(config)
    settings.ensure_store_free()
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """docent: ingest documents, then ask questions answered with citations.

    \b
    Examples:
      docent ingest handbook/ notes.pdf
      docent ask "How many days per week can employees work remotely?"
      docent ask --json "What is the minimum password length?"
      DOCENT_DATA_DIR=/tmp/kb docent ingest --config configs/default.yaml docs/

    Everything runs offline on this machine: Qdrant Edge under the data directory,
    all-MiniLM-L6-v2 embeddings and Gemma 3 270M answers, shipped in Python packages.
    """


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
    config: str | None,
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
    from pipelines.local_server import running_server
    from pipelines.progress import Progress, shows_progress

    metadata = _metadata(meta)
    settings = _settings(config)
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


@cli.command()
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--max-waiting",
    type=int,
    help="Requests that may wait for the model; one more is answered 429 with Retry-After "
    "[default: service.max_waiting, 8].",
)
@click.option(
    "--request-timeout",
    type=float,
    help="Seconds a request may take, waiting included; beyond, 504 "
    "[default: service.request_timeout, 120].",
)
@click.option(
    "--open",
    "open_access",
    is_flag=True,
    help="Serve without API keys: anyone who can reach the address may ask, upload and read "
    "every tenant's documents. Only while no key was ever created.",
)
def serve(
    config: str | None,
    host: str,
    port: int,
    max_waiting: int | None,
    request_timeout: float | None,
    open_access: bool,
) -> None:
    """Serve the knowledge base over HTTP: the web chat at /; POST /v1/ask, /v1/search,
    /v1/chat/completions (OpenAI-compatible, streaming), /v1/sessions, /v1/feedback,
    /v1/documents (upload), /v1/ingest; GET /v1/handoffs, /v1/jobs/ID, /v1/documents,
    /v1/collections, /healthz, /readyz, /metrics. OpenAPI docs at /docs.

    Every /v1 request needs an API key (`docent keys create`), even after every key is
    revoked; --open serves without keys while none was ever created.

    \b
    Examples:
      docent keys create desk --scope ask      # prints the key once
      docent serve --port 8000 &
      curl -s localhost:8000/v1/ask -H "Authorization: Bearer $KEY" \\
        -H 'content-type: application/json' \\
        -d '{"question": "How many days per week can employees work remotely?"}'
      docent serve --open                      # on your own machine, without keys
    """
    import uvicorn

    from pipelines.keys import KeyStore
    from pipelines.local_server import remove_record, write_record
    from pipelines.qa import QAPipeline
    from pipelines.service import create_app

    settings = _settings(config)
    settings.check_routes(settings.intents.examples)  # answering needs a route per intent
    keys = KeyStore(settings.keys_path)
    held = keys.ever_held()
    if held and open_access:
        raise click.UsageError(
            "--open serves without API keys, but this service has keys (revoked ones count: "
            "once it has had keys it stays closed); leave out --open and send a key"
        )
    if not held and not open_access:
        raise click.UsageError(
            "no API key exists: create one with `docent keys create NAME --scope ask`, or pass "
            f"--open to serve without keys (anyone who reaches {host}:{port} may ask, upload "
            "and read every tenant's documents)"
        )
    settings.ensure_store_free()
    # Beside the store, where the CLI finds it: `docent ask` and `ingest` then go through it.
    record = write_record(settings.data_path, host, port)
    app = create_app(
        lambda: QAPipeline.from_settings(settings),
        max_waiting=max_waiting,
        request_timeout=request_timeout,
        keys=keys,
        open_access=open_access,
        operator_token=record.token,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        remove_record(settings.data_path, record)
    # uvicorn handles Ctrl-C itself (it finishes the requests in progress) and then passes
    # the signal on, which this process's handler notes without an exception reaching here.
    if interruption.stop_requested():
        raise Stopped("interrupted: the server stopped after the requests in progress")


@cli.command()
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--http", "http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --http.")
@click.option("--port", default=8001, show_default=True, help="Port for --http.")
@click.option("--tenant", help="Answer only from the documents ingested with --tenant TENANT.")
def mcp(config: str | None, http: bool, host: str, port: int, tenant: str | None) -> None:
    """Serve the knowledge base as MCP tools, `search` and `ask`, for agent front ends
    (stdio by default; --http serves streamable HTTP at /mcp).

    \b
    Examples:
      docent mcp                      # an MCP client starts this command over stdio
      docent mcp --http --port 8001   # then connect to http://127.0.0.1:8001/mcp
    """
    from pipelines.mcp_server import create_mcp
    from pipelines.qa import QAPipeline

    settings = _store_settings(config)
    settings.check_routes(settings.intents.examples)  # answering needs a route per intent
    if http and host not in LOOPBACK:
        raise click.UsageError(
            "docent mcp --http has no API keys: serve it on loopback only (--host 127.0.0.1)"
        )
    server = create_mcp(lambda: QAPipeline.from_settings(settings), tenant=tenant)
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")


@cli.group()
def keys() -> None:
    """API keys of `docent serve`: stored hashed, each with scopes and a tenant.

    \b
    Examples:
      docent keys create helpdesk --tenant acme --scope ask
      docent keys list
      docent keys revoke 3f9a0c1d
    """


@keys.command("create")
@click.argument("name")
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=("ask",),
    show_default=True,
    type=click.Choice(["ask", "ingest", "admin"]),
    help="What the key may do; repeat for several.",
)
@click.option(
    "--tenant",
    help="Answer only from the documents ingested with --tenant TENANT (without: every chunk).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the id and key as JSON.")
def keys_create(name, config, scopes, tenant, as_json) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from pipelines.keys import KeyStore

    key_id, key = KeyStore(_settings(config).keys_path).create(name, list(scopes), tenant)
    if as_json:
        click.echo(json.dumps({"id": key_id, "key": key}))
    else:
        click.echo(f"Key {key_id} ({name}): {key}\nStore it now: it cannot be shown again.")


@keys.command("list")
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the keys as a JSON list.")
def keys_list(config, as_json) -> None:
    """List the keys: id, name, tenant, scopes, and whether revoked (never the key)."""
    from pipelines.keys import KeyStore

    rows = KeyStore(_settings(config).keys_path).list()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "revoked" if row["revoked"] else "active"
        click.echo(
            f"{row['id']}  {row['name']}  tenant={row['tenant'] or '*'}  "
            f"scopes={row['scopes']}  {state}"
        )
    if not rows:
        click.echo("No keys: docent serve needs one, or --open to answer anyone on its address.")


@keys.command("revoke")
@click.argument("key_id")
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
def keys_revoke(key_id, config) -> None:
    """Revoke a key by its id; requests with it get 401 at once."""
    from pipelines.keys import KeyStore

    if not KeyStore(_settings(config).keys_path).revoke(key_id):
        raise click.ClickException(f"no active key has the id {key_id!r}; see `docent keys list`")
    click.echo(f"Revoked {key_id}.")


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
    from pipelines.local_server import ServerClient, running_server

    settings = _settings(config)
    server = running_server(settings.data_path)
    if server is not None:
        # `docent serve` holds the store: its pipeline answers, already warm.
        client = ServerClient(server)
        for question in questions:
            _print_answer(client.ask(question, tenant), as_json, trace)
        return
    settings.ensure_store_free()  # before the models load
    from pipelines.qa import QAPipeline

    qa = QAPipeline.from_settings(settings)
    answered = 0
    try:
        for question in questions:
            _print_answer(qa.ask(question, tenant=tenant).to_dict(), as_json, trace)
            answered += 1
    except KeyboardInterrupt as e:
        raise Stopped(
            f"interrupted: {answered} of {len(questions)} questions answered; ask the others again"
        ) from e
    finally:
        qa.close()


def _print_answer(answer: dict, as_json: bool, trace: bool) -> None:
    """An answer as `docent ask` prints it: its JSON, or the answer, citations and timing."""
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False))
        return
    click.echo(f"Q: {answer['question']}\nA: {answer['answer']}")
    for c in answer["citations"]:
        where = [c["source"]]
        if c["page"] is not None:
            where.append(f"page {c['page']}")
        if c["section"]:
            where.append(f'section "{c["section"]}"')
        click.echo(f"   [{c['number']}] {', '.join(where)}")
    if answer.get("handoff"):
        click.echo(f"   handoff ticket {answer['handoff']['id']}")
    if trace:
        click.echo(_trace(answer))
    click.echo(f"   ({answer['timings']['total']:.2f} s)\n")


def _trace(answer: dict) -> str:
    """The route, the models tried and the cost, as indented lines."""
    intent = answer.get("intent") or {}
    head = (
        f"   intent: {intent.get('name', '-')} ({intent.get('confidence', '-')}); "
        f"route: {answer['route']}; decision: {answer['decision']}; "
        f"model: {answer.get('model') or '-'}"
    )
    lines = [head]
    for call in answer["models_tried"]:
        detail = f" ({call['detail']})" if call["detail"] else ""
        lines.append(f"   tried {call['model']}: {call['outcome']}{detail}")
    verification = answer.get("verification") or {}
    if "score" in verification:
        unsupported = "; ".join(verification.get("unsupported") or []) or "-"
        lines.append(f"   verification: {verification['score']}; unsupported: {unsupported}")
    if "abstain_reason" in verification:
        lines.append(
            f"   abstained ({verification['abstain_reason']}): {verification.get('reason', '')}"
        )
    rejected = verification.get("rejected")
    if rejected:
        lines.append(f"   rejected draft of {rejected['model']}: {rejected['draft']!r}")
    lines.append(
        f"   tokens: {answer['tokens']['prompt']} in, {answer['tokens']['completion']} out; "
        f"cost: {answer['cost']:.6f}; trace: {answer['trace_id']}"
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


@cli.command()
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the sources as a JSON list.")
@click.option(
    "--check",
    is_flag=True,
    help="Also compare the manifest with the store and the files on disk; exit code 1 if "
    "chunks are missing or orphaned, or a file was deleted, emptied, made unreadable or changed "
    "since its last ingest.",
)
def sources(config: str | None, as_json: bool, check: bool) -> None:
    """List the ingested files with their chunks, converter and tenant, from the manifest.

    \b
    Examples:
      docent sources
      docent sources --check --json
    """
    from ingest.freshness import stale_sources
    from ingest.manifest import Manifest

    settings = _settings(config)
    # The list is the manifest's alone: it opens no store and loads no model, so it also
    # works beside a running ingest or server.
    states = Manifest(settings.manifest_path, settings.store.collection).sources().values()
    # `source` is the name citations show; `path` the file it was read from.
    rows = [
        {
            "source": state.display_name,
            "path": state.source,
            "chunks": len(state.chunk_ids),
            "converter": state.converter,
            "tenant": state.tenant,
            "stale": not state.file_hash,
        }
        for state in sorted(states, key=lambda s: s.source)
    ]
    audit = None
    if check:
        indexer = settings.open_indexer()
        try:
            audit = indexer.audit()
            audit["out_of_date"] = [
                dataclasses.asdict(s) for s in stale_sources(indexer.manifest.sources().values())
            ]
        finally:
            indexer.close()
    if as_json:
        click.echo(json.dumps({"sources": rows, "check": audit}, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            tenant = f"  tenant {row['tenant']}" if row["tenant"] else ""
            stale = "  (re-ingest pending)" if row["stale"] else ""
            click.echo(
                f"{row['chunks']:6} chunks  {row['converter']:28}  {row['source']}{tenant}{stale}"
            )
        click.echo(f"{len(rows)} files, {sum(r['chunks'] for r in rows)} chunks.")
        if audit is not None:
            click.echo(
                f"check: {len(audit['missing'])} chunks missing from the store, "
                f"{len(audit['orphaned'])} chunks no file accounts for, "
                f"{len(audit['pending'])} interrupted changes, "
                f"{len(audit['out_of_date'])} files that differ from what is served"
            )
            for stale in audit["out_of_date"]:
                click.echo(f"  {stale['problem']}: {stale['name']}: {stale['advice']}")
    if audit and any(audit.values()):
        sys.exit(1)


@cli.group()
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
    command = click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)(command)
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


def _run_batch(task: str, items_of, config, output, workers, as_json, quiet, **options) -> None:
    from ingest.batch_runner import BatchInterrupted, BatchRunner
    from pipelines.batch import check_task, check_workers, fields, make_task
    from pipelines.progress import Progress, shows_progress
    from pipelines.qa import QAPipeline

    settings = _store_settings(config)
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
def batch_ask(questions, config, output, workers, as_json, quiet, tenant) -> None:
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
        config,
        output,
        workers,
        as_json,
        quiet,
        tenant=tenant,
    )


@batch.command("summarise")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_batch_options
def batch_summarise(paths, config, output, workers, as_json, quiet) -> None:
    """Summarise each document under the given files and folders.

    \b
    Examples:
      docent batch summarise reports/ -o summaries.jsonl
    """
    from pipelines.batch import document_items

    _run_batch("summarise", lambda: document_items(paths), config, output, workers, as_json, quiet)


@batch.command("classify")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_batch_options
def batch_classify(paths, config, output, workers, as_json, quiet) -> None:
    """Classify each document with the configuration's intent classifier.

    \b
    Examples:
      docent batch classify --config configs/support.yaml tickets/ -o intents.csv
    """
    from pipelines.batch import document_items

    _run_batch("classify", lambda: document_items(paths), config, output, workers, as_json, quiet)


@batch.command("extract")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--schema",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON schema of the fields to extract.",
)
@_batch_options
def batch_extract(paths, schema, config, output, workers, as_json, quiet) -> None:
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
        config,
        output,
        workers,
        as_json,
        quiet,
        schema=fields,
    )


EVAL_INTERRUPTED = (
    "interrupted: an evaluation scores the whole set at once, so no report was written; run "
    "the command again (--limit N evaluates fewer items)"
)


@cli.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "squad", "beir", "intents"]),
    help="The set's format (default: beir for a folder, squad for .json, else jsonl).",
)
@click.option("--split", help="intents: the split of a JSON object of splits (e.g. val).")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="METRIC=MIN",
    help="A gate (repeatable), added to evaluation.thresholds: answer_correct, "
    "abstained_correctly, wrong (a maximum), exact_match, token_f1, retrieval_hit, answered, "
    "rouge_l, string_similarity, context_recall, context_precision; for beir: ndcg@10, "
    "recall@100, mrr@10.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An earlier --output report: fail on a significant drop of any metric.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="JSON report."
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="JUnit XML file.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML report: plots, the baseline comparison and the worst cases.",
)
@click.option("--limit", type=int, help="Only the first N items.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary and gates as JSON.")
def eval_command(
    dataset, config, fmt, split, thresholds, baseline, output, junit, html_path, limit, as_json
):
    """Run the query pipeline over an evaluation set, score it, and apply the quality gates.

    Each metric is reported with a 95 % bootstrap interval. A threshold gate fails when the
    whole interval lies below its minimum; with --baseline, a gate fails when the paired
    difference is significantly below zero. The exit code is 1 when a gate fails.

    \b
    Set formats:
      jsonl  one {"question", "reference", "reference_ids"?, "reference_contexts"?} per line
      squad  SQuAD v1.1 JSON (ingest its paragraphs first)
      beir   a BEIR folder (corpus.jsonl, queries.jsonl, qrels.tsv): retrieval only; the
             corpus goes into its own collection, beir-FOLDER
      intents  [text, intent] pairs (JSON, or JSON of splits with --split; or a CSV with
             text and intent columns), scored with the configured intent classifier;
             label out-of-scope items oos or out_of_scope

    \b
    Examples:
      docent eval golden.jsonl --threshold token_f1=0.5 --junit gates.xml -o run.json
      docent eval golden.jsonl --baseline last-release.json --html report.html
      docent eval ../shared/data/scifact --threshold ndcg@10=0.6
      docent eval clinc150.json --format intents --split val --config configs/support.yaml
    """
    from tqdm import tqdm

    from evaluation.datasets import load_beir, load_intents, load_jsonl, load_squad
    from evaluation.gates import check_gates
    from evaluation.html_report import write_html
    from evaluation.reports import read_baseline, write_json, write_junit
    from pipelines.progress import shows_progress

    settings = _store_settings(config)
    extra = {}
    for pair in thresholds:
        metric, sep, value = pair.partition("=")
        try:
            extra[metric.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{pair!r} is not METRIC=MIN", param_hint="--threshold")
    gates_settings = settings.evaluation.model_copy(
        update={"thresholds": {**settings.evaluation.thresholds, **extra}}
    )
    if fmt is None:
        fmt = "beir" if dataset.is_dir() else "squad" if dataset.suffix == ".json" else "jsonl"
    previous = read_baseline(baseline) if baseline else None
    if fmt == "beir":
        beir = load_beir(dataset)
        if limit:
            beir = dataclasses.replace(beir, queries=dict(list(beir.queries.items())[:limit]))
        check_gates(fmt, beir, gates_settings, dataset.name)
        # Imported once the gates are known to be scorable: Ragas alone takes seconds.
        from pipelines.evaluate import evaluate_retrieval, retrieval_settings

        bar = tqdm(
            total=len(beir.queries),
            unit="query",
            desc="eval",
            file=sys.stderr,
            disable=not shows_progress(False, as_json),
        )
        try:
            report, gates = evaluate_retrieval(
                retrieval_settings(settings, dataset.resolve().name),
                beir,
                gates_settings,
                previous,
                on_item=lambda n: bar.update(1),
            )
        except KeyboardInterrupt as e:
            raise Stopped(EVAL_INTERRUPTED) from e
        finally:
            bar.close()
    else:
        if fmt == "intents":
            entries, unit = load_intents(dataset, split), "text"
        else:
            entries = load_squad(dataset)[0] if fmt == "squad" else load_jsonl(dataset)
            unit = "question"
        entries = entries[:limit] if limit else entries
        check_gates(fmt, entries, gates_settings, dataset.name)
        from pipelines.evaluate import evaluate, evaluate_intents
        from pipelines.qa import QAPipeline

        run = evaluate_intents if fmt == "intents" else evaluate
        qa = QAPipeline.from_settings(settings, routing=fmt != "intents")
        bar = tqdm(
            total=len(entries),
            unit=unit,
            desc="eval",
            file=sys.stderr,
            disable=not shows_progress(False, as_json),
        )
        try:
            report, gates = run(
                qa, entries, gates_settings, previous, on_item=lambda n: bar.update(1)
            )
        except KeyboardInterrupt as e:
            raise Stopped(EVAL_INTERRUPTED) from e
        finally:
            bar.close()
            qa.close()
    if output:
        write_json(output, report)
    if junit:
        write_junit(junit, f"docent.eval.{dataset.stem}", gates, report["seconds"])
    if html_path:
        write_html(html_path, report, f"docent eval: {dataset.name}", previous)
    if as_json:
        shown = {k: v for k, v in report.items() if k != "items"}
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{report['items_scored']} items in {report['seconds']} s")
        if report.get("note"):
            click.echo(f"  note: {report['note']}")
        width = max(map(len, report["summary"]), default=0)
        for metric, interval in report["summary"].items():
            click.echo(
                f"  {metric:{width}} {interval['mean']:.3f}  "
                f"(95% CI {interval['low']:.3f}-{interval['high']:.3f})"
            )
        for gate in gates:
            click.echo(f"  {'PASS' if gate.passed else 'FAIL'}  {gate.reason}")
    sys.exit(0 if report["passed"] else 1)


@cli.command()
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--size", default=20, show_default=True, help="How many questions to write.")
@click.option(
    "--max-chunks",
    default=200,
    show_default=True,
    help="At most this many chunks, spread over the collection, are read.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The JSONL file to write, in the format docent eval reads.",
)
def testset(config: str | None, size: int, max_chunks: int, output: Path) -> None:
    """Write an evaluation set from the ingested collection with Ragas' test-set generator.

    Needs a capable model (evaluation.generator_model: a 7B+ instruction model with a context
    window of at least 4,096 tokens, e.g. on an OpenAI-compatible endpoint); the shipped
    270M model is refused. Check the questions by hand before gating on them.

    \b
    Example:
      docent testset --config team.yaml --size 50 -o golden.jsonl
      docent eval golden.jsonl --threshold faithfulness=0.8
    """
    from components.shipped_models import embedding_model_path, sentence_encoder
    from evaluation.testset import check_generator, generate_testset
    from pipelines.qa import QAPipeline

    settings = _store_settings(config)
    name = settings.evaluation.generator_model
    check_generator(name, settings.models.get(name) if name else None)
    qa = QAPipeline.from_settings(settings)
    try:
        documents = qa.store.filter_documents()
        if not documents:
            raise DocentError(
                f"the collection {settings.store.collection!r} is empty: ingest documents first"
            )
        step = max(1, len(documents) // max_chunks)
        chunks = [d.content for d in documents[::step][:max_chunks] if d.content]
        click.echo(f"writing {size} questions from {len(chunks)} chunks with {name}", err=True)
        rows = generate_testset(
            chunks,
            size,
            lambda prompt, schema: qa.complete(prompt, schema, models=[name]).answer,
            sentence_encoder(embedding_model_path(settings.embedding.model)),
        )
    finally:
        qa.close()
    output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    click.echo(f"{len(rows)} questions written to {output}")


@cli.command()
@click.option("--config", "config", type=click.Path(), help=CONFIG_HELP)
@click.option("--limit", default=20, show_default=True, help="How many decisions to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as a JSON list.")
def audit(config: str | None, limit: int, as_json: bool) -> None:
    """List the latest answers' decisions: pass, escalate, abstain, ... with scores and cost.

    \b
    Examples:
      docent audit --limit 5
      docent audit --json --config configs/support.yaml
    """
    from components.gates.audit_log import AuditLog

    rows = AuditLog(path=_settings(config).audit_path).recent(limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No answers recorded yet.")
    for row in rows:
        verification = row["verification_score"]
        score = f"{verification:.2f}" if verification is not None else "-"
        click.echo(
            f"{row['trace_id'][:12]}  {row['decision']:8} model {row['model'] or '-'}  "
            f"verification {score}  cost {row['cost']:.6f}  {row['question']!r}"
        )


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
