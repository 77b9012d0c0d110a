"""`docent pipeline show|dump`: the query path's Haystack pipeline, as text, Mermaid or YAML."""

import contextlib
import tempfile
from pathlib import Path

import click

from pipelines.cli.common import load_settings


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

    settings = load_settings()
    with _built(settings) as pipe:
        if mermaid:
            click.echo(graph.mermaid(pipe))
        else:
            source = settings.query.pipeline or "built from the configuration"
            click.echo(graph.describe(pipe, str(source)))


@pipeline.command()
def dump() -> None:
    """Print the pipeline as Haystack YAML (`Pipeline.loads` reads it back; docent's own
    components take their settings from the configuration)."""
    with _built(load_settings()) as pipe:
        click.echo(pipe.dumps(), nl=False)


@contextlib.contextmanager
def _built(settings):
    """The configuration's query pipeline, built over an empty store in a temporary data
    directory: no model loads, and the data directory is neither needed nor touched (a
    running `docent serve` may hold it)."""
    from pipelines.query.pipeline import QAPipeline

    with tempfile.TemporaryDirectory(prefix="docent-pipeline-") as scratch:
        qa = QAPipeline.from_settings(settings.model_copy(update={"data_dir": Path(scratch)}))
        try:
            yield qa.query_pipeline
        finally:
            qa.close()
