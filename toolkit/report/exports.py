"""Tax-lot exports: trades matched first-in-first-out, realised P&L with holding periods.

US convention (IRS Publication 550): a position held more than one year is long-term,
otherwise short-term; gains on short sales are short-term. Commissions are part of the
cost basis (buys) and reduce proceeds (sells), allocated to lots by quantity.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from toolkit.errors import DataError


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


def export_tax_files(
    orders: pd.DataFrame, equity: pd.Series, positions: pd.DataFrame, out_dir: Path
) -> dict[str, Path]:
    """Write realised lots (CSV, JSON), a yearly summary by term, equity and positions."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lots = realized_lots(orders)
    paths = {
        "lots_csv": out_dir / "realized_lots.csv",
        "lots_json": out_dir / "realized_lots.json",
        "summary": out_dir / "realized_by_year.csv",
        "equity": out_dir / "equity.csv",
        "positions": out_dir / "positions.csv",
        "trades": out_dir / "fills.csv",
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
    summary.to_csv(paths["summary"], index=False)
    equity.to_frame("equity").to_csv(paths["equity"], index_label="timestamp")
    positions.to_csv(paths["positions"], index_label="timestamp")
    orders.to_csv(paths["trades"], index=False)
    return paths
