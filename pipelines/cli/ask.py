"""`docent ask`: answers with citations, from this process or a running `docent serve`."""

import json

import click

from pipelines.cli.common import Stopped, load_settings


@click.command()
@click.argument("questions", nargs=-1, required=True)
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

    settings = load_settings()
    server = running_server(settings.data_path)
    if server is not None:
        # `docent serve` holds the store: its pipeline answers, already warm.
        client = ServerClient(server)
        for question in questions:
            _print_answer(client.ask(question, tenant), as_json, trace)
        return
    settings.ensure_store_free()  # before the models load
    from pipelines.query.pipeline import QAPipeline

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
