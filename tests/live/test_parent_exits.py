"""Exits of a parent worked by our schedule (``algo = "twap"`` with ``[strategies.bracket]``):
once the parent is done they go out as stand-alone orders in one OCA group, sized to the
position it left and priced from its average fill; the first to fill cancels the other."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.live.test_execution_parity import parent_config
from toolkit.live.bridge import run_session
from toolkit.live.config import load_live_config
from toolkit.live.journal import Journal


def test_a_twap_parent_s_oca_exits_follow_its_fills(tmp_path: Path) -> None:
    cfg = parent_config(
        tmp_path, 'algo = "twap", end = "+30min", slices = 5', end="2024-03-20 18:10"
    )
    cfg.source.write_text(
        cfg.source.read_text() + "[strategies.bracket]\ntake_profit = 0.004\nstop_loss = 0.004\n"
    )
    cfg = load_live_config(cfg.source)
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        [parent] = j.rows("parents", summary.session_id)
        orders = pd.DataFrame(j.rows("orders", summary.session_id))
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    ref = parent["parent_ref"]
    kids = fills[fills["order_ref"].str.startswith(ref + "/c")]
    avg = (kids["shares"] * kids["price"]).sum() / kids["shares"].sum()
    exits = orders[orders["parent_ref"] == ref].set_index("order_type")
    assert sorted(exits.index) == ["LMT", "STP"]
    assert set(exits["oca_group"]) == {ref + "/oca"} and set(exits["oca_type"]) == {1}
    assert set(exits["quantity"]) == {kids["shares"].sum()}  # the whole position it left
    assert set(exits["action"]) == {"SELL"}
    # priced from the parent's average fill, rounded to the tick away from a fill
    assert exits.at["LMT", "limit_price"] == pytest.approx(-(-avg * 1.004 // 0.01) * 0.01)
    assert exits.at["STP", "aux_price"] == pytest.approx(avg * 0.996 // 0.01 * 0.01)
    # sent after the parent's last fill; the first to fill cancelled the other
    exit_fills = fills[fills["order_ref"].isin(exits["order_ref"])]
    assert pd.to_datetime(exit_fills["ts"]).min() > pd.to_datetime(kids["ts"]).max()
    assert sorted(exits["status"]) == ["Cancelled", "Filled"]
    done = exits[exits["status"] == "Filled"]["order_ref"].iloc[0]
    assert exit_fills[exit_fills["order_ref"] == done]["shares"].sum() == kids["shares"].sum()
