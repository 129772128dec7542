"""Run a configured backtest end to end: load the config's bars, simulate, hand the result to
:func:`toolkit.report.write_backtest_report`, and format the summary the command prints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from toolkit.app.progress import Progress
from toolkit.config import RunConfig
from toolkit.data import LoadedBars, LoadedFile, load_many_sourced, load_sourced
from toolkit.engine import backtest
from toolkit.engine.result import BacktestResult
from toolkit.report import write_backtest_report

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RunOutput:
    """A finished run: the result, the benchmark closes used, the report files, and the bars
    it ran on (what :func:`toolkit.execution.engine_tca` needs)."""

    config: RunConfig
    result: BacktestResult
    benchmark: pd.Series | None
    report_dir: Path | None
    files: dict[str, Path]
    sources: tuple[LoadedFile, ...] = ()
    bars: pd.DataFrame | None = None


def load_bars(cfg: RunConfig) -> pd.DataFrame:
    """The config's bars: one symbol as a plain frame, several aligned on a common calendar."""
    return load_config_bars(cfg).frame


def load_config_bars(cfg: RunConfig) -> LoadedBars:
    """:func:`load_bars` with the files the bars came from: one symbol as a plain frame (what
    the fused single-symbol sweep scores), several as a (field, symbol) panel."""
    d = cfg.data
    if len(d.symbols) > 1:
        return load_run_bars(cfg)
    return load_sourced(
        d.symbols[0],
        d.start,
        d.end,
        data_dir=d.dir,
        repair=d.repair,
        adjust=d.adjust,
        jump_factor=d.jump_factor,
    )


def load_run_bars(cfg: RunConfig) -> LoadedBars:
    """The config's bars as a (field, symbol) panel, even for one symbol (so the symbol is in
    the columns, not in ``attrs``), with the files they came from."""
    d = cfg.data
    return load_many_sourced(
        list(d.symbols),
        d.start,
        d.end,
        data_dir=d.dir,
        repair=d.repair,
        adjust=d.adjust,
        jump_factor=d.jump_factor,
    )


def run_backtest(
    cfg: RunConfig,
    *,
    reports_root: Path | None = Path("reports"),
    tearsheet: bool = True,
    progress: Progress | None = None,
) -> RunOutput:
    """Execute ``cfg``; write ``reports_root/<name>-<UTC stamp>/`` unless reports_root is None."""
    say = progress or (lambda _msg: None)
    say(f"loading {len(cfg.data.symbols)} symbol(s): {', '.join(cfg.data.symbols)}")
    loaded = load_run_bars(cfg)
    bars, sources = loaded.frame, loaded.sources
    benchmark = None
    if cfg.data.benchmark:
        bench = load_sourced(cfg.data.benchmark, data_dir=cfg.data.dir, adjust=cfg.data.adjust)
        benchmark = bench.frame["close"]
        sources = (*sources, *bench.sources)
    # measured on a 2-core AMD EPYC VM; a run with portfolio rules compiles them in too
    compile_s = "~20 s" if cfg.risk is not None and cfg.risk.portfolio else "~10 s"
    say(
        f"simulating {cfg.strategy} {cfg.params} on {len(bars)} bars "
        f"(the first run on a machine compiles numba kernels, {compile_s}; cached after)"
    )
    result = backtest(bars, cfg.strategy, cfg.params, cfg.engine, cfg.weights, cfg.risk)
    files: dict[str, Path] = {}
    out_dir = None
    if reports_root is not None:
        if tearsheet:  # the headline now: the report takes seconds more, the summary waits for it
            m = result.metrics()
            say(
                f"result: total return {m['total_return']:.2%}, CAGR {m['cagr']:.2%}, Sharpe "
                f"{m['sharpe']:.3f}, max drawdown {m['max_drawdown']:.2%}, "
                f"{int(m['trades'])} closed trades"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = reports_root / f"{cfg.name}-{stamp}"
        say(f"writing report to {out_dir}" + (" (tear sheet: 5-10 s)" if tearsheet else ""))
        data_files = [{**s.record(), "path": _relative(s.path, REPO)} for s in sources]
        files = write_backtest_report(
            result,
            out_dir,
            config=cfg.raw,
            data_files=data_files,
            benchmark=benchmark,
            title=f"{cfg.name}: {cfg.strategy} on {', '.join(cfg.data.symbols)}",
            repo=REPO,
            tearsheet=tearsheet,
            progress=say,
            bars=bars,
        )
    say("done")
    return RunOutput(cfg, result, benchmark, out_dir, files, sources, bars)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def format_summary(out: RunOutput) -> str:
    """The summary table the CLI prints: headline metrics, with the benchmark beside them."""
    m = out.result.metrics()
    bench = benchmark_metrics(out)
    rows = [
        (
            "Period",
            f"{out.result.equity.index[0].date()} .. {out.result.equity.index[-1].date()}",
            "",
        ),
        ("Final equity", f"{m['final_equity']:,.2f}", ""),
        ("Total return", _pct(m["total_return"]), _pct(bench.get("total_return"))),
        ("CAGR", _pct(m["cagr"]), _pct(bench.get("cagr"))),
        ("Sharpe", _num(m["sharpe"]), _num(bench.get("sharpe"))),
        ("Sortino", _num(m["sortino"]), _num(bench.get("sortino"))),
        ("Max drawdown", _pct(m["max_drawdown"]), _pct(bench.get("max_drawdown"))),
        ("Trades (closed)", f"{int(m['trades'])}", ""),
        ("Win rate", _pct(m["win_rate"]), ""),
        ("Avg P&L per trade", f"{m['avg_trade_pnl']:,.2f}", ""),
        ("Exposure", _pct(m["exposure"]), ""),
        ("Commissions", f"{m['commissions']:,.2f}", ""),
    ]
    head = (
        "Metric",
        out.config.strategy,
        f"{out.config.data.benchmark} (buy & hold)" if bench else "",
    )
    w0 = max(len(r[0]) for r in [*rows, head])
    w1 = max(len(r[1]) for r in [*rows, head])
    lines = [
        f"{head[0]:<{w0}}  {head[1]:>{w1}}  {head[2]}".rstrip(),
        "-" * (w0 + w1 + 4 + len(head[2])),
    ]
    lines += [f"{a:<{w0}}  {b:>{w1}}  {c:>{len(head[2])}}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def benchmark_metrics(out: RunOutput) -> dict[str, float]:
    """Buy and hold of the config's benchmark on the run's bars (empty without one)."""
    if out.benchmark is None:
        return {}
    from toolkit import metrics as mt

    b = out.benchmark.reindex(out.result.returns.index).ffill().pct_change().fillna(0.0)
    p = out.config.engine.periods_per_year
    return {
        "cagr": mt.cagr(b, p),
        "sharpe": mt.sharpe(b, p),
        "sortino": mt.sortino(b, p),
        "max_drawdown": mt.max_drawdown(b),
        "total_return": mt.total_return(b),
    }


def _pct(v: float | None) -> str:
    return "" if v is None else ("n/a" if v != v else f"{v * 100:.2f}%")


def _num(v: float | None) -> str:
    return "" if v is None else ("n/a" if v != v else f"{v:.3f}")
