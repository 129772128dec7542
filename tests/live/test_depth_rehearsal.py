"""``[simulator] depth_replay``: a rehearsal's embedded gateway serves a LOBSTER day as a
symbol's depth and fills (toolkit.live._depth_sim); one-line errors for the keys; a daily
session's orders walk the replayed book; the shipped live/depth_paper.toml is valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from toolkit.errors import ConfigError
from toolkit.gateway.depth_replay import PRICE_SCALE, load_tape
from toolkit.live.config import load_live_config

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "orderbook" / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"


def test_the_shipped_config_names_the_goog_day_relative_to_itself() -> None:
    cfg = load_live_config(REPO / "live" / "depth_paper.toml")
    sim = cfg.simulator
    assert sim.depth_replay == str(
        REPO / "data" / "orderbook" / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"
    )
    assert (sim.depth_symbol, sim.depth_speed, sim.depth_fast) == ("SPY", 10.0, False)
    assert cfg.session.depth_levels == 10


@pytest.mark.parametrize(
    ("simulator", "message"),
    [
        (
            {"depth_replay": "nowhere.zip"},
            "[simulator] depth_replay = 'nowhere.zip': file not found",
        ),
        ({"depth_symbol": "SPY"}, "[simulator] depth_symbol needs [simulator] depth_replay"),
        ({"depth_replay": str(SAMPLE), "depth_symbol": "S P Y"}, "is not a ticker"),
        ({"depth_replay": str(SAMPLE), "depth_speed": 0}, "depth_speed"),
        ({"depth_replay": str(SAMPLE), "depth_fast": "yes"}, "depth_fast"),
    ],
)
def test_the_depth_keys_are_checked_with_one_line(
    live_config: Any, simulator: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        live_config(simulator=simulator)
    assert message in str(err.value) and "\n" not in str(err.value)


def _walk(row: list[int], levels: int, buy: bool, qty: float) -> list[tuple[float, float]]:
    """A market order walking one LOBSTER book row, by hand: the asks (buy) or bids (sell),
    best first, each level's price for at most its size."""
    out = []
    for lv in range(levels):
        price, size = row[4 * lv + (0 if buy else 2)], row[4 * lv + (1 if buy else 3)]
        if qty <= 0 or size <= 0:
            break
        out.append((price / PRICE_SCALE, float(min(qty, size))))
        qty -= min(qty, size)
    return out


def test_a_rehearsal_trades_the_replayed_book(live_config: Any) -> None:
    """SPY's daily market-on-open orders, with LOBSTER's AAPL sample served as SPY's depth
    (its 999 events replayed as the session connects), walk the replayed book level by level
    as it stood when each order arrived -- not SPY's bars (~$380)."""
    from toolkit.live.bridge import run_session
    from toolkit.live.journal import Journal

    cfg = live_config(
        simulator={
            "start": "2023-01-03 21:30",
            "end": "2023-01-10",
            "speed": 8_640_000.0,
            "depth_replay": str(SAMPLE),
            "depth_symbol": "SPY",
            "depth_speed": 1e6,  # the sample's minutes are over in its first wall millisecond
        },
        session={"depth_levels": 5},
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        orders = pd.DataFrame(j.rows("orders", summary.session_id))
    tape = load_tape(SAMPLE)
    rows = [r.tolist() for r in tape.book]
    assert len(orders) >= 2 and (orders["status"] == "Filled").all()
    # each order walks the book as it stood when the order arrived: the last row once the
    # replay is over (as a rule), an earlier one when a loaded machine's replay thread lagged
    # the session's first order -- never SPY's bars, and the book never goes back in time
    seen = 0
    for order in orders.itertuples():
        mine = fills[fills["order_ref"] == order.order_ref]
        got = list(zip(mine["price"], mine["shares"], strict=True))
        buy = order.action == "BUY"
        at = [
            k
            for k in range(seen, len(rows))
            if got == _walk(rows[k], tape.levels, buy, order.quantity)
        ]
        assert at, f"{order.order_ref}: fills {got} walk no book row from row {seen} on"
        seen = at[0]
