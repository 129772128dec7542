"""Tax-lot exports: trades matched first-in-first-out, realised P&L with holding periods,
dividend income; from a backtest or from a live session's journal (its real fills).

US convention (IRS Publication 550): a position held more than one year is long-term,
otherwise short-term; gains on short sales are short-term. Commissions are part of the
cost basis (buys) and reduce proceeds (sells), allocated to lots by quantity.

Lots carry the prices actually paid. A backtest on total-return data (``adjust =
"total_return"``, the default) trades prices scaled by ``adj_close / close``, which fold
dividends into the price; those are not the prices a broker reports. :func:`backtest_tax_inputs`
therefore replays the backtest's own targets (its signals, unchanged) on the stored,
unadjusted prices -- fills at the real opens, share counts from real prices and cash -- and
reports dividends as income, recovered from the data (see :func:`dividends_per_share`).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from toolkit.errors import DataError

# Smallest dividend recovered from the adjustment factor, as a fraction of the previous close:
# adj_close is stored with 6 decimals, so day-to-day rounding moves the factor by up to ~1.5e-6.
DIVIDEND_TOLERANCE = 1e-5


@dataclass
class _Lot:
    quantity: float  # signed: > 0 long lot, < 0 short lot
    price: float
    commission: float  # commission still attached to the open quantity
    opened: pd.Timestamp


def realized_lots(orders: pd.DataFrame) -> pd.DataFrame:
    """Match fills FIFO into closed lots with proceeds, cost basis, gain and term.

    ``orders`` needs columns time, symbol, quantity (signed), price, commission (engine
    orders or broker executions). Returns one row per closed lot piece.
    """
    need = {"time", "symbol", "quantity", "price", "commission"}
    missing = need - set(orders.columns)
    if missing:
        raise DataError(f"orders lack column(s) {', '.join(sorted(missing))} for a tax export.")
    rows = []
    books: dict[str, deque[_Lot]] = {}
    ordered = orders.sort_values("time", kind="stable")
    columns = zip(
        pd.DatetimeIndex(ordered["time"]),
        ordered["symbol"].astype(str),
        ordered["quantity"].to_numpy(float),
        ordered["price"].to_numpy(float),
        ordered["commission"].to_numpy(float),
        strict=True,
    )
    for when, symbol, qty, price, fee in columns:
        lots = books.setdefault(symbol, deque())
        remaining = qty
        while remaining != 0 and lots and (lots[0].quantity > 0) != (remaining > 0):
            lot = lots[0]
            take = min(abs(remaining), abs(lot.quantity))
            lot_fee = lot.commission * take / abs(lot.quantity)
            close_fee = fee * take / abs(qty)
            long_lot = lot.quantity > 0
            sale, purchase = (price, lot.price) if long_lot else (lot.price, price)
            proceeds = take * sale - (close_fee if long_lot else lot_fee)
            basis = take * purchase + (lot_fee if long_lot else close_fee)
            held = when - lot.opened
            # "more than one year": sold after the anniversary of the purchase date
            long_term = long_lot and when.normalize() > lot.opened.normalize() + pd.DateOffset(
                years=1
            )
            rows.append(
                {
                    "symbol": symbol,
                    "side": "long" if long_lot else "short",
                    "quantity": take,
                    "opened": lot.opened,
                    "closed": when,
                    "holding_days": held.days,
                    "term": "long" if long_term else "short",
                    "open_price": lot.price,
                    "close_price": price,
                    "proceeds": proceeds,
                    "cost_basis": basis,
                    "commission": lot_fee + close_fee,
                    "gain": proceeds - basis,
                }
            )
            lot.commission -= lot_fee
            lot.quantity += take if not long_lot else -take
            remaining += take if remaining < 0 else -take
            if abs(lot.quantity) < 1e-12:
                lots.popleft()
        if abs(remaining) > 1e-12:
            lots.append(_Lot(remaining, price, fee * abs(remaining) / abs(qty), when))
    return pd.DataFrame(rows)


def dividends_per_share(raw_close: pd.DataFrame, adjusted_close: pd.DataFrame) -> pd.DataFrame:
    """Cash dividend per share on each ex-date (0 elsewhere), recovered from the data.

    Yahoo's ``adj_close`` (CRSP method) multiplies every close before an ex-date by
    ``1 - D / C_prev``, with ``C_prev`` the close before the ex-date; with the factor
    ``f = adj_close / close`` that gives ``D_t = C_{t-1} * (1 - f_{t-1} / f_t)``. Only steps
    above :data:`DIVIDEND_TOLERANCE` count (rounding noise is below it). Both frames are
    (bars x symbols): ``raw_close`` as stored, ``adjusted_close`` from ``adjust="total_return"``.
    """
    factor = adjusted_close / raw_close
    step = 1.0 - factor.shift(1) / factor
    per_share = raw_close.shift(1) * step
    return per_share.where(step > DIVIDEND_TOLERANCE, 0.0).fillna(0.0)


def dividend_income(fills: pd.DataFrame, per_share: pd.DataFrame) -> pd.DataFrame:
    """One row per (symbol, ex-date) on which a position was held: shares held before the
    ex-date (fills stamped earlier than it), dividend per share, amount (negative for a
    short, which owes the dividend to the lender)."""
    rows = []
    times = pd.DatetimeIndex(fills["time"]) if len(fills) else pd.DatetimeIndex([], tz="UTC")
    for symbol in per_share.columns:
        paid = per_share[symbol][per_share[symbol] > 0]
        mine = fills[fills["symbol"].astype(str) == str(symbol)]
        when = times[(fills["symbol"].astype(str) == str(symbol)).to_numpy()]
        qty = mine["quantity"].to_numpy(float)
        for ex_date, amount in paid.items():
            held = float(qty[when < pd.Timestamp(ex_date)].sum())  # type: ignore[arg-type]
            if abs(held) > 1e-12:
                rows.append(
                    {
                        "symbol": str(symbol),
                        "ex_date": ex_date,
                        "shares": held,
                        "per_share": float(amount),
                        "amount": held * float(amount),
                        "kind": "dividend" if held > 0 else "payment_on_short",
                    }
                )
    columns = ["symbol", "ex_date", "shares", "per_share", "amount", "kind"]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class TaxInputs:
    """What a tax export is made of: fills at the prices paid (time, symbol, signed quantity,
    price, commission), equity and positions over time, dividend income, and notes for the
    reader about where the numbers come from."""

    orders: pd.DataFrame
    equity: pd.DataFrame
    positions: pd.DataFrame
    dividends: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def export_tax_files(
    orders: pd.DataFrame,
    equity: pd.Series | pd.DataFrame,
    positions: pd.DataFrame,
    out_dir: Path,
    *,
    dividends: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Path]:
    """Write realised lots (CSV, JSON), a yearly summary by term (dividends as their own
    rows), dividend income, equity, positions, the fills and a notes file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lots = realized_lots(orders)
    paths = {
        "lots_csv": out_dir / "realized_lots.csv",
        "lots_json": out_dir / "realized_lots.json",
        "summary": out_dir / "realized_by_year.csv",
        "dividends": out_dir / "dividends.csv",
        "equity": out_dir / "equity.csv",
        "positions": out_dir / "positions.csv",
        "trades": out_dir / "fills.csv",
        "notes": out_dir / "NOTES.txt",
    }
    lots.to_csv(paths["lots_csv"], index=False)
    records = json.loads(lots.to_json(orient="records", date_format="iso"))
    paths["lots_json"].write_text(json.dumps(records, indent=1) + "\n")
    if lots.empty:
        summary = pd.DataFrame(
            columns=["year", "term", "proceeds", "cost_basis", "gain", "commission"]
        )
    else:
        by = lots.assign(year=pd.to_datetime(lots["closed"]).dt.year)
        summary = by.groupby(["year", "term"])[
            ["proceeds", "cost_basis", "gain", "commission"]
        ].sum()
        summary = summary.reset_index()
    divs = dividends if dividends is not None else dividend_income(orders.iloc[:0], pd.DataFrame())
    if len(divs):
        income = divs.assign(year=pd.DatetimeIndex(divs["ex_date"]).year, term="dividend")
        income = income.groupby(["year", "term"])["amount"].sum().rename("gain").reset_index()
        summary = pd.concat([summary, income], ignore_index=True)
        summary = summary.sort_values(["year", "term"], kind="stable", ignore_index=True)
    summary.to_csv(paths["summary"], index=False)
    divs.to_csv(paths["dividends"], index=False)
    frame = equity.to_frame("equity") if isinstance(equity, pd.Series) else equity
    frame.to_csv(paths["equity"], index_label="timestamp")
    positions.to_csv(paths["positions"], index_label="timestamp")
    orders.to_csv(paths["trades"], index=False)
    paths["notes"].write_text("".join(f"- {n}\n" for n in notes) or "- no notes\n")
    return paths
