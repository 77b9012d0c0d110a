"""Quality gates that a noisy score cannot fool: thresholds and regressions judged on bootstrap
confidence intervals, each verdict with the reason in words."""

from collections.abc import Sequence
from dataclasses import dataclass

from evaluation.metrics import Interval, bootstrap_difference, bootstrap_mean


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict on one metric."""

    metric: str
    kind: str  # "threshold" or "regression"
    passed: bool
    interval: Interval
    limit: float
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {
            "metric": self.metric,
            "kind": self.kind,
            "passed": self.passed,
            "interval": self.interval.to_dict(),
            "limit": self.limit,
            "reason": self.reason,
        }


def threshold_gate(
    metric: str,
    scores: Sequence[float],
    threshold: float,
    confidence: float = 0.95,
    lower_is_better: bool = False,
) -> GateResult:
    """Fails only when the whole confidence interval of the mean lies below `threshold` (above
    it, for a metric where less is better, such as the share of wrong answers): a small sample
    that might meet it is not failed on chance, and one that surely misses it is.
    """
    interval = bootstrap_mean(scores, confidence=confidence)
    passed = interval.low <= threshold if lower_is_better else interval.high >= threshold
    side = "above the maximum" if lower_is_better else "below the threshold"
    where = (
        f"{metric} = {interval.mean:.3f} (95% CI {interval.low:.3f}–{interval.high:.3f}, "
        f"n={interval.n})"
    )
    if passed:
        reason = f"{where} does not lie {side} {threshold:g}"
    else:
        reason = f"{where}: the whole interval lies {side} {threshold:g}"
    return GateResult(metric, "threshold", passed, interval, threshold, reason)


def regression_gate(
    metric: str,
    current: Sequence[float],
    baseline: Sequence[float],
    max_drop: float = 0.0,
    confidence: float = 0.95,
    lower_is_better: bool = False,
) -> GateResult:
    """Fails when the run is significantly worse than the baseline on the same items: the
    whole interval of the paired difference lies below `-max_drop` (above `max_drop` for a
    metric where less is better)."""
    interval = bootstrap_difference(current, baseline, confidence=confidence)
    if lower_is_better:
        passed, limit, change = interval.low <= max_drop, max_drop, "rise"
    else:
        passed, limit, change = interval.high >= -max_drop, -max_drop, "drop"
    where = (
        f"{metric} changed by {interval.mean:+.3f} against the baseline (95% CI "
        f"{interval.low:+.3f} to {interval.high:+.3f}, n={interval.n})"
    )
    if passed:
        reason = f"{where}: no significant {change} beyond {max_drop:g}"
    else:
        reason = f"{where}: a significant {change} beyond {max_drop:g}"
    return GateResult(metric, "regression", passed, interval, limit, reason)
