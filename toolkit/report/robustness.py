"""Report folders of the robustness commands (walk-forward, Monte Carlo, sensitivity), written
from results they are given: tables as CSV, charts as PNG (for e-mail and PDF) and as
interactive HTML pages (:mod:`toolkit.charts`; one ``plotly.min.js`` per folder, so the pages
open offline), ``summary.json`` and a manifest.
The analyses themselves run in :mod:`toolkit.app.robustness`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit import analysis
from toolkit.analysis.montecarlo import MonteCarloResult
from toolkit.analysis.walkforward import WalkForwardResult
from toolkit.charts import sweep_heatmap, sweep_parallel
from toolkit.report.backtest_report import to_jsonable
from toolkit.report.manifest import build_manifest
from toolkit.sweep import heatmap

REPO = Path(__file__).resolve().parents[2]


def robustness_folder(name: str, kind: str, root: Path) -> Path:
    """A new ``root/<name>-<kind>-<UTC stamp>/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = root / f"{name}-{kind}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_summary(
    out: Path,
    files: dict[str, Path],
    summary: Mapping[str, Any],
    *,
    config: Mapping[str, Any],
    resolved: Mapping[str, Any],
    data_files: Iterable[Mapping[str, str]],
) -> dict[str, Path]:
    """``summary.json`` and ``manifest.json`` (config as written, resolved settings, the data
    files' hashes, the summary as metrics) added to ``files``."""
    files["summary"] = out / "summary.json"
    files["summary"].write_text(json.dumps(to_jsonable(summary), indent=2) + "\n")
    manifest = build_manifest(
        config=to_jsonable(config),
        resolved=to_jsonable(resolved),
        data_files=data_files,
        metrics=to_jsonable(summary),
        repo=REPO,
    )
    files["manifest"] = out / "manifest.json"
    files["manifest"].write_text(json.dumps(to_jsonable(manifest), indent=2) + "\n")
    return files


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _page(fig: Any, path: Path) -> Path:
    """An interactive page beside the PNGs; plotly.js is written once, as plotly.min.js in
    the same folder, and shared by every page there."""
    fig.write_html(path, include_plotlyjs="directory", config={"displaylogo": False})
    return path


def write_walkforward(result: WalkForwardResult, bars: pd.DataFrame, out: Path) -> dict[str, Path]:
    """Folds, out-of-sample equity and returns, parameter stability, and the chart."""
    files = {
        "folds": out / "folds.csv",
        "oos_equity": out / "oos_equity.csv",
        "stability": out / "stability.csv",
    }
    result.folds.to_csv(files["folds"], index=False)
    result.oos_equity.to_frame().join(result.oos_returns).to_csv(files["oos_equity"])
    result.stability().to_csv(files["stability"])
    ax = analysis.plot_walk_forward(result, bars)
    files["plot"] = _save(ax.figure, out / "walkforward.png")
    files["page"] = _page(result.plot(bars), out / "walkforward.html")
    return files


def write_montecarlo(
    mc: MonteCarloResult, percentiles: pd.DataFrame, method: str, out: Path
) -> dict[str, Path]:
    """One method's percentile table (``mc.percentiles()``) and fan chart."""
    files = {f"percentiles_{method}": out / f"percentiles_{method}.csv"}
    percentiles.to_csv(files[f"percentiles_{method}"])
    files[f"fan_{method}"] = _save(analysis.fan_chart(mc).figure, out / f"fan_{method}.png")
    files[f"page_{method}"] = _page(mc.plot(), out / f"montecarlo_{method}.html")
    return files


def write_sensitivity(
    rows: pd.DataFrame,
    stress: pd.DataFrame,
    varying: Sequence[str],
    metric: str,
    out: Path,
) -> dict[str, Path]:
    """The sweep's rows, the stress table, and the response of ``metric`` to the parameters
    that vary: a heatmap over the first two, a line over one, nothing over none; the
    interactive page is the heatmap, or parallel coordinates when more than two vary."""
    files = {"sweep": out / "sweep.csv", "stress": out / "stress.csv"}
    rows.to_csv(files["sweep"], index=False)
    stress.to_csv(files["stress"])
    if len(varying) >= 2:
        ax = heatmap(rows, varying[0], varying[1], metric)
        files["response"] = _save(ax.figure, out / "response.png")
        page = (
            sweep_heatmap(rows, varying[0], varying[1], metric)
            if len(varying) == 2
            else sweep_parallel(rows, list(varying), metric)
        )
        files["page"] = _page(page, out / "response.html")
    elif varying:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4))
        analysis.response(rows, varying[0], metric).plot(ax=ax, marker="o")
        ax.set_ylabel(metric)
        files["response"] = _save(fig, out / "response.png")
    return files
