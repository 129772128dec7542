"""``[strategies.bracket]``: exits for any entry (market, limit, an IB algo), their levels,
time in force and OCA group from the live config, journaled with the entry and worked by the
simulator (children released by the entry's fill, one exit's fill cancels the others)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from tests.live.conftest import PAPER
from toolkit.errors import ConfigError
from toolkit.live.brackets import BracketSpec, exit_orders
from toolkit.live.bridge import run_session
from toolkit.live.config import load_live_config
from toolkit.live.journal import Journal
from toolkit.live.orders import entry_order


def _config(tmp_path: Path, body: str, research: Path = PAPER, extra: str = "") -> Path:
    path = tmp_path / "live.toml"
    path.write_text(
        f'name = "b"\n{extra}[session]\njournal = "state/journal.sqlite"\n'
        f'[[strategies]]\nconfig = "{research}"\ncapital = 100000\nhistory = "1 Y"\n{body}\n'
    )
    return path


def test_bracket_table_levels_tif_and_oca(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        '[strategies.bracket]\ntake_profit = 0.04\nstop_loss = 0.02\ntif = "DAY"\noca = true',
    )
    slot = load_live_config(path).strategies[0]
    assert slot.bracket and slot.exits == BracketSpec(0.04, 0.02, None, "DAY", True)
    s = slot.run.engine
    entry = entry_order("s/x/SPY/20240313", "SPY", 300, 510.0, s)
    legs = exit_orders(entry, slot.exits, 300.0, 510.0, s)
    assert [(x.ref, x.action, x.quantity, x.order_type, x.tif) for x in legs] == [
        ("s/x/SPY/20240313/sl", "SELL", 300, "STP", "DAY"),
        ("s/x/SPY/20240313/tp", "SELL", 300, "LMT", "DAY"),
    ]
    assert legs[0].aux_price == 499.80 and legs[1].limit_price == 530.40  # 510 -2 % / +4 %
    assert {(x.oca_group, x.oca_type, x.parent_ref) for x in legs} == {
        ("s/x/SPY/20240313/oca", 1, entry.ref)
    }
    # a short entry: the stop above, the take-profit below
    short = exit_orders(entry_order("s/x/SPY/20240313", "SPY", -300, 510.0, s), slot.exits,
                        -300.0, 510.0, s)  # fmt: skip
    assert [(x.action, x.aux_price or x.limit_price) for x in short] == [
        ("BUY", 520.20),
        ("BUY", 489.60),
    ]
    # closing a position needs no exits
    assert exit_orders(entry, slot.exits, 0.0, 510.0, s) == []


def test_the_table_overrides_the_research_exits_key_by_key(tmp_path: Path) -> None:
    research = tmp_path / "r.toml"
    research.write_text(PAPER.read_text() + "\n[exits]\nstop_loss = 0.03\ntrailing_stop = 0.05\n")
    path = _config(tmp_path, "[strategies.bracket]\nstop_loss = 0.01", research)
    slot = load_live_config(path).strategies[0]
    assert slot.exits is not None
    s = slot.exits.exits(slot.run.engine)
    assert (s.stop_loss, s.take_profit, s.trailing_stop) == (0.01, None, 0.05)
    assert slot.exits.tif == "GTC" and not slot.exits.oca
    # the old switch: the research config's exits as they are
    old = load_live_config(_config(tmp_path, "bracket = true", research)).strategies[0]
    assert old.exits == BracketSpec() and old.bracket


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("bracket = true", "[strategies #1.bracket] has no exit: set take_profit"),
        ("bracket = 1", "bracket = 1: write true/false, or a [strategies.bracket] table"),
        ("[strategies.bracket]\nstop_loss = 0.0", "stop_loss = 0.0 must be greater than 0"),
        ("[strategies.bracket]\nstop_loss = 1.5", "stop_loss = 1.5 is out of range"),
        ('[strategies.bracket]\nstop_loss = 0.02\ntif = "IOC"', "tif = 'IOC' is not allowed"),
        ("[strategies.bracket]\nstop = 0.02", "unknown key stop; allowed keys: take_profit"),
    ],
)
def test_bad_bracket_tables(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_live_config(_config(tmp_path, body))
    assert message in str(err.value) and str(tmp_path / "live.toml") in str(err.value)


def test_exits_of_an_ib_vwap_entry_at_the_gateway(tmp_path: Path) -> None:
    """A Vwap entry with a 1 % stop and take-profit: once the algo is done its exits go out in
    one OCA group, sized to what it filled and priced from its average fill; the first to
    fill cancels the other."""
    path = _config(
        tmp_path,
        '[strategies.execution]\nalgo = "ib_vwap"\nstart = "10:00"\nend = "+15min"\n'
        "[strategies.bracket]\ntake_profit = 0.01\nstop_loss = 0.01\noca = true",
        extra='[simulator]\nstart = "2024-02-26 21:30"\nend = "2024-03-09"\nspeed = 8640000.0\n',
    )
    cfg = load_live_config(path)
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        orders = {o["order_ref"]: o for o in j.rows("orders", summary.session_id)}
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    entries = [o for o in orders.values() if o["parent_ref"] is None]
    assert entries and all(o["algo"] == "Vwap" for o in entries)
    exited = 0
    for e in entries:
        legs = [o for o in orders.values() if o["parent_ref"] == e["order_ref"]]
        if not legs:
            continue  # it closed a position
        assert {o["order_type"] for o in legs} == {"STP", "LMT"}
        assert {o["oca_group"] for o in legs} == {e["order_ref"] + "/oca"}
        assert all(o["oca_type"] == 1 and o["algo"] is None for o in legs)
        done = [o for o in legs if o["status"] == "Filled"]
        if done:
            exited += 1
            [leg] = done
            [other] = [o for o in legs if o is not leg]
            assert other["status"] == "Cancelled"
            got = fills[fills["order_ref"] == leg["order_ref"]]
            assert got["shares"].sum() == leg["quantity"]
            entry_fills = fills[fills["order_ref"] == e["order_ref"]]
            assert pd.Timestamp(got["ts"].min()) > pd.Timestamp(entry_fills["ts"].max())
            avg = (entry_fills["shares"] * entry_fills["price"]).sum() / entry_fills["shares"].sum()
            tp = next(o for o in legs if o["order_type"] == "LMT")
            assert tp["limit_price"] == pytest.approx(math.ceil(avg * 1.01 * 100 - 1e-9) / 100)
            assert leg["quantity"] == entry_fills["shares"].sum()
    assert exited >= 1  # a 1 % move in two weeks of SPY: one exit did its job
