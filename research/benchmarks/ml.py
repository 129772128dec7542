"""ML workflow (issue 21): inference per bar as a live session pays it, and training time.

* per-bar signal: what the live bridge calls on each new bar (``latest_targets`` of
  ``ml_classifier`` on the session's window: 2 years of history plus the session's bars), with
  the window's models already cached (the session fitted them at their retraining bars, or
  loaded them from the artefact); features, labels, cache look-ups and predictions of every
  bar of the window included. Target: < 5 ms per bar.
* model inference alone: one row through the fitted model.
* walk-forward training: every window of SPY 2016-2025 fitted from an empty cache.

Min and median of several runs; the machine's load average is printed (numbers are noisy on
shared cores).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import toolkit as tk
from toolkit.ml.model import CACHE
from toolkit.ml.strategy import ml_classifier, ml_params
from toolkit.ml.walkforward import walk_forward
from toolkit.strategies.latest import latest_targets

MODELS = {"logistic": {"model": 0}, "gradient boosting (40 trees)": {"model": 1, "trees": 40}}


def _per_bar(params: dict[str, float], bars: object, start: int, first: int, n: int) -> list[float]:
    """Milliseconds of each bar's call; the window grows from ``start`` as the bridge's does
    (its history, then each streamed bar)."""
    times = []
    for t in range(first, first + n):
        window = bars.iloc[start : t + 1]  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        latest_targets(ml_classifier, {"SPY": window}, params)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main() -> None:
    print(f"ML workflow benchmark (load average {os.getloadavg()[0]:.2f})")
    bars = tk.load("SPY", start="2016-01-01", adjust="none")
    h, lo, c, v = (bars[f].to_numpy() for f in ("high", "low", "close", "volume"))
    first = len(bars) - 120
    for label, extra in MODELS.items():
        params = {**ml_classifier.defaults(), **extra}
        p = ml_params(params)
        CACHE.clear()
        t0 = time.perf_counter()
        _, windows = walk_forward(h, lo, c, v, p)
        train_s = time.perf_counter() - t0
        fitted = [w.model for w in windows if w.model is not None]
        start = first - 504  # two years of history before the session's first bar
        _per_bar(params, bars, start, first, 60)  # warm: models fitted at their retraining bars
        runs = _per_bar(params, bars, start, first + 60, 60)
        row = np.ascontiguousarray(np.nan_to_num(np.zeros((1, 8))) + 0.01)
        one = []
        for _ in range(200):
            t0 = time.perf_counter()
            fitted[-1].proba(row + len(one) * 1e-9)  # a new row each time (no memo)
            one.append((time.perf_counter() - t0) * 1e3)
        print(
            f"  {label}: per-bar live signal min {min(runs):.2f} / median "
            f"{statistics.median(runs):.2f} ms (60 bars, 565-625-bar window); one-row inference "
            f"min {min(one):.3f} / median {statistics.median(one):.3f} ms; walk-forward "
            f"training {len(fitted)} windows in {train_s:.2f} s"
        )


if __name__ == "__main__":
    main()
