"""`docent sources`: the ingested files, from the manifest, and `--check` against the store
and the disk."""

import dataclasses
import json
import sys

import click

from pipelines.cli.common import load_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the sources as a JSON list.")
@click.option(
    "--check",
    is_flag=True,
    help="Also compare the manifest with the store and the files on disk; exit code 1 if "
    "chunks are missing or orphaned, or a file was deleted, emptied, made unreadable or changed "
    "since its last ingest.",
)
def sources(as_json: bool, check: bool) -> None:
    """List the ingested files with their chunks, converter and tenant, from the manifest.

    \b
    Examples:
      docent sources
      docent sources --check --json
    """
    from ingest.freshness import stale_sources
    from ingest.manifest import Manifest

    settings = load_settings()
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
