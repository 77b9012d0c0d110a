"""Imports only go downward: pipelines -> ingest, evaluation -> components -> libraries; and
no module of docent's imports itself back through others (no import cycle)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("components", "ingest", "evaluation", "pipelines")
# What each package must never import.
FORBIDDEN = {
    "components": {"ingest", "evaluation", "pipelines"},
    "ingest": {"evaluation", "pipelines"},
    "evaluation": {"ingest", "pipelines"},
    "pipelines": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_downward(package):
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (REPO / package).rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}


def test_nothing_outside_pipelines_imports_it():
    for package in ("components", "ingest", "evaluation"):
        for path in (REPO / package).rglob("*.py"):
            assert "pipelines" not in _imports(path), path


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from pipelines.config import Settings\nimport ingest.store\n")
    assert _imports(bad) == {"pipelines", "ingest"}


def _module_name(path: Path, repo: Path) -> str:
    parts = path.relative_to(repo).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _run_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Every import that can run: at module level and inside functions alike, but not under
    `if TYPE_CHECKING:`."""
    found, pending = [], [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))
    return found


def _import_graph(repo: Path = REPO) -> dict[str, set[str]]:
    """Each of docent's modules and the modules of docent's that it imports.

    `from a.b import c` leads to the submodule `a.b.c` when there is one, else to `a.b`; the
    parent packages that an import initialises on the way are left out, since a package whose
    `__init__` is still running can already have its submodules imported.
    """
    paths = {
        _module_name(path, repo): path
        for package in PACKAGES
        for path in (repo / package).rglob("*.py")
    }
    graph = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _run_imports(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}" if base else alias.name
                targets.add(submodule if submodule in paths else base)
        graph[name] = {target for target in targets if target in paths and target != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm), each
    sorted; every import cycle lies inside one of them."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def test_no_import_cycle_between_modules():
    """Imports inside functions count as much as module-level ones: moving an import into a
    function only hides a circle from Python's loader (that is how `service.py`,
    `service_answers.py` and `service_documents.py` once imported each other); the modules still
    depend on each other and cannot be understood, tested or moved apart. Imports under
    `if TYPE_CHECKING:` never run and do not count. Imports of libraries deferred for start-up
    time are not docent's modules and never form a circle here."""
    graph = _import_graph()
    cycles = [
        "; ".join(
            f"{module} imports {', '.join(sorted(graph[module] & set(cycle)))}" for module in cycle
        )
        for cycle in _cycles(graph)
    ]
    assert not cycles, "modules that import each other in a circle:\n  " + "\n  ".join(cycles)


def test_the_cycle_check_sees_a_cycle(tmp_path):
    package = tmp_path / "pipelines"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pipelines import b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from .c import run\n"
        "if TYPE_CHECKING:\n    from pipelines.d import D\n"
    )
    (package / "c.py").write_text("def run():\n    import pipelines.a\n")
    (package / "d.py").write_text("from pipelines.b import run\n")
    graph = _import_graph(tmp_path)
    assert graph["pipelines.b"] == {"pipelines.c"}
    assert graph["pipelines.c"] == {"pipelines.a"}
    assert _cycles(graph) == [["pipelines.a", "pipelines.b", "pipelines.c"]]


def test_no_library_module_is_over_400_lines():
    # A module past this has more than one job: split it by job (see the README's Layout).
    long = {
        str(path.relative_to(REPO)): lines
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long
