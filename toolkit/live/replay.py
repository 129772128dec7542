"""Backtest exactly what a live session traded: its span, its warm-up, its book.

A session decides from its first completed bar to its last, on a window the bridge loaded
when it subscribed: ``history`` (an IB duration such as ``1 Y``) back from the broker's clock
at that moment, on the unadjusted prices the broker streams. It trades its own ``capital``
under the research config's engine settings and weights, with the live config's ``[risk]``
merged over the research config's. :func:`replay_session` rebuilds that from the journal
(span and book) and the live config the session recorded (warm-up and risk): bars from the
warm-up start to the last decided bar, targets only from the first decided bar on, and the
result trimmed to the session's span -- so its fills are the session's, fill for fill. A
session whose ``[risk]`` was reloaded mid-session is refused: one backtest runs one set of
limits.

The warm-up starts ``history`` before the subscription time: the ``[simulator] start`` of a
simulated session, the journal's ``started_at`` of one against a real broker (a restart later
resubscribes with a newer window; signals that forget old bars, like moving averages, do not
notice). Daily bars only: intraday sessions are not held to parity with the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.config import RunConfig
from toolkit.data import calendar
from toolkit.engine.result import BacktestResult
from toolkit.errors import ConfigError, DataError
from toolkit.live.config import LiveConfig, StrategySlot, load_live_config
from toolkit.live.journal import Journal

DEFAULT_JOURNAL = Path("live/state/journal.sqlite")


@dataclass(frozen=True)
class SessionSpan:
    """What one strategy of a session traded: its slot, the warm-up start (bars after it
    were loaded), and its first and last decided bars."""

    session_id: str
    slot: StrategySlot
    warmup_start: pd.Timestamp
    first_bar: pd.Timestamp
    last_bar: pd.Timestamp
    decisions: int


@dataclass(frozen=True)
class SessionReplay:
    """The backtest of a session's strategy over its span, and the session's own record."""

    span: SessionSpan
    config: RunConfig  # the research config as the session traded it (capital, risk, prices)
    result: BacktestResult
    live_fills: pd.DataFrame  # journaled fills: time, bar, symbol, quantity, price, commission
    live_equity: pd.Series  # net liquidation marked at each decided close

    def fills_compared(self) -> pd.DataFrame:
        """Live and backtest fills side by side, matched in order per symbol: bar, signed
        quantity and price of each, and whether they agree (same bar, same quantity, price
        within half a cent)."""
        bt = self.result.orders.assign(bar=pd.DatetimeIndex(self.result.orders["time"]))
        rows = []
        for symbol in sorted(set(bt["symbol"]) | set(self.live_fills["symbol"])):
            a = self.live_fills[self.live_fills["symbol"] == symbol].reset_index(drop=True)
            b = bt[bt["symbol"] == symbol].reset_index(drop=True)
            for i in range(max(len(a), len(b))):
                la = a.iloc[i] if i < len(a) else None
                lb = b.iloc[i] if i < len(b) else None
                row: dict[str, Any] = {
                    "symbol": symbol,
                    "live_bar": None if la is None else la["bar"],
                    "backtest_bar": None if lb is None else lb["bar"],
                    "live_qty": np.nan if la is None else la["quantity"],
                    "backtest_qty": np.nan if lb is None else lb["quantity"],
                    "live_price": np.nan if la is None else la["price"],
                    "backtest_price": np.nan if lb is None else lb["price"],
                }
                row["match"] = bool(
                    la is not None
                    and lb is not None
                    and la["bar"] == lb["bar"]
                    and la["quantity"] == lb["quantity"]
                    and abs(la["price"] - lb["price"]) < 0.005
                )
                rows.append(row)
        return pd.DataFrame(rows)


def _session(journal: Journal, session_id: str | None) -> dict[str, Any]:
    sessions = journal.sessions()
    if not sessions:
        raise DataError(f"{journal.path}: the journal holds no session.")
    if session_id is None:
        return sessions[0]
    for s in sessions:
        if s["session_id"] == session_id:
            return s
    newest = ", ".join(str(s["session_id"]) for s in sessions[:5])
    raise DataError(
        f"{journal.path}: no session {session_id!r} (newest: {newest}); "
        "see python -m toolkit.live status"
    )


def _live_config(recorded: dict[str, Any], override: Path | None, journal: Path) -> LiveConfig:
    source = override or Path(str(recorded.get("source", "")))
    if not source.is_file():
        raise ConfigError(
            f"{journal}: the session's live config {source} is not there; pass the config it "
            "ran with (--live-config)."
        )
    cfg = load_live_config(source)
    for slot in cfg.strategies:
        was = recorded.get("strategies", {}).get(slot.label)
        now = {
            "strategy": slot.run.strategy,
            "params": {k: float(v) for k, v in slot.run.params.items()},
            "symbols": list(slot.symbols),
            "bar_size": slot.bar_size,
        }
        if was is not None:  # params are numbers; 5 and 5.0 are the same parameter
            was = {**was, "params": {k: float(v) for k, v in was.get("params", {}).items()}}
        if was is None or any(was.get(k) != v for k, v in now.items()):
            raise ConfigError(
                f"{source}: strategy {slot.label!r} is not what the session traded "
                f"(journal: {was}); pass the config it ran with (--live-config)."
            )
        if float(recorded.get("capital", {}).get(slot.label, slot.capital)) != slot.capital:
            raise ConfigError(f"{source}: {slot.label} capital changed since the session.")
    return cfg


def _duration(history: str) -> pd.Timedelta | pd.DateOffset:
    """An IB duration ('1 Y', '6 M', '2 W', '30 D', '3600 S') as the gateway applies it."""
    count, unit = int(history.split()[0]), history.split()[1]
    if unit in ("Y", "M"):
        return pd.DateOffset(months=count * (12 if unit == "Y" else 1))
    seconds = {"W": 7 * 86_400, "D": 86_400, "S": 1}[unit]
    return pd.Timedelta(seconds=count * seconds)


def session_spans(
    journal_path: Path, session_id: str | None = None, live_config: Path | None = None
) -> list[SessionSpan]:
    """Span and warm-up of every strategy of a session (the newest when ``session_id`` is
    None), from its journal and the live config it recorded (or ``live_config``)."""
    if not journal_path.is_file():
        raise DataError(f"{journal_path}: no journal there; give the session's journal file.")
    with Journal(journal_path) as j:
        session = _session(j, session_id)
        sid = str(session["session_id"])
        decisions = pd.DataFrame(j.rows("decisions", sid))
        reloads = [
            r for r in j.rows("risk_changes", sid) if r["status"] == "applied" and r["strategy"]
        ]
    if reloads:  # one backtest runs one set of limits: it cannot be the session after that
        change = reloads[0]
        raise ConfigError(
            f"{journal_path}: session {sid} reloaded its [risk] limits mid-session "
            f"({len(reloads)} change{'s' if len(reloads) > 1 else ''}, first at "
            f"{change['ts'][:19]}: {change['strategy']}: {change['message']}); a backtest runs "
            "one set of limits, so it would not be this session fill for fill (python -m "
            "toolkit.live status lists the reloads)."
        )
    recorded = json.loads(session["config_json"])
    cfg = _live_config(recorded, live_config, journal_path)
    if session["mode"] == "simulated":
        anchor = pd.Timestamp(cfg.simulator.start) if cfg.simulator.start else None
    else:
        anchor = pd.Timestamp(session["started_at"])
    spans = []
    for slot in cfg.strategies:
        if slot.bar_size != "1 day":
            raise ConfigError(
                f"{cfg.source}: {slot.label} trades {slot.bar_size} bars; a session can be "
                "replayed as a backtest for daily bars only."
            )
        mine = decisions[decisions["strategy"] == slot.label] if len(decisions) else decisions
        if mine.empty:
            continue
        bars = pd.DatetimeIndex(pd.to_datetime(mine["bar_time"], utc=True, format="ISO8601"))
        first, last = bars.min(), bars.max()
        start = anchor if anchor is not None else calendar.session_close(first.date())
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        spans.append(
            SessionSpan(sid, slot, start - _duration(slot.history), first, last, len(bars.unique()))
        )
    if not spans:
        raise DataError(f"{journal_path}: session {sid} decided nothing; nothing to replay.")
    return spans


def _trim(result: BacktestResult, first: pd.Timestamp) -> BacktestResult:
    """The result from bar ``first`` on (before it the book was flat at its capital)."""
    keep = result.equity.index >= first
    offset = int((~keep).sum())
    orders = result.orders[result.orders["time"] >= first].copy()
    orders["bar"] = orders["bar"] - offset
    return replace(
        result,
        equity=result.equity[keep],
        returns=result.returns[keep],
        cash=result.cash[keep],
        positions=result.positions[keep],
        targets=result.targets[keep],
        orders=orders.reset_index(drop=True),
        trades=result.trades[result.trades["entry_time"] >= first].reset_index(drop=True),
    )


def replay_span(span: SessionSpan, journal_path: Path) -> SessionReplay:
    """Backtest one strategy of a session over exactly its span and warm-up."""
    from toolkit import strategies
    from toolkit.data import load_many
    from toolkit.engine.backtest import book_weights, simulate, strategy_targets

    slot = span.slot
    run = replace(
        slot.run,
        engine=replace(slot.run.engine, init_cash=slot.capital),
        risk=slot.risk,
        data=replace(
            slot.run.data,
            symbols=slot.symbols,
            adjust="none",  # the broker streams the prices traded, not total-return ones
            start=None,
            end=None,
            benchmark=None,
        ),
    )
    d = run.data
    bars = load_many(list(slot.symbols), data_dir=d.dir, repair=d.repair, adjust="none")
    bars = bars[(bars.index > span.warmup_start) & (bars.index <= span.last_bar)]
    if bars.empty or bars.index[-1] < span.first_bar:
        raise DataError(
            f"{d.dir}: no daily bars of {', '.join(slot.symbols)} for the session's span "
            f"{span.first_bar.date()}..{span.last_bar.date()}."
        )
    strat = strategies.get(run.strategy)
    params = strat.resolve(run.params)
    targets = strategy_targets(bars, strat, params)
    targets[targets.index < span.first_bar] = np.nan
    # the weights the live bridge traded: a cross-sectional book's are 1 per symbol
    weights = book_weights(strat, run.weights, targets.shape[1])
    result = simulate(bars, targets, run.engine, weights, run.risk)
    result = _trim(replace(result, strategy=strat.name, params=params), span.first_bar)
    with Journal(journal_path) as j:
        fills = pd.DataFrame(j.session_fills(span.session_id))
        marks = pd.DataFrame(j.rows("equity", span.session_id))
    if len(fills):
        fills = fills[fills["strategy"] == slot.label]
    live = pd.DataFrame(
        {
            "time": pd.to_datetime(fills["ts"], utc=True, format="ISO8601") if len(fills) else [],
            "symbol": fills["symbol"] if len(fills) else [],
            "quantity": (np.where(fills["side"] == "BOT", 1.0, -1.0) * fills["shares"])
            if len(fills)
            else [],
            "price": fills["price"] if len(fills) else [],
            "commission": fills["commission"] if len(fills) else [],
        }
    )
    # daily bars are stamped at midnight UTC of their date; a fill belongs to its date's bar
    live["bar"] = pd.DatetimeIndex(live["time"]).normalize()
    mine = marks[marks["strategy"] == slot.label] if len(marks) else marks
    equity = pd.Series(
        mine["net_liquidation"].to_numpy(float) if len(mine) else [],
        index=pd.DatetimeIndex(pd.to_datetime(mine["ts"], utc=True, format="ISO8601"))
        if len(mine)
        else pd.DatetimeIndex([], tz="UTC"),
        name="live_equity",
    )
    return SessionReplay(span, run, result, live.reset_index(drop=True), equity)


def replay_session(
    journal_path: Path = DEFAULT_JOURNAL,
    session_id: str | None = None,
    live_config: Path | None = None,
) -> list[SessionReplay]:
    """Backtest every strategy of a session (the newest when ``session_id`` is None) over
    exactly the bars it traded, with its warm-up, capital, engine settings and risk."""
    return [
        replay_span(s, journal_path) for s in session_spans(journal_path, session_id, live_config)
    ]


def write_replay_report(
    replay: SessionReplay, reports_root: Path, *, tearsheet: bool = True
) -> tuple[Path, dict[str, Path]]:
    """The usual backtest report folder for a replay, plus the session's side of it:
    ``fills_vs_session.csv`` (fill for fill) and ``equity_vs_session.csv``."""
    from datetime import UTC, datetime

    from toolkit.data import load_file
    from toolkit.report import write_backtest_report

    span = replay.span
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = reports_root / f"{span.session_id}-{span.slot.label}-like-session-{stamp}"
    repo = Path(__file__).resolve().parents[2]
    sources = []
    for symbol in span.slot.symbols:
        _, info = load_file(symbol, data_dir=replay.config.data.dir, adjust="none")
        path = info.path.resolve()
        shown = str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)
        sources.append({"symbol": info.symbol, "path": shown, "sha256": info.sha256})
    config = {
        **replay.config.raw,
        "like_session": {
            "session": span.session_id,
            "strategy": span.slot.label,
            "warmup_start": span.warmup_start.isoformat(),
            "first_bar": span.first_bar.isoformat(),
            "last_bar": span.last_bar.isoformat(),
            "capital": span.slot.capital,
            "history": span.slot.history,
            "adjust": "none",
        },
    }
    files = write_backtest_report(
        replay.result,
        out,
        config=config,
        data_files=sources,
        benchmark=None,
        title=f"{span.session_id} {span.slot.label}: backtest like the session",
        repo=repo,
        tearsheet=tearsheet,
    )
    files["fills_vs_session"] = out / "fills_vs_session.csv"
    replay.fills_compared().to_csv(files["fills_vs_session"], index=False)
    files["equity_vs_session"] = out / "equity_vs_session.csv"
    pd.DataFrame({"backtest": replay.result.equity, "session": replay.live_equity}).to_csv(
        files["equity_vs_session"], index_label="timestamp"
    )
    return out, files
