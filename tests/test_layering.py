"""Imports only go downward: pipelines -> ingest, evaluation -> components -> libraries."""

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
