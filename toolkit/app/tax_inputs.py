"""Where a tax export's fills come from: a configured backtest replayed on the prices
actually traded, or a live/paper session's journal (the broker's own executions); the
export itself is written by :mod:`toolkit.report.exports`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.app.progress import Progress
from toolkit.config import RunConfig
from toolkit.errors import DataError
from toolkit.report.exports import TaxInputs, dividend_income, dividends_per_share

_DIVIDEND_NOTE = (
    "Dividends are recovered from the data files as D_t = C_(t-1) * (1 - f_(t-1)/f_t) with "
    "f = adj_close/close (Yahoo/CRSP adjustment), accurate to about 0.1 cent per share; a "
    "position held before the ex-date earns them (a short pays them). They are cash income, "
    "not reinvested."
)


def _closes(
    symbols: list[str], index: pd.DatetimeIndex, cfg_dir: Path | None, **load: object
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw, total-return-adjusted) closes of ``symbols`` on ``index``."""
    from toolkit.data import load as load_one

    raw, adj = {}, {}
    for s in symbols:
        raw[s] = load_one(s, data_dir=cfg_dir, adjust="none", **load)["close"]  # type: ignore[arg-type]
        adj[s] = load_one(s, data_dir=cfg_dir, adjust="total_return", **load)["close"]  # type: ignore[arg-type]
    return pd.DataFrame(raw).reindex(index), pd.DataFrame(adj).reindex(index)


def _no_dividend_notes(per_share: pd.DataFrame) -> list[str]:
    return [
        f"{s}: no dividend found in its data file over the period (adj_close/close never "
        "steps): either none was paid, or the file's prices are already dividend-adjusted "
        "(data/README.md: the single-stock files are), in which case its lot prices are "
        "adjusted too and are not the prices paid."
        for s in per_share.columns
        if not (per_share[s] > 0).any()
    ]


def backtest_tax_inputs(cfg: RunConfig, progress: Progress | None = None) -> TaxInputs:
    """The configured backtest's fills at the prices actually paid.

    The strategy's targets are the backtest's own (signals on the configured data); with
    ``adjust = "total_return"`` they are replayed on the stored, unadjusted prices with the
    same engine settings, weights and risk limits, so fills are at the real opens and share
    counts come from real prices; dividends become income (:func:`dividends_per_share`).
    ``progress`` is told each stage (the backtest's own stages too).
    """
    from toolkit.app.backtest import run_backtest
    from toolkit.data import load_many
    from toolkit.engine.backtest import simulate

    say = progress or (lambda _msg: None)
    out = run_backtest(cfg, reports_root=None, progress=progress)
    res = out.result
    index = pd.DatetimeIndex(res.equity.index)
    d = cfg.data
    notes = []
    if d.adjust == "none":
        sim = res
        notes.append(
            f"Prices: {cfg.source} trades the stored prices (adjust = none); lots use them."
        )
    else:
        say("replaying its targets on the stored, unadjusted prices (the prices paid)")
        raw = load_many(
            list(d.symbols), d.start, d.end, data_dir=d.dir, repair=d.repair, adjust="none"
        )
        raw = raw.loc[index]
        symbols = list(raw["close"].columns)
        targets = res.targets.set_axis(symbols, axis=1)
        sim = simulate(raw, targets, cfg.engine, cfg.weights, cfg.risk)
        notes.append(
            f"Prices: {cfg.source} backtests dividend-adjusted prices (adjust = "
            f"{d.adjust}); its targets (signals unchanged) were replayed on the stored, "
            "unadjusted prices with the same engine settings, so lots show the prices an "
            "account would have paid and share counts it could have bought. Realised P&L "
            "therefore differs from the adjusted backtest's by the dividends, reported "
            "separately as income."
        )
    symbols = list(sim.positions.columns)
    say(f"dividends on the shares held ({len(symbols)} symbol(s))")
    raw_close, adj_close = _closes(symbols, index, d.dir, repair=d.repair)
    per_share = dividends_per_share(raw_close, adj_close)
    divs = dividend_income(sim.orders, per_share)
    notes.append(_DIVIDEND_NOTE)
    notes += _no_dividend_notes(per_share)
    cumulative = (
        divs.groupby("ex_date")["amount"].sum().reindex(index, fill_value=0.0).cumsum()
        if len(divs)
        else pd.Series(0.0, index=index)
    )
    equity = pd.DataFrame(
        {
            "equity": sim.equity,
            "dividends_cumulative": cumulative,
            "equity_with_dividends": sim.equity + cumulative,
        }
    )
    return TaxInputs(sim.orders, equity, sim.positions, divs, notes)


def session_tax_inputs(
    journal: Path,
    session_id: str,
    *,
    data_dir: Path | None = None,
    progress: Progress | None = None,
) -> TaxInputs:
    """A live or paper session's journaled executions (prices and commissions as the broker
    reported them), its equity snapshots, positions from the fills, and dividends on the
    positions it held, where ``data/`` has the symbol."""
    from toolkit.live.journal import Journal

    if not journal.is_file():
        raise DataError(f"{journal}: no journal there; give --journal the session's file.")
    with Journal(journal) as j:
        known = [str(s["session_id"]) for s in j.sessions()]
        if session_id not in known:
            listed = ", ".join(known[:5]) or "none"
            raise DataError(
                f"{journal}: no session {session_id!r} (newest: {listed}); "
                "see python -m toolkit.live status"
            )
        if progress is not None:  # after the checks: a bad session id is the only line
            progress(f"reading session {session_id}'s fills from {journal}")
        fills = pd.DataFrame(j.session_fills(session_id))
        snapshots = pd.DataFrame(j.rows("equity", session_id))
    notes = [f"Fills: the executions journaled by session {session_id} in {journal}."]
    if fills.empty:
        orders = pd.DataFrame(columns=["time", "symbol", "quantity", "price", "commission"])
    else:
        unreported = int(fills["commission"].isna().sum())
        if unreported:
            notes.append(
                f"{unreported} fill(s) have no commission report in the journal; counted as 0."
            )
        orders = pd.DataFrame(
            {
                "time": pd.to_datetime(fills["ts"], utc=True, format="ISO8601"),
                "symbol": fills["symbol"].astype(str),
                "side": np.where(fills["side"] == "BOT", "BUY", "SELL"),
                "quantity": np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"],
                "price": fills["price"].astype(float),
                "commission": fills["commission"].astype(float).fillna(0.0),
                "strategy": fills.get("strategy"),
                "exec_id": fills["exec_id"],
                "order_ref": fills["order_ref"],
            }
        )
    if snapshots.empty:
        equity = pd.DataFrame(columns=["equity"])
    else:
        snapshots["strategy"] = snapshots["strategy"].fillna("session")
        snapshots["ts"] = pd.to_datetime(snapshots["ts"], utc=True, format="ISO8601")
        equity = snapshots.pivot_table(
            index="ts", columns="strategy", values="net_liquidation", aggfunc="last"
        )
    positions = (
        orders.pivot_table(index="time", columns="symbol", values="quantity", aggfunc="sum")
        .fillna(0.0)
        .cumsum()
        if len(orders)
        else pd.DataFrame()
    )
    divs = dividend_income(orders, pd.DataFrame())
    if len(orders):
        last = max(
            orders["time"].max(), equity.index.max() if len(equity) else orders["time"].max()
        )
        if progress is not None:
            progress(f"dividends on the positions held ({len(fills)} fills)")
        held = _session_dividends(orders, pd.Timestamp(last), data_dir, notes)
        divs = held if held is not None else divs
    return TaxInputs(orders, equity, positions, divs, notes)


def _session_dividends(
    orders: pd.DataFrame, last: pd.Timestamp, data_dir: Path | None, notes: list[str]
) -> pd.DataFrame | None:
    """Dividends on the session's positions from ``data/`` (None: no symbol has data)."""
    from toolkit.data import available_symbols, default_data_dir

    have = set(available_symbols(data_dir or default_data_dir()))
    symbols = sorted(set(orders["symbol"]))
    missing = [s for s in symbols if s not in have]
    if missing:
        notes.append(
            f"No daily data for {', '.join(missing)}: their dividends are not in this export; "
            "take them from the broker's statement."
        )
    found = [s for s in symbols if s in have]
    if not found:
        return None
    first = pd.Timestamp(orders["time"].min()).normalize()
    from toolkit.data import load as load_one

    index = pd.DatetimeIndex(load_one(found[0], data_dir=data_dir, adjust="none").index)
    index = index[(index >= first) & (index <= last)]
    raw, adj = _closes(found, index, data_dir)
    per_share = dividends_per_share(raw, adj)
    notes.append(_DIVIDEND_NOTE)
    notes += _no_dividend_notes(per_share)
    return dividend_income(orders, per_share)
