"""The progress bar of the long commands (ingest, batch, eval), on stderr."""

import sys
import time
from typing import Any

# tqdm's own rate and ETA count every step since the bar appeared, skipped ones included:
# 5,000 unchanged files checked in a second read "31177 file/s" before the real work stalled
# it. The bar shows its own, over the work done since the models loaded.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


def shows_progress(quiet: bool, as_json: bool) -> bool:
    """Whether a command draws its bar: not with --quiet, and not with --json when stderr is
    not a terminal (a script reading the JSON would log the bar's every redraw)."""
    return not quiet and not (as_json and not sys.stderr.isatty())


class Progress:
    """A bar that appears at once, says when models are loading, and counts its rate and ETA
    over the items worked on since then; items skipped (unchanged, already done) advance it
    without making it look faster.

    Usage:
    ```python
    progress = Progress("ingest", "file", enabled=True)   # drawn now: "ingest: checking"
    progress.loading()                                    # "ingest: loading models"
    progress.start(total=120)                             # the clock for the rate starts
    progress.skip()                                       # an unchanged file
    progress.advance(chunks=14, failed=0)                 # a file done, with counts shown
    progress.close()
    ```
    """

    def __init__(self, desc: str, unit: str, *, enabled: bool, total: int | None = None) -> None:
        """Draw the bar now (when `enabled`), saying that the command is getting ready."""
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self.worked = 0
        self.counts: dict[str, Any] = {}
        self._started: float | None = None
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                desc=f"{desc}: checking",
                unit=unit,
                file=sys.stderr,
                bar_format=BAR_FORMAT,
                dynamic_ncols=True,
            )

    def loading(self) -> None:
        """Say that models are loading (not counted in the rate)."""
        if self._bar is not None:
            self._bar.set_description_str(f"{self.desc}: loading models")
            self._bar.refresh()

    def start(self, total: int | None = None) -> None:
        """The work begins: the rate's clock starts; `total` items in all, when known."""
        self._started = time.perf_counter()
        if self._bar is not None:
            if total is not None:
                self._bar.total = total
            self._bar.set_description_str(self.desc)
            self._bar.refresh()

    def expect(self, total: int) -> None:
        """`total` items in all (once known)."""
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def skip(self, count: int = 1) -> None:
        """Items that needed no work."""
        if self._bar is not None:
            self._bar.update(count)

    def advance(self, count: int = 1, **counts: Any) -> None:
        """Items worked on, with the counts to show beside the bar (added up). Before `start`
        (an item that failed before any model loaded) they count, without a rate."""
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        if self._started is not None:
            self.worked += count
        if self._bar is None:
            return
        shown: dict[str, Any] = dict(self.counts)
        if self.worked:
            rate = self.worked / max(time.perf_counter() - self._started, 1e-9)
            shown[f"{self.unit}/s"] = f"{rate:.2f}"
            if self._bar.total is not None:
                left = max(self._bar.total - self._bar.n - count, 0) / rate
                shown["ETA"] = time.strftime("%M:%S", time.gmtime(left)) if left < 3600 else ">1h"
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(count)

    def close(self) -> None:
        """Remove nothing, stop drawing."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
