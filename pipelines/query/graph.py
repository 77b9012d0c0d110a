"""The query path as a Haystack `Pipeline`: built from the configuration, dumped as YAML, shown
as text or Mermaid, or loaded from a pipeline YAML that inserts the user's own components.

The built-in graph: `classify` (IntentRoute) sends the question down the branch of its
intent's route: `rag` to `search` (HybridSearch) → `injections` (InjectionFilter, with
`safety.filter_injections`) → `answer` (RagAnswer); or to `direct`, `handoff` or `reply`. A
run is given the flat inputs `query` (the question, a follow-up resolved), `tenant`,
`fallback_query` and `turn`, each delivered to every component with an unconnected input of
that name. The route's end writes the request's `Answer` into the turn, and also outputs it.

docent's own components are not rebuilt from the YAML: they take their settings, store and
models from the configuration, and the YAML only says where they sit.
"""

import re
from pathlib import Path
from typing import Any

import yaml
from haystack import Pipeline, default_to_dict
from haystack.core.errors import PipelineRuntimeError
from haystack.core.serialization import generate_qualified_class_name

from components.errors import ConfigError, DocentError
from components.safety.injection_filter import InjectionFilter

# The modules a pipeline YAML may import components from, besides Haystack's and those the
# configuration names in `query.modules`.
DOCENT_MODULES = ["components", "pipelines", "ingest"]
# docent's components that take the configuration: placed by name, never built from the YAML.
CONFIGURED = ("classify", "search", "answer", "direct", "handoff", "reply")
# The components that end a route, each with the request's Answer as its output `answer`.
ENDS = ("answer", "direct", "handoff", "reply")
# How Haystack refuses a class from a module off its allowlist.
_REFUSED_MODULE = re.compile(r"deserialize a class from module '([^']+)'")
# What QAPipeline gives every run.
RUN_INPUTS = ("query", "tenant", "fallback_query", "turn")


class Configured:
    """A component of docent's that takes its settings, store and models from the
    configuration: dumped without init parameters, and placed by name, never built, when a
    pipeline YAML is loaded."""

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self)


def built_in(parts: dict[str, Any], filter_injections: bool) -> Pipeline:
    """The query pipeline as the configuration describes it.

    :param parts: docent's configured components by name (CONFIGURED).
    """
    pipe = Pipeline()
    for name in CONFIGURED:
        pipe.add_component(name, parts[name])
        if name == "search" and filter_injections:
            pipe.add_component("injections", InjectionFilter())
    pipe.connect("classify.rag", "search.query")
    pipe.connect("classify.rag", "answer.query")
    for branch in ("direct", "handoff", "reply"):
        pipe.connect(f"classify.{branch}", f"{branch}.query")
    source = "search"
    if filter_injections:
        pipe.connect("search.documents", "injections.documents")
        pipe.connect("injections.removed", "answer.removed")
        source = "injections"
    pipe.connect(f"{source}.documents", "answer.documents")
    pipe.connect("search.top_similarity", "answer.top_similarity")
    pipe.connect("search.fallback_used", "answer.fallback_used")
    return pipe


def load(path: Path, parts: dict[str, Any], modules: list[str]) -> Pipeline:
    """The pipeline of the YAML at `path` (as `docent pipeline dump` writes it), with docent's
    components in the places it names.

    :param modules: the modules besides docent's and Haystack's its components may come from.

    Raises:
        ConfigError: the file cannot be read, is not a pipeline, names a component docent may
            not import or cannot build, or leaves an input unconnected that no run gives.
    """
    where = f"query.pipeline ({path})"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{where}: cannot read the file: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: not valid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
        raise ConfigError(
            f"{where}: not a Haystack pipeline (no `components` mapping); write one with "
            "`docent pipeline dump > FILE` and edit it"
        )
    reuse = _docent_parts(data["components"], parts, where)
    try:
        pipe = Pipeline.from_dict(
            data, components=reuse, allowed_modules=[*DOCENT_MODULES, *modules]
        )
    except Exception as e:  # Haystack raises several kinds for a bad file; all are the file's
        refused = _REFUSED_MODULE.search(str(e))
        if refused:
            raise ConfigError(
                f"{where}: a component comes from the module {refused[1]!r}, which docent does "
                f"not import unless the configuration allows it: add {refused[1]!r} to "
                "query.modules"
            ) from e
        raise ConfigError(f"{where}: {e}") from e
    check(pipe, where)
    return pipe


def _docent_parts(components: dict[str, Any], parts: dict[str, Any], where: str) -> dict:
    """The instances of docent's configured components the YAML places, by name, after
    checking that each such name holds docent's component and that they keep their names."""
    types = {generate_qualified_class_name(type(parts[name])): name for name in CONFIGURED}
    reuse = {}
    for name, spec in components.items():
        kind = spec.get("type") if isinstance(spec, dict) else None
        if name in CONFIGURED:
            expected = generate_qualified_class_name(type(parts[name]))
            if kind != expected:
                raise ConfigError(
                    f"{where}: the component {name!r} is {kind!r}, but that name is docent's "
                    f"{expected}; give your component another name"
                )
            reuse[name] = parts[name]
        elif kind in types:
            raise ConfigError(
                f"{where}: the component {name!r} is docent's {kind}, which takes its settings "
                f"from the configuration and must keep its name {types[kind]!r}"
            )
    missing = [name for name in CONFIGURED if name not in reuse]
    if missing:
        raise ConfigError(
            f"{where}: the pipeline has no {', '.join(map(repr, missing))} component; keep "
            "docent's components from `docent pipeline dump`, with their names"
        )
    return reuse


def check(pipe: Pipeline, where: str) -> None:
    """Raise unless every route the router may choose is connected and a run can feed every
    mandatory input (connected, or one of RUN_INPUTS).

    Raises:
        ConfigError: naming the output or input left unconnected.
    """
    for output in pipe.outputs().get("classify", {}):
        raise ConfigError(
            f"{where}: classify.{output} is not connected: a request routed there would get "
            "no answer; connect it as `docent pipeline dump` does"
        )
    for name, sockets in pipe.inputs().items():
        for socket, described in sockets.items():
            if described["is_mandatory"] and socket not in RUN_INPUTS:
                raise ConfigError(
                    f"{where}: the input {name}.{socket} is not connected, and a run gives only "
                    f"{', '.join(RUN_INPUTS)}; connect it to another component's output"
                )


def run(pipe: Pipeline, inputs: dict[str, Any]) -> None:
    """Run the pipeline on RUN_INPUTS, which fills the turn's answer; a component's error is
    raised as itself (an AllModelsFailedError stays one), noted with the component's name.

    Raises:
        DocentError: the run ended before any route's end made the answer (a component of the
            YAML's left it without its inputs).
    """
    try:
        result = pipe.run(inputs)
    except PipelineRuntimeError as e:
        cause = e.__cause__
        if isinstance(cause, Exception):
            cause.add_note(f"in the query pipeline's component {e.component_name!r}")
            raise cause from None
        raise
    if not any(end in result for end in ENDS):
        ran = ", ".join(sorted(result)) or "none"
        raise DocentError(
            "the query pipeline ended without an answer: none of "
            f"{', '.join(ENDS)} ran (components with outputs left: {ran}); check the "
            "connections of query.pipeline with `docent pipeline show`"
        )


def describe(pipe: Pipeline, source: str) -> str:
    """The pipeline as text: its components and types, its connections, and where the run
    inputs go."""
    data = pipe.to_dict()
    lines = [f"docent's query pipeline ({source})", "", "components:"]
    width = max(len(name) for name in data["components"])
    for name, spec in data["components"].items():
        lines.append(f"  {name:<{width}}  {spec['type']}")
    lines += ["", "connections:"]
    lines += [f"  {edge['sender']} -> {edge['receiver']}" for edge in data["connections"]]
    lines += ["", "run inputs:"]
    unconnected = pipe.inputs()
    for given in RUN_INPUTS:
        takers = [f"{name}.{given}" for name, sockets in unconnected.items() if given in sockets]
        lines.append(f"  {given} -> {', '.join(takers) or '(unused)'}")
    ends = ", ".join(f"{end}.answer" for end in ENDS)
    lines += ["", f"result: the Answer of the route's end ({ends})"]
    return "\n".join(lines)


def mermaid(pipe: Pipeline) -> str:
    """The pipeline as a Mermaid flowchart (paste it into a ```mermaid block to draw it)."""
    data = pipe.to_dict()
    lines = ["flowchart TD", '  inputs(["query, tenant, fallback_query, turn"])']
    for name, spec in data["components"].items():
        lines.append(f'  {name}["{name}<br/><small>{spec["type"].rsplit(".", 1)[-1]}</small>"]')
    for name, sockets in pipe.inputs().items():
        given = ", ".join(socket for socket in sockets if socket in RUN_INPUTS)
        if given:
            lines.append(f'  inputs -. "{given}" .-> {name}')
    for edge in data["connections"]:
        sender, output = edge["sender"].split(".", 1)
        receiver, given = edge["receiver"].split(".", 1)
        lines.append(f'  {sender} -- "{output} → {given}" --> {receiver}')
    lines += [f"  {end} --> result([Answer])" for end in ENDS]
    return "\n".join(lines)
