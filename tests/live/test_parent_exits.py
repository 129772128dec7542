"""Exits of a parent worked by our schedule (``algo = "twap"`` with ``[strategies.bracket]``):
once the parent is done they go out as stand-alone orders in one OCA group, sized to the
position it left and priced from its average fill; the first to fill cancels the other."""

from __future__ import annotations

import time
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


def test_kill_between_the_exits_journal_and_send_sends_them_once(tmp_path: Path) -> None:
    """The bridge dies after a TWAP parent's exits are journaled, before placeOrder; the
    restart sends them (OCA group and all) once the reconcile has asked the broker, a third
    start sends nothing."""
    from tests.live._sessions import (
        PATIENCE,
        held_gateway,
        journal_rows,
        start_bridge,
        stop_bridge,
        wait_for,
        wait_for_rows,
    )

    session = "parent-exits-restart"
    with held_gateway(start="2024-03-19 21:30") as gw:
        cfg = parent_config(
            tmp_path,
            'algo = "twap", end = "+10min", slices = 2',
            end="2024-03-21",
            extra=f'[connection]\nhost = "127.0.0.1"\nport = {gw.port}\nclient_id = 32\n',
        )
        cfg.source.write_text(
            cfg.source.read_text() + "[strategies.bracket]\ntake_profit = 0.05\nstop_loss = 0.05\n"
        )
        journal = cfg.session.journal
        log = tmp_path / "bridge.log"
        # two children journaled and sent (hits 1, 2), then the exits journaled: hit 3 kills
        proc = start_bridge(cfg.source, log, fault="after-journal@3", session=session)
        wait_for_rows(journal, "SELECT 1 FROM parents", what="the parent of Tuesday's decision")
        gw.advance(pd.Timestamp("2024-03-20 13:30", tz="UTC") - gw.clock.now())
        for _ in range(30):  # a minute at a time until the children filled and it died
            if proc.poll() is not None:
                break
            gw.advance("1min")
            time.sleep(0.5)
        assert proc.wait(PATIENCE) == 137, log.read_text()
        exits = journal_rows(
            journal, "SELECT order_ref, status, oca_group FROM orders WHERE parent_ref IS NOT NULL"
        )
        assert sorted(r[0].rsplit("/", 1)[1] for r in exits) == ["sl", "tp"]
        assert {r[1] for r in exits} == {"PendingSubmit"}
        refs = {r[0] for r in exits}
        assert not refs & {o.order_ref for o in gw.state.book.orders.values()}

        proc = start_bridge(cfg.source, log, session=session)
        wait_for(
            lambda: refs <= {o.order_ref for o in gw.state.book.orders.values()},
            what="the journaled exits sent after the restart",
        )
        stop_bridge(proc, log)
        sim = [o for o in gw.state.book.orders.values() if o.order_ref in refs]
        assert len(sim) == 2 and {o.oca_group for o in sim} == {exits[0][2]}
        assert {o.parent_id for o in sim} == {0}  # stand-alone, not children

        proc = start_bridge(cfg.source, log, session=session)
        wait_for(lambda: log.read_text().count("resumed session") >= 2, what="the third start")
        stop_bridge(proc, log)
        placed = [o.order_ref for o in gw.state.book.orders.values()]
        assert len(placed) == len(set(placed)) == 4  # two children, two exits: once each
