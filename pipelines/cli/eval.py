"""`docent eval` (score the query pipeline over an evaluation set and apply the gates) and
`docent testset` (write a set from the collection)."""

import json
import sys
from pathlib import Path

import click

from components.errors import DocentError
from evaluation.datasets import SET_FORMATS
from pipelines.cli.common import Stopped, store_settings

EVAL_INTERRUPTED = (
    "interrupted: an evaluation scores the whole set at once, so no report was written; run "
    "the command again (--limit N evaluates fewer items)"
)


@click.command("eval")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(SET_FORMATS),
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
    dataset, fmt, split, thresholds, baseline, output, junit, html_path, limit, as_json
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

    from evaluation.datasets import load_set
    from evaluation.reports import write_reports
    from pipelines.cli.progress import shows_progress
    from pipelines.eval_run import plan_eval, run_eval

    extra = {}
    for pair in thresholds:
        metric, sep, value = pair.partition("=")
        try:
            extra[metric.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{pair!r} is not METRIC=MIN", param_hint="--threshold")
    settings = store_settings()
    plan = plan_eval(settings, load_set(dataset, fmt, split, limit), extra, baseline)
    bar = tqdm(
        total=len(plan.eval_set),
        unit=plan.eval_set.unit,
        desc="eval",
        file=sys.stderr,
        disable=not shows_progress(False, as_json),
    )
    try:
        run = run_eval(plan, on_item=lambda n: bar.update(1))
    except KeyboardInterrupt as e:
        raise Stopped(EVAL_INTERRUPTED) from e
    finally:
        bar.close()
    report, gates = run.report, run.gates
    write_reports(
        report, gates, dataset, output=output, junit=junit, html=html_path, baseline=run.baseline
    )
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


@click.command()
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
def testset(size: int, max_chunks: int, output: Path) -> None:
    """Write an evaluation set from the ingested collection with Ragas' test-set generator.

    Needs a capable model (evaluation.generator_model: a 7B+ instruction model with a context
    window of at least 4,096 tokens, e.g. on an OpenAI-compatible endpoint); the shipped
    270M model is refused. Check the questions by hand before gating on them.

    \b
    Example:
      docent testset --config team.yaml --size 50 -o golden.jsonl
      docent eval golden.jsonl --threshold faithfulness=0.8
    """
    from components.embedding.backends import sentence_encoder
    from components.shipped_models import embedding_model_path
    from evaluation.testset import check_generator, generate_testset
    from pipelines.query.pipeline import QAPipeline

    settings = store_settings()
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
