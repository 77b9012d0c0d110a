"""`docent pipeline show|dump`: the query path's Haystack pipeline, as text, Mermaid or YAML."""

import click

from pipelines.cli.common import store_settings


@click.group()
def pipeline() -> None:
    """The Haystack pipeline every request runs: classify, then search -> injections ->
    answer, or direct, handoff or reply; or the one `query.pipeline` names.

    \b
    Examples:
      docent pipeline show
      docent pipeline show --mermaid
      docent pipeline dump > rag.yaml   # edit, then set query.pipeline: rag.yaml
    """


@pipeline.command()
@click.option("--mermaid", is_flag=True, help="Print a Mermaid flowchart instead of text.")
def show(mermaid: bool) -> None:
    """Print the pipeline's components, their connections and where a run's inputs go."""
    from pipelines.query import graph

    settings = store_settings()
    qa = _open(settings)
    try:
        if mermaid:
            click.echo(graph.mermaid(qa.query_pipeline))
        else:
            source = settings.query.pipeline or "built from the configuration"
            click.echo(graph.describe(qa.query_pipeline, str(source)))
    finally:
        qa.close()


@pipeline.command()
def dump() -> None:
    """Print the pipeline as Haystack YAML (`Pipeline.loads` reads it back; docent's own
    components take their settings from the configuration)."""
    settings = store_settings()
    qa = _open(settings)
    try:
        click.echo(qa.query_pipeline.dumps(), nl=False)
    finally:
        qa.close()


def _open(settings):
    """The query pipeline over the store; no model is loaded."""
    from pipelines.query.pipeline import QAPipeline

    return QAPipeline.from_settings(settings, routing=False)
