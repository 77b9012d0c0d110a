"""`docent serve` (the HTTP service) and `docent mcp` (the MCP server)."""

import click

from components import interruption
from pipelines.cli.common import LOOPBACK, Stopped, load_settings, store_settings


@click.command()
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

    from pipelines.local_server import remove_record, write_record
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app
    from pipelines.service.keys import KeyStore

    settings = load_settings()
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


@click.command()
@click.option("--http", "http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --http.")
@click.option("--port", default=8001, show_default=True, help="Port for --http.")
@click.option("--tenant", help="Answer only from the documents ingested with --tenant TENANT.")
def mcp(http: bool, host: str, port: int, tenant: str | None) -> None:
    """Serve the knowledge base as MCP tools, `search` and `ask`, for agent front ends
    (stdio by default; --http serves streamable HTTP at /mcp).

    \b
    Examples:
      docent mcp                      # an MCP client starts this command over stdio
      docent mcp --http --port 8001   # then connect to http://127.0.0.1:8001/mcp
    """
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.mcp_server import create_mcp

    settings = store_settings()
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
