"""The HTML report of an evaluation run: one self-contained page a person can read.

It shows the gates with their reasons, each metric's confidence interval against its
threshold (and the baseline's mean, when there is one), the distribution of every metric's
per-item scores, the comparison with the baseline, and the worst cases with their question,
answer, references, contexts and the reasons they scored low. Plots are inline SVG drawn by
matplotlib, so the page needs no network and no script.
"""

import html
import io
from pathlib import Path
from typing import Any

from evaluation.config import LOWER_IS_BETTER

WORST_CASES = 10


def write_html(
    path: Path,
    report: dict[str, Any],
    title: str,
    baseline: dict[str, dict[str, float]] | None = None,
) -> None:
    """Write the page for `report` (as `docent eval` builds it) to `path`.

    :param baseline: the per-item scores of an earlier run (`read_baseline`), compared with
        this one on the items both scored.
    """
    summary = report["summary"]
    thresholds = report.get("thresholds", {})
    baseline_means = _baseline_means(report["items"], baseline, list(summary)) if baseline else {}
    parts = [
        _head(title),
        _overview(report, title),
        _gates(report["gates"]),
        "<h2>Scores against thresholds</h2>",
        _figure(_interval_plot(summary, thresholds, baseline_means), "intervals"),
        "<h2>Score distributions</h2>",
        _figure(_distribution_plot(report["items"], list(summary)), "distributions"),
    ]
    if baseline_means:
        parts.append(_comparison(summary, baseline_means))
    parts.append(_worst_cases(report, thresholds))
    parts.append("</main></body></html>\n")
    Path(path).write_text("\n".join(parts), encoding="utf-8")


def focus_metric(report: dict[str, Any]) -> str | None:
    """The metric the worst cases are ranked by: the first failed gate's, else the first
    gated one's, else the first of the usual headline metrics the run has."""
    gates = report["gates"]
    for gate in [g for g in gates if not g["passed"]] + gates:
        if gate["metric"] in report["summary"]:
            return gate["metric"]
    for metric in (
        "answer_correct",
        "token_f1",
        "ndcg@10",
        "faithfulness",
        "semantic_similarity",
        "answered",
    ):
        if metric in report["summary"]:
            return metric
    return next(iter(report["summary"]), None)


def _baseline_means(items, baseline, metrics) -> dict[str, float]:
    """The baseline's mean per metric over the items this run and the baseline share."""
    means = {}
    for metric in metrics:
        values = [
            baseline[item["id"]][metric]
            for item in items
            if item["id"] in baseline and baseline[item["id"]].get(metric) is not None
        ]
        if values:
            means[metric] = sum(values) / len(values)
    return means


def _head(title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; color: #1d2430; background: #f7f8fa; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 1.5rem; }}
h1 {{ margin-bottom: .2rem; }} h2 {{ margin-top: 2rem; border-bottom: 1px solid #d5d9e0; }}
table {{ border-collapse: collapse; width: 100%; background: #fff; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6eb;
  vertical-align: top; }}
.badge {{ display: inline-block; padding: .1rem .55rem; border-radius: .8rem; color: #fff;
  font-weight: 600; font-size: .85rem; }}
.pass {{ background: #1f8a4c; }} .fail {{ background: #c0392b; }}
figure {{ margin: 0; background: #fff; padding: .5rem; }} figure svg {{ max-width: 100%;
  height: auto; }}
.case {{ background: #fff; padding: .8rem 1rem; margin: .8rem 0; border-left: 4px solid #c0392b; }}
.case h3 {{ margin: 0 0 .4rem; font-size: 1rem; }}
.why {{ color: #c0392b; }} .muted {{ color: #5b6472; font-size: .9rem; }}
blockquote {{ margin: .3rem 0; padding: .3rem .6rem; background: #f1f3f6; }}
</style></head><body><main>"""


def _overview(report: dict[str, Any], title: str) -> str:
    verdict = "pass" if report["passed"] else "fail"
    judge = report.get("judge")
    judged = (
        f" · judge <b>{html.escape(judge['model'])}</b>, {judge['repeats']} run(s) per metric"
        if judge
        else ""
    )
    return (
        f"<h1>{html.escape(title)}</h1>"
        f'<p><span class="badge {verdict}" id="verdict">{verdict.upper()}</span> '
        f"{report['items_scored']} items · {report['errors']} errors · "
        f"{report['seconds']} s{judged}</p>"
    )


def _gates(gates: list[dict[str, Any]]) -> str:
    if not gates:
        return "<h2>Gates</h2><p class=muted>No gate is set (evaluation.thresholds).</p>"
    rows = "".join(
        f"<tr><td>{html.escape(g['metric'])}</td><td>{g['kind']}</td>"
        f'<td><span class="badge {"pass" if g["passed"] else "fail"}">'
        f"{'PASS' if g['passed'] else 'FAIL'}</span></td><td>{html.escape(g['reason'])}</td></tr>"
        for g in gates
    )
    return (
        "<h2>Gates</h2><table id=gates><tr><th>metric</th><th>gate</th><th>verdict</th>"
        f"<th>reason</th></tr>{rows}</table>"
    )


def _figure(svg: str, name: str) -> str:
    return f'<figure id="{name}">{svg}</figure>'


def _svg(figure) -> str:
    """The figure as inline SVG (without the XML prolog), and closed."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: searchable, selectable
    return plt


def _interval_plot(summary, thresholds, baseline_means) -> str:
    """Each metric's mean with its interval, its threshold, and the baseline's mean."""
    plt = _pyplot()
    metrics = list(summary)
    figure, axis = plt.subplots(figsize=(8, 0.45 * len(metrics) + 1.2))
    for row, metric in enumerate(metrics):
        interval = summary[metric]
        failed = metric in thresholds and interval["high"] < thresholds[metric]
        colour = "#c0392b" if failed else "#1f5fa8"
        axis.plot([interval["low"], interval["high"]], [row, row], color=colour, linewidth=3)
        axis.plot(interval["mean"], row, "o", color=colour)
        if metric in thresholds:
            axis.plot(thresholds[metric], row, "|", color="#c0392b", markersize=18, mew=2)
        if metric in baseline_means:
            axis.plot(baseline_means[metric], row, "D", color="#7f8c8d", markersize=6)
    axis.set_yticks(range(len(metrics)), metrics)
    axis.invert_yaxis()
    axis.set_xlim(-0.02, 1.02)
    axis.set_xlabel("mean with 95% interval · red bar: threshold · grey diamond: baseline")
    axis.grid(axis="x", alpha=0.3)
    return _svg(figure)


def _distribution_plot(items, metrics) -> str:
    """A histogram of the per-item scores of every metric."""
    plt = _pyplot()
    columns = 3
    rows = max(1, -(-len(metrics) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(9, 2.1 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        if index >= len(metrics):
            axis.set_visible(False)
            continue
        metric = metrics[index]
        values = [i["scores"][metric] for i in items if i["scores"].get(metric) is not None]
        axis.hist(values, bins=10, range=(0, 1), color="#1f5fa8", edgecolor="white")
        axis.set_title(metric, fontsize=10)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    return _svg(figure)


def _comparison(summary, baseline_means) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(m)}</td><td>{baseline_means[m]:.3f}</td>"
        f"<td>{summary[m]['mean']:.3f}</td>"
        f"<td>{summary[m]['mean'] - baseline_means[m]:+.3f}</td></tr>"
        for m in summary
        if m in baseline_means
    )
    return (
        "<h2>Against the baseline</h2><table id=baseline><tr><th>metric</th><th>baseline</th>"
        f"<th>this run</th><th>change</th></tr>{rows}</table>"
        "<p class=muted>Means over the items both runs scored; the regression gates above "
        "say whether a drop is significant.</p>"
    )


def _worst_cases(report: dict[str, Any], thresholds: dict[str, float]) -> str:
    metric = focus_metric(report)
    if metric is None:
        return ""
    scored = [i for i in report["items"] if i["scores"].get(metric) is not None]
    sign = -1 if metric in LOWER_IS_BETTER else 1
    worst = sorted(scored, key=lambda i: sign * i["scores"][metric])[:WORST_CASES]
    cases = "".join(_case(item, metric, thresholds) for item in worst)
    return (
        f"<h2>Worst cases by {html.escape(metric)}</h2>"
        f'<section id="worst">{cases or "<p class=muted>No item was scored.</p>"}</section>'
    )


def _case(item: dict[str, Any], metric: str, thresholds: dict[str, float]) -> str:
    scores = item["scores"]
    why = [
        f"{m} {scores[m]:.2f} is above its maximum {t:g}"
        if m in LOWER_IS_BETTER
        else f"{m} {scores[m]:.2f} is below its threshold {t:g}"
        for m, t in thresholds.items()
        if scores.get(m) is not None and (scores[m] > t if m in LOWER_IS_BETTER else scores[m] < t)
    ]
    for key in ("error", "judge_error"):
        if item.get(key):
            why.append(f"{key.replace('_', ' ')}: {item[key]}")
    if item.get("decision") == "abstain":
        why.append("the pipeline abstained: no answer the documents support")
    if not why:
        why.append(f"the lowest {metric} of the run ({scores[metric]:.2f})")
    parts = [f"<h3>{html.escape(item.get('question', item['id']))}</h3>"]
    if "answer" in item:
        parts.append(f"<p><b>Answer:</b> {html.escape(item['answer']) or '<i>(none)</i>'}</p>")
    if item.get("references"):
        refs = " · ".join(html.escape(r) for r in item["references"])
        parts.append(f"<p><b>Reference:</b> {refs}</p>")
    for context in item.get("contexts", []):
        parts.append(
            f"<blockquote><span class=muted>{html.escape(context['source'])}</span><br>"
            f"{html.escape(context['text'])}</blockquote>"
        )
    if item.get("top"):
        parts.append(f"<p><b>Ranked:</b> {html.escape(', '.join(item['top']))}</p>")
    shown = ", ".join(f"{m} {v:.2f}" for m, v in scores.items() if v is not None)
    parts.append(f"<p class=why>{html.escape('; '.join(why))}</p>")
    parts.append(f"<p class=muted>{html.escape(shown)}</p>")
    return f'<div class="case">{"".join(parts)}</div>'
