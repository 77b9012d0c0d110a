"""The records of what docent did: `docent handoffs` (conversations handed to a person) and
`docent audit` (the latest answers' decisions)."""

import json

import click

from pipelines.cli.common import load_settings


@click.command()
@click.option("--limit", default=20, show_default=True, help="How many tickets to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the tickets as a JSON list.")
def handoffs(limit: int, as_json: bool) -> None:
    """List the conversations handed to a person, newest first.

    \b
    Examples:
      docent handoffs --config configs/support.yaml
      docent handoffs --json --limit 5
    """
    from components.routing.handoff_desk import HandoffDesk

    settings = load_settings()
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


@click.command()
@click.option("--limit", default=20, show_default=True, help="How many decisions to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as a JSON list.")
def audit(limit: int, as_json: bool) -> None:
    """List the latest answers' decisions: pass, escalate, abstain, ... with scores and cost.

    \b
    Examples:
      docent audit --limit 5
      docent audit --json --config configs/support.yaml
    """
    from components.gates.audit_log import AuditLog

    rows = AuditLog(path=load_settings().audit_path).recent(limit)
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
