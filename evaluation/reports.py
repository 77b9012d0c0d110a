"""Evaluation reports: the JSON record of a run, JUnit XML for CI systems, and the HTML report
(`evaluation.html_report`), written together by `write_reports`."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from components.errors import ConfigError
from evaluation.gates import GateResult
from evaluation.html_report import write_html


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the run's report (summary, gates and per-item scores) as JSON."""
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")


def read_baseline(path: Path) -> dict[str, dict[str, float]]:
    """Per-item scores of an earlier run's JSON report: item id -> metric -> score.

    Raises:
        ConfigError: the file is not a docent evaluation report.
    """
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        return {str(item["id"]): item["scores"] for item in report["items"]}
    except OSError as e:
        raise ConfigError(f"cannot read the baseline {path}: {e.strerror}") from e
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"{path} is not a docent evaluation report (written by docent eval --output)"
        ) from e


def write_junit(path: Path, suite: str, gates: list[GateResult], seconds: float) -> None:
    """One test case per gate; a failed gate is a JUnit failure whose message is its reason."""
    failures = sum(not g.passed for g in gates)
    root = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(gates)),
        failures=str(failures),
        errors="0",
        time=f"{seconds:.2f}",
    )
    for gate in gates:
        case = ET.SubElement(
            root, "testcase", classname=f"{suite}.{gate.kind}", name=gate.metric, time="0"
        )
        if not gate.passed:
            ET.SubElement(
                case, "failure", message=gate.reason, type="QualityGate"
            ).text = json.dumps(gate.to_dict(), indent=2)
        else:
            ET.SubElement(case, "system-out").text = gate.reason
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_reports(
    report: dict[str, Any],
    gates: list[GateResult],
    dataset: Path,
    *,
    output: Path | None = None,
    junit: Path | None = None,
    html: Path | None = None,
    baseline: dict[str, dict[str, float]] | None = None,
) -> None:
    """Write the reports asked for of a run over the set at `dataset`: the JSON report to
    `output`, JUnit XML (suite `docent.eval.NAME`) to `junit`, the HTML report, compared with
    `baseline`'s scores when given, to `html`."""
    if output:
        write_json(output, report)
    if junit:
        write_junit(junit, f"docent.eval.{dataset.stem}", gates, report["seconds"])
    if html:
        write_html(html, report, f"docent eval: {dataset.name}", baseline)
