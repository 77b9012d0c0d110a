"""`docent keys`: the API keys of `docent serve`."""

import json

import click

from pipelines.cli.common import load_settings


@click.group()
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
def keys_create(name, scopes, tenant, as_json) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from pipelines.service.keys import KeyStore

    key_id, key = KeyStore(load_settings().keys_path).create(name, list(scopes), tenant)
    if as_json:
        click.echo(json.dumps({"id": key_id, "key": key}))
    else:
        click.echo(f"Key {key_id} ({name}): {key}\nStore it now: it cannot be shown again.")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the keys as a JSON list.")
def keys_list(as_json) -> None:
    """List the keys: id, name, tenant, scopes, and whether revoked (never the key)."""
    from pipelines.service.keys import KeyStore

    rows = KeyStore(load_settings().keys_path).list()
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
def keys_revoke(key_id) -> None:
    """Revoke a key by its id; requests with it get 401 at once."""
    from pipelines.service.keys import KeyStore

    if not KeyStore(load_settings().keys_path).revoke(key_id):
        raise click.ClickException(f"no active key has the id {key_id!r}; see `docent keys list`")
    click.echo(f"Revoked {key_id}.")
