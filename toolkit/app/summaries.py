"""What the research commands print (:mod:`toolkit.app.tables`): a backtest's metrics, a
walk-forward's summary and folds, Monte Carlo percentiles, and a sensitivity run's plateau,
overfitting statistics and stress table -- the same numbers as the report folder's
``summary.json``, with digits a person reads, or all of them as JSON (``--json``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.app.tables import Column, Facts, Output, Table

_METRICS = (
    Column("total_return", "Total return", "pct"),
    Column("cagr", "CAGR", "pct"),
    Column("sharpe", "Sharpe", "num"),
    Column("sortino", "Sortino", "num"),
    Column("max_drawdown", "Max drawdown", "pct"),
    Column("trades", "Trades (closed)", "int"),
    Column("win_rate", "Win rate", "pct"),
    Column("exposure", "Exposure", "pct"),
    Column("commissions", "Commissions", "money"),
    Column("final_equity", "Final equity", "money"),
)
_FOLD_KNOWN = {
    "fold",
    "train_start",
    "train_end",
    "test_start",
    "test_end",
    "is_objective",
    "oos_objective",
    "is_cagr",
    "oos_cagr",
    "is_sharpe",
    "oos_sharpe",
    "oos_max_drawdown",
    "oos_trades",
}


def metric_facts(name: str, title: str, metrics: Mapping[str, Any]) -> Facts:
    """The headline metrics of one run (those present in ``metrics``)."""
    return Facts(name, title, _values(metrics, *(c for c in _METRICS if c.key in metrics)))


def _values(source: Mapping[str, Any], *columns: Column) -> tuple[tuple[Column, Any], ...]:
    """Each column with the value ``source`` holds under its key (a Facts' items): the key
    is written once, so a label cannot show the value of another key."""
    return tuple((c, source[c.key]) for c in columns)


def files_note(out: Path, files: Mapping[str, Path]) -> list[str]:
    """The report folder and its files, as the commands list them under the tables."""
    width = max((len(k) for k in files), default=0)
    return [f"Report: {out}/", *(f"  {k:<{width}}  {p}" for k, p in sorted(files.items()))]


def report_extra(out: Path | None, files: Mapping[str, Path]) -> dict[str, Any]:
    """The report folder and files for JSON."""
    return {
        "report": None if out is None else str(out),
        "files": {k: str(p) for k, p in files.items()},
    }


def walkforward_output(summary: Mapping[str, Any], out: Path, files: Mapping[str, Path]) -> Output:
    """Out-of-sample summary, then one row per fold (its test window, the parameters chosen
    in-sample, in- and out-of-sample objective, out-of-sample CAGR and drawdown)."""
    import pandas as pd

    objective = str(summary.get("objective", "sharpe"))
    head = Facts(
        "summary",
        f"Walk-forward (objective: {objective})",
        (
            (Column("objective", "Objective"), objective),
            *_values(
                summary,
                Column("folds", "Folds", "int"),
                Column("oos_cagr", "Out-of-sample CAGR", "pct"),
                Column("oos_sharpe", "Out-of-sample Sharpe", "num"),
                Column("oos_max_drawdown", "Out-of-sample max drawdown", "pct"),
                Column("mean_is_objective", "Mean in-sample objective", "num"),
                Column("mean_oos_objective", "Mean out-of-sample objective", "num"),
                Column("efficiency", "Walk-forward efficiency (OOS / IS)", "num"),
            ),
        ),
    )
    parts: list[Table | Facts] = [head]
    if "folds" in files and Path(files["folds"]).is_file():
        folds = pd.read_csv(files["folds"])
        params = [c for c in folds.columns if c not in _FOLD_KNOWN]
        cols = (
            Column("fold", "Fold", "int"),
            Column("test_start", "Test from", "date"),
            Column("test_end", "to", "date"),
            *(Column(p, p, "param") for p in params),
            Column("is_objective", "IS obj.", "num"),
            Column("oos_objective", "OOS obj.", "num"),
            Column("oos_cagr", "OOS CAGR", "pct"),
            Column("oos_max_drawdown", "OOS max DD", "pct"),
            Column("oos_trades", "OOS trades", "int"),
        )
        rows = tuple({str(k): v for k, v in r.items()} for r in folds.to_dict(orient="records"))
        parts.append(Table("folds", "Folds (parameters chosen in-sample)", cols, rows))
    return Output(parts, files_note(out, files), report_extra(out, files))


def montecarlo_output(summary: Mapping[str, Any], out: Path, files: Mapping[str, Path]) -> Output:
    """The backtest resampled, then per method the probability of the drawdown threshold and
    the percentiles of final equity, CAGR, max drawdown and longest drawdown."""
    parts: list[Table | Facts] = [metric_facts("backtest", "Backtest", summary["backtest"])]
    methods: Mapping[str, Mapping[str, Any]] = summary["methods"]
    done = {m: d for m, d in methods.items() if "skipped" not in d}
    notes = [f"{m}: skipped ({d['skipped']})" for m, d in methods.items() if "skipped" in d]
    if done:
        parts.append(
            Table(
                "methods",
                "Resampling",
                (
                    Column("method", "Method"),
                    Column("paths", "Paths", "int"),
                    Column("seed", "Seed", "int"),
                    Column("drawdown_threshold", "Drawdown threshold", "pct"),
                    Column("prob_drawdown", "P(max drawdown deeper)", "pct"),
                ),
                tuple({"method": m, **d} for m, d in done.items()),
            )
        )
        rows = []
        for m, d in done.items():
            pct: Mapping[str, Mapping[Any, float]] = d["percentiles"]
            for q in next(iter(pct.values())):
                rows.append({"method": m, "percentile": float(q), **{c: pct[c][q] for c in pct}})
        parts.append(
            Table(
                "percentiles",
                "Percentiles over the paths (longest drawdown in bars)",
                (
                    Column("method", "Method"),
                    Column("percentile", "Percentile", "quantile"),
                    Column("final_equity", "Final equity", "money"),
                    Column("cagr", "CAGR", "pct"),
                    Column("max_drawdown", "Max drawdown", "pct"),
                    Column("longest_drawdown", "Longest drawdown", "int"),
                ),
                tuple(rows),
            )
        )
    extra = report_extra(out, files)
    if notes:
        extra["skipped"] = {m: d["skipped"] for m, d in methods.items() if "skipped" in d}
    return Output(parts, [*notes, *files_note(out, files)], extra)


def sensitivity_output(
    summary: Mapping[str, Any], out: Path, files: Mapping[str, Path], metric: str
) -> Output:
    """Trials, the plateau around the best set, DSR and PBO, and the stress table."""
    plateau: Mapping[str, Any] = summary["plateau"]
    parts: list[Table | Facts] = [
        Facts(
            "plateau",
            f"Plateau ({summary['trials']} trials, metric {metric})",
            (
                (Column("trials", "Trials", "int"), summary["trials"]),
                *_values(
                    plateau,
                    Column("best", "Best set"),
                    Column("best_value", f"Best {metric}", "num"),
                    Column("neighbours", "Neighbours", "int"),
                    Column("score", "Plateau score (neighbours within tolerance)", "pct"),
                    Column("neighbour_median", f"Neighbours' median {metric}", "num"),
                ),
            ),
        )
    ]
    notes: list[str] = []
    over: Mapping[str, Any] = summary["overfitting"]
    if "skipped" in over:
        notes.append(f"overfitting statistics skipped: {over['skipped']}")
    else:
        parts.append(
            Facts(
                "overfitting",
                "Overfitting (deflated Sharpe of the best set; PBO by CSCV)",
                _values(
                    over,
                    Column("best_params", "Best set by Sharpe"),
                    Column("dsr", "Deflated Sharpe ratio (probability)", "num"),
                    Column("dsr_significant", "DSR significant", "bool"),
                    Column("sharpe_per_period", "Sharpe per bar", "num"),
                    Column("sharpe_threshold", "Expected max Sharpe per bar", "num"),
                    Column("n_trials", "Trials", "int"),
                    Column("pbo", "Probability of backtest overfitting", "pct"),
                    Column("pbo_trials", "PBO trials", "int"),
                    Column("pbo_splits", "PBO splits", "int"),
                ),
            )
        )
    stress: Mapping[str, Mapping[str, Any]] = summary["stress"]
    parts.append(
        Table(
            "stress",
            "Stress of the configured parameters",
            (
                Column("case", "Case"),
                *(c for c in _METRICS if c.key in ("cagr", "sharpe", "max_drawdown", "trades")),
                *(c for c in _METRICS if c.key in ("win_rate", "commissions")),
                Column("sharpe_change", "Sharpe change", "pct"),
            ),
            tuple({"case": case, **row} for case, row in stress.items()),
        )
    )
    return Output(parts, [*notes, *files_note(out, files)], report_extra(out, files))


def robustness_output(
    command: str, summary: Mapping[str, Any], out: Path, files: Mapping[str, Path], metric: str
) -> Output:
    """The output of ``walkforward``, ``montecarlo`` or ``sensitivity``."""
    if command == "walkforward":
        return walkforward_output(summary, out, files)
    if command == "montecarlo":
        return montecarlo_output(summary, out, files)
    return sensitivity_output(summary, out, files, metric)


def backtest_output(run: Any) -> Output:
    """A backtest's metrics (and its benchmark's) with the report files: ``backtest --json``;
    the table is :func:`toolkit.app.backtest.format_summary`, with the same numbers."""
    from toolkit.app.backtest import benchmark_metrics

    m = run.result.metrics()
    parts: list[Table | Facts] = [
        Facts(
            "run",
            "",
            (
                (Column("name", "Run"), run.config.name),
                (Column("strategy", "Strategy"), run.config.strategy),
                (Column("params", "Parameters"), dict(run.config.params)),
                (Column("start", "From", "date"), run.result.equity.index[0]),
                (Column("end", "To", "date"), run.result.equity.index[-1]),
            ),
        ),
        Facts(
            "metrics",
            "",
            (
                *metric_facts("metrics", "", m).items,
                (Column("avg_trade_pnl", "Avg P&L per trade", "money"), m["avg_trade_pnl"]),
            ),
        ),
    ]
    bench = benchmark_metrics(run)
    if bench:
        parts.append(metric_facts("benchmark", str(run.config.data.benchmark), bench))
    files = run.files
    return Output(parts, [], report_extra(run.report_dir, files))


def strategies_json(specs: Any) -> str:
    """``strategies --json``: each strategy with its kind, origin and parameters."""
    import json

    from toolkit.app.tables import plain

    return json.dumps(
        [
            {
                "name": s.name,
                "kind": "cross_sectional" if s.cross_sectional else "single",
                "module": s.module,
                "summary": s.summary,
                "params": [
                    {
                        "name": p.name,
                        "type": p.kind.__name__,
                        "default": plain(p.default),
                        "low": plain(p.low),
                        "high": plain(p.high),
                        "doc": p.doc,
                    }
                    for p in s.params
                ],
            }
            for s in specs
        ],
        indent=2,
    )


def session_json(summary: Any, orders: Any) -> str:
    """``live status --json``: a session's summary (the numbers ``status`` prints), its
    closed trades and its parent orders' TCA."""
    import json
    from dataclasses import asdict, fields

    from toolkit.app.tables import plain

    record = {f.name: getattr(summary, f.name) for f in fields(summary) if f.name != "tca"}
    record["trades"] = summary.trades.to_dict(orient="records")
    record["tca"] = None if summary.tca is None else asdict(summary.tca)
    record.update(
        pnl=summary.pnl,
        win_rate=summary.win_rate,
        avg_trade=summary.avg_trade,
        running=summary.running,
    )
    if orders is not None:
        record["parent_orders"] = orders.reset_index().to_dict(orient="records")
    return json.dumps(plain(record), indent=2)


def options_json(name: str, r: Any, report: Path | None) -> str:
    """``options-backtest --json``: the numbers its text prints (metrics, attribution totals,
    the spreads, the guards) and where the report went."""
    import json

    from toolkit.app.tables import plain

    return json.dumps(
        plain(
            {
                "name": name,
                "pricing": r.pricing,
                "model_priced": r.model_priced,
                "metrics": r.metrics,
                "attribution": r.attribution.sum().to_dict(),
                "trades": r.trades.to_dict(orient="records"),
                "guards": r.guards.to_dict(orient="records"),
                "report": report,
            }
        ),
        indent=2,
    )
