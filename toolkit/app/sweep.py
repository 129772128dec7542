"""``toolkit sweep --config F``: every parameter set of the config's ``[grid]`` scored by
:func:`toolkit.sweep` (one symbol, or each symbol with ``--per-symbol``) or
:func:`toolkit.sweep_portfolio` (several symbols traded as the config's book), with its
engine settings, weights and [risk] limits; prints the best sets and writes
``reports/<name>-sweep-<time>/`` (``sweep.csv`` with every row, ``summary.json``,
``manifest.json``)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from toolkit.app.tables import Column, Facts, Output, Table
from toolkit.errors import ConfigError

# the sweep's metrics, and which way is better for each (max_drawdown is negative)
SORTABLE = (
    "sharpe",
    "sortino",
    "cagr",
    "total_return",
    "max_drawdown",
    "win_rate",
    "final_equity",
    "trades",
    "exposure",
    "commissions",
)
_LOWER_IS_BETTER = {"commissions"}
_COLUMNS = (
    Column("total_return", "Total return", "pct"),
    Column("cagr", "CAGR", "pct"),
    Column("sharpe", "Sharpe", "num"),
    Column("sortino", "Sortino", "num"),
    Column("max_drawdown", "Max DD", "pct"),
    Column("trades", "Trades", "int"),
    Column("win_rate", "Win rate", "pct"),
    Column("exposure", "Exposure", "pct"),
    Column("final_equity", "Final equity", "money"),
)
_BLOCK = 32  # parameter sets per progress step of a portfolio sweep (one engine run each)


def add_parser(sub: Any) -> None:
    """``sweep`` under a command's subparsers."""
    sw = sub.add_parser(
        "sweep",
        help="score every parameter set of the config's [grid]; table + reports/<run>/sweep.csv",
        description=__doc__,
    )
    sw.add_argument("--config", required=True, type=Path, help="TOML file in research/configs/")
    sw.add_argument("--reports", type=Path, default=Path("reports"), help="report root folder")
    sw.add_argument("--no-reports", action="store_true", help="print only, write no files")
    sw.add_argument(
        "--sort", choices=SORTABLE, default="sharpe", help="rank the printed sets by this metric"
    )
    sw.add_argument("--top", type=int, default=10, help="sets printed (0: all); the CSV has all")
    sw.add_argument(
        "--per-symbol",
        action="store_true",
        help="several symbols: score each on its own instead of the config's book",
    )
    sw.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="score on a dask cluster: its scheduler (tcp://host:8786), or 'local' for a "
        "LocalCluster of this machine's cores (one symbol, or --per-symbol)",
    )
    sw.add_argument("--json", action="store_true", help="JSON for machines instead of tables")
    sw.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def run(args: argparse.Namespace) -> int:
    """Run the sweep, write the report folder, print the table (or JSON)."""
    from toolkit.app.progress import stderr_progress
    from toolkit.app.run_config import read_run_config, require_grid

    if args.top < 0:
        raise ConfigError(f"--top {args.top}: give 0 (all) or a positive count.")
    say = stderr_progress()
    # the config and the flags it refuses, before the data, engine and sweep modules load
    cfg = read_run_config(args.config)
    require_grid(cfg, "sweep")
    if args.per_symbol:
        _refuse_per_symbol(cfg)
    book = len(cfg.data.symbols) > 1 and not args.per_symbol
    if book and args.dask:
        raise ConfigError(
            f"--dask: {cfg.source} scores its {len(cfg.data.symbols)} symbols as one book, "
            "an engine run per set on this machine; add --per-symbol to spread the fused "
            "sweep of each symbol over the cluster, or drop --dask."
        )
    from toolkit.app.backtest import load_config_bars
    from toolkit.app.robustness import _grid

    grid = _grid(cfg, "sweep")
    loaded = load_config_bars(cfg)
    say(
        f"sweep: {cfg.strategy}, {len(grid):,} parameter set(s) on "
        f"{', '.join(cfg.data.symbols)}{' as one book' if book else ''} "
        "(the first run compiles numba kernels)"
    )
    if book:
        rows = _portfolio(cfg, grid, loaded.frame)
    elif args.dask:
        with _cluster(args.dask, say) as client:
            rows = _single(cfg, grid, loaded.frame, client)
    else:
        rows = _single(cfg, grid, loaded.frame)
    if rows.attrs.get("interrupted"):
        raise KeyboardInterrupt
    varying = [p for p in grid.names if rows[p].nunique() > 1] or list(grid.names)
    ranked = rows.sort_values(
        args.sort, ascending=args.sort in _LOWER_IS_BETTER, na_position="last", kind="stable"
    )
    shown = ranked if args.top == 0 else ranked.head(args.top)
    out_dir: Path | None = None
    files: dict[str, Path] = {}
    summary: dict[str, Any] = {
        "strategy": cfg.strategy,
        "trials": len(rows),
        "symbols": list(cfg.data.symbols),
        "scored": "one book" if book else "each symbol" if len(cfg.data.symbols) > 1 else "",
        "sort": args.sort,
        "best": {k: _value(v) for k, v in ranked.iloc[0].items()},
        "dropped_by_where": int(grid.dropped),
    }
    if not args.no_reports:
        out_dir, files = _write(cfg, rows, summary, loaded.sources, args.reports, varying)
    say("done")
    output = sweep_output(summary, shown, varying, out_dir, files)
    output.print(args.json)
    return 0


def sweep_output(
    summary: dict[str, Any],
    shown: Any,
    varying: list[str],
    out_dir: Path | None,
    files: dict[str, Path],
) -> Output:
    """The ranked sets as a table: the varying parameters, the symbol when there are
    several, and the metrics."""
    several = summary["scored"] == "each symbol"
    cols = (
        Column("rank", "#", "int"),
        *(Column(p, p, "param") for p in varying),
        *((Column("symbol", "Symbol"),) if several else ()),
        *_COLUMNS,
    )
    rows = tuple(
        {"rank": i + 1, **{k: _value(v) for k, v in r.items()}}
        for i, r in enumerate(shown.to_dict(orient="records"))
    )
    head = Facts(
        "summary",
        "",
        (
            (Column("strategy", "Strategy"), summary["strategy"]),
            (Column("trials", "Rows (sets x symbols)", "int"), summary["trials"]),
            (Column("symbols", "Symbols"), ", ".join(summary["symbols"])),
            *(((Column("scored", "Scored as"), summary["scored"]),) if summary["scored"] else ()),
            (Column("sort", "Ranked by"), summary["sort"]),
        ),
    )
    table = Table("top", f"Best {len(rows)} by {summary['sort']}", cols, rows, whole_rows=True)
    notes: list[str] = []
    extra: dict[str, Any] = {"report": None if out_dir is None else str(out_dir)}
    if out_dir is not None:
        from toolkit.app.summaries import files_note

        notes = files_note(out_dir, files)
        extra["files"] = {k: str(p) for k, p in files.items()}
    return Output([head, table], notes, extra)


def _value(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _refuse_per_symbol(cfg: Any) -> None:
    """A cross-sectional strategy has no per-symbol score: it was swept as its book anyway."""
    from toolkit import strategies

    if strategies.get(cfg.strategy).cross_sectional:
        raise ConfigError(
            f"--per-symbol: {cfg.strategy} ({cfg.source}) is cross-sectional: it trades one "
            f"book over all its {len(cfg.data.symbols)} symbols (each one's weight depends on "
            "the others), so a symbol alone has no score of its own; drop --per-symbol to "
            "sweep the book."
        )


def _single(cfg: Any, grid: Any, bars: Any, client: Any = None) -> Any:
    """The fused sweep: one symbol, or each symbol of a panel on its own; tqdm on stderr (or
    the blocks spread over a dask ``client``)."""
    from toolkit.sweep import sweep

    data = {cfg.data.symbols[0]: bars} if len(cfg.data.symbols) == 1 else bars
    return sweep(
        data,
        cfg.strategy,
        grid,
        cfg.engine,
        progress=client is None,
        risk=cfg.risk,
        weights=cfg.weights,
        client=client,
    )


@contextmanager
def _cluster(address: str, say: Any) -> Iterator[Any]:
    """A dask client of the scheduler at ``address``, or of a LocalCluster ('local')."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--dask needs dask.distributed: pip install 'ibkr-toolkit[scale]'."
        ) from None
    if address == "local":
        say("starting a dask LocalCluster (one worker process per core)")
        with (
            distributed.LocalCluster(  # type: ignore[no-untyped-call]
                threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            yield client
        return
    say(f"connecting to the dask scheduler at {address}")
    try:
        client = distributed.Client(address, timeout=10)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"--dask {address}: cannot reach the scheduler ({exc}).") from None
    with client:
        yield client


def _portfolio(cfg: Any, grid: Any, bars: Any) -> Any:
    """The book per parameter set (an engine run each), in blocks for the progress bar."""
    import pandas as pd
    from tqdm.auto import tqdm

    from toolkit.sweep import sweep_portfolio

    parts = []
    with tqdm(total=len(grid), unit="set", desc="sweep (book)", leave=False) as bar:
        for lo in range(0, len(grid), _BLOCK):
            block = replace(grid, values=grid.values[lo : lo + _BLOCK])
            parts.append(
                sweep_portfolio(bars, cfg.strategy, block, cfg.engine, cfg.weights, cfg.risk)
            )
            bar.update(len(block))
    rows = pd.concat(parts, ignore_index=True)
    rows.attrs["interrupted"] = False
    return rows


def _write(
    cfg: Any,
    rows: Any,
    summary: dict[str, Any],
    sources: Any,
    reports_root: Path,
    varying: list[str],
) -> tuple[Path, dict[str, Path]]:
    """``sweep.csv`` (every row), a heatmap of the first two varying parameters, the summary
    and the manifest."""
    from toolkit.app.robustness import _finish, _headless
    from toolkit.report import robustness as written

    out = written.robustness_folder(cfg.name, "sweep", reports_root)
    files = {"sweep": out / "sweep.csv"}
    rows.to_csv(files["sweep"], index=False)
    if len(varying) >= 2:
        _headless()
        import matplotlib.pyplot

        from toolkit.sweep import heatmap

        fig = heatmap(rows, varying[0], varying[1], summary["sort"]).get_figure(root=True)
        assert fig is not None
        files["heatmap"] = out / "heatmap.png"
        fig.savefig(files["heatmap"], dpi=110, bbox_inches="tight")
        matplotlib.pyplot.close(fig)
    _, _, files = _finish(cfg, out, files, summary, sources)  # summary.json, manifest.json
    return out, files
