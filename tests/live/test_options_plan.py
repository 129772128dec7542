"""An option session's pure parts: the config, the spread from a chain, the limit price
policy, and the ledger booking a combo's legs into a real SQLite journal."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from tests.live.conftest import REPO
from toolkit.errors import ConfigError
from toolkit.live._broker_events import Executed
from toolkit.live._fault import Faults
from toolkit.live._option_book import OptionBook
from toolkit.live._option_ledger import OPEN, OptionLedger
from toolkit.live._option_plan import (
    OptionQuote,
    Spread,
    choose_expiry,
    limit_price,
    select_spread,
    spread_max_loss,
)
from toolkit.live.journal import FillConflict, Journal
from toolkit.live.options_config import (
    LegRules,
    PricePolicy,
    load_option_config,
    parse_option_config,
)
from toolkit.live.orders import OrderSpec
from toolkit.live.summary import summarize
from toolkit.options.templates import Leg
from toolkit.options.templates import Spread as Template


def _put(k: float, delta: float, bid: float, ask: float, con_id: int | None = None) -> OptionQuote:
    return OptionQuote(
        con_id=con_id or int(k),
        symbol=f"SPXW  180228P0{int(k)}000",
        underlying="SPX",
        right="P",
        strike=k,
        expiry="20180228",
        multiplier=100.0,
        bid=bid,
        ask=ask,
        delta=delta,
        vega=-delta * 3.0,
    )


CHAIN = [
    _put(2600.0, -0.10, 4.0, 4.4),
    _put(2625.0, -0.13, 5.0, 5.4),
    _put(2650.0, -0.17, 6.6, 7.0),
    _put(2675.0, -0.22, 8.4, 8.8),
    _put(2700.0, -0.28, 10.8, 11.2),
    _put(2690.0, -0.25, math.nan, math.nan),  # one-sided: never chosen
]


def test_shipped_config_reads_and_bad_keys_name_the_key(tmp_path: Path) -> None:
    cfg = load_option_config(REPO / "live" / "options_paper.toml")
    assert cfg.embedded and cfg.connection.host is None  # paper/simulator by default
    assert cfg.strategy.template in ("put_credit_vertical", "iron_condor")
    assert cfg.risk.options.max_loss_per_spread is not None
    bad = {"strategy": {"underlying": "SPX", "legs": {"dte_min": 40, "dte_max": 30}}}
    with pytest.raises(ConfigError, match=r"\[strategy.legs\] dte_min = 40 is after dte_max"):
        parse_option_config(bad, tmp_path / "x.toml")
    bad = {"strategy": {"underlying": "SPX", "template": "butterfly_of_doom"}}
    with pytest.raises(ConfigError, match=r"\[strategy\] template = 'butterfly_of_doom'"):
        parse_option_config(bad, tmp_path / "x.toml")
    bad = {"strategy": {"underlying": "SPX"}, "risk": {"max_short_vega": -1}}
    with pytest.raises(ConfigError, match=r"\[risk\] max_short_vega = -1.0 is out of range"):
        parse_option_config(bad, tmp_path / "x.toml")
    # the session tables are the stock session's parser: a bad simulator date is named
    bad = {"strategy": {"underlying": "SPX"}, "simulator": {"end": "2018-02-30"}}
    with pytest.raises(ConfigError, match=r"end = '2018-02-30' is not a date/time"):
        parse_option_config(bad, tmp_path / "x.toml")


def _leg(right: str, q: int, k: float) -> Leg:
    return Leg("SPX", right, q, k, dt.date(2018, 2, 16), 100.0)


def test_max_loss_of_a_put_credit_vertical_is_width_minus_credit() -> None:
    # short 2600 P, long 2575 P for a 5.00 credit: (25 - 5) x 100 = 2,000 at S <= 2575
    pcs = Template("vertical", (_leg("P", -1, 2600), _leg("P", 1, 2575)))
    assert spread_max_loss(pcs, -5.0) == pytest.approx(2000.0, abs=1e-9)
    # an iron condor's loss is one wing's width less the whole credit: (25 - 8) x 100
    ic = Template(
        "iron_condor",
        (_leg("P", 1, 2500), _leg("P", -1, 2525), _leg("C", -1, 2800), _leg("C", 1, 2825)),
    )
    assert spread_max_loss(ic, -8.0) == pytest.approx(1700.0, abs=1e-9)
    # a naked short call loses without bound; a debit paid is all a long call can lose
    assert math.isinf(spread_max_loss(Template("custom", (_leg("C", -1, 2800),)), -3.0))
    assert spread_max_loss(Template("custom", (_leg("C", 1, 2800),)), 3.0) == pytest.approx(300.0)


def test_expiry_and_legs_by_delta_and_width() -> None:
    rules = LegRules(short_delta=0.20, width=50.0, dte_min=20, dte_max=60, dte_target=45)
    today = dt.date(2018, 1, 3)
    assert choose_expiry(["20180131", "20180228", "20180330"], today, rules) == "20180228"
    assert choose_expiry(["20180105"], today, rules) is None
    got = select_spread(CHAIN, "put_credit_vertical", rules)
    assert isinstance(got, Spread)
    short, wing = got.legs
    assert (short.action, short.quote.strike) == ("SELL", 2675.0)  # |delta| 0.22 nearest 0.20
    assert (wing.action, wing.quote.strike) == ("BUY", 2625.0)  # 50 points further out
    # BUY combo convention: a credit is negative; mid -3.40, touch (bid sold, ask paid) -3.00
    assert got.mid == pytest.approx(5.2 - 8.6)
    assert got.touch == pytest.approx(5.4 - 8.4)
    # one spread's Greeks in position units: -(-0.22) x 100 + (-0.13) x 100 = +9 shares
    assert got.greeks().delta == pytest.approx(9.0)
    # exact max loss at a 3.40 credit: (50 - 3.40) x 100
    assert got.risk(-3.40).max_loss == pytest.approx(4660.0)
    assert select_spread(CHAIN[:1], "put_credit_vertical", rules) == (
        "no two-sided P strike within half a width of 50 beyond 2600"
    )


def test_limit_starts_at_the_mid_and_steps_to_the_touch() -> None:
    p = PricePolicy(start="mid", step=0.05, max_steps=20, tick=0.05)
    mid, touch = -3.425, -3.00  # a credit: the touch (less credit) is the dearer side
    prices = [limit_price(mid, touch, k, p) for k in range(12)]
    assert prices[0] == pytest.approx(-3.45)  # the mid, rounded away from the touch
    assert prices[1] == pytest.approx(-3.40)
    assert prices[9] == pytest.approx(-3.00) and prices[11] == pytest.approx(-3.00)  # no further
    assert limit_price(mid, touch, 3, PricePolicy(start="touch")) == pytest.approx(-3.00)
    capped = PricePolicy(step=0.05, max_steps=2, tick=0.05)
    assert limit_price(mid, touch, 5, capped) == pytest.approx(-3.35)
    # a closing order goes to the touch once its steps are used up: an exit gets done
    assert limit_price(mid, touch, 1, capped, chase=True) == pytest.approx(-3.40)
    assert limit_price(mid, touch, 2, capped, chase=True) == pytest.approx(-3.00)


def test_ledger_books_each_leg_once_and_restores(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    rules = LegRules(short_delta=0.20, width=50.0)
    spread = select_spread(CHAIN, "put_credit_vertical", rules)
    assert isinstance(spread, Spread)
    ref = "s1/pcs/SPX/20180103T2115"
    t = pd.Timestamp("2018-01-03 21:16", tz="UTC")
    with Journal(path) as j:
        j.start_session("s1", mode="simulated", account="DU1", config={})
        ledger = OptionLedger(j, "s1", OptionBook("pcs", 100_000.0), Faults.from_env({}))
        did = ledger.journal_decision(
            pd.Timestamp("2018-01-03 21:15", tz="UTC"), OPEN, price=-3.4, wanted=2, held=0,
            note="open",
        )  # fmt: skip
        spec = OrderSpec(ref, "SPX", "BUY", 2.0, "LMT", "DAY", -3.45)
        assert ledger.journal_combo(spec, spread, did)
        assert not ledger.journal_combo(spec, spread, did)  # never journaled (or sent) twice
        ex = [
            Executed(ref, "e1", "SLD", 2.0, 8.55, t, None, 2675, "OPT"),
            Executed(ref, "e2", "BOT", 2.0, 5.10, t, None, 2625, "OPT"),
            Executed(ref, "e3", "BOT", 2.0, -3.45, t, None, 28812380, "BAG"),  # the combo
        ]
        for e in ex + ex:  # a replay books nothing twice
            ledger.book_execution(e)
        ledger.book_commission(ref, "e1", 2.6)
        ledger.book_commission(ref, "e1", 2.6)
        rows = j.rows("fills", "s1")
        assert [(r["symbol"][-8:], r["side"], r["shares"], r["price"]) for r in rows] == [
            ("02675000", "SLD", 2.0, 8.55),
            ("02625000", "BOT", 2.0, 5.10),
        ]
        book = ledger.book
        assert book.held() == {2675: -2.0, 2625: 2.0}
        assert book.cash == pytest.approx(100_000.0 + 2 * 100 * (8.55 - 5.10) - 2.6)
        assert ledger.executed_units() == {ref: 2.0}
        with pytest.raises(FillConflict, match="none of its journaled legs"):
            ledger.book_execution(Executed(ref, "e9", "BOT", 1.0, 1.0, t, None, 4242, "OPT"))
    with Journal(path) as j:
        again = OptionLedger(j, "s1", OptionBook("pcs", 100_000.0), Faults.from_env({}))
        assert again.restore() == 1
        assert again.book.held() == {2675: -2.0, 2625: 2.0}
        assert again.book.cash == pytest.approx(book.cash)
        assert [c["opt_right"] for c in j.combo_legs(ref)] == ["P", "P"]
        # closed as one combo (the legs reversed): bought back at 3.00, sold at 1.00
        out = "s1/pcs/SPX/20180110T2115"
        spec = OrderSpec(out, "SPX", "BUY", 2.0, "LMT", "DAY", 2.0)
        assert again.journal_combo(spec, spread.closing(), did)
        again.book_execution(Executed(out, "x1", "BOT", 2.0, 3.00, t, None, 2675, "OPT"))
        again.book_execution(Executed(out, "x2", "SLD", 2.0, 1.00, t, None, 2625, "OPT"))
        assert again.book.held() == {}
        won = 2 * 100 * ((8.55 - 3.00) - (5.10 - 1.00))  # 290: the credit kept, in dollars
        assert again.book.realized == pytest.approx(won)
        # the status command's summary counts contracts and dollars too
        s = summarize(j, "s1")
        assert s.realized == pytest.approx(won) and s.positions == {}
        assert s.commissions == pytest.approx(2.6) and s.slippage == 0.0


def test_iron_condor_legs_and_its_exact_max_loss() -> None:
    def call(k: float, delta: float, bid: float, ask: float) -> OptionQuote:
        return OptionQuote(
            int(k) + 1, f"SPXW  180228C0{int(k)}000", "SPX", "C", k, "20180228", 100.0,
            bid, ask, delta,
        )  # fmt: skip

    chain = [
        *CHAIN,
        call(2750.0, 0.30, 9.0, 9.4),
        call(2775.0, 0.21, 5.6, 6.0),
        call(2800.0, 0.14, 3.2, 3.6),
        call(2825.0, 0.08, 1.6, 1.9),
    ]
    rules = LegRules(short_delta=0.20, width=25.0)
    ic = select_spread(chain, "iron_condor", rules)
    assert isinstance(ic, Spread)
    assert [(x.action, x.quote.right, x.quote.strike) for x in ic.legs] == [
        ("BUY", "P", 2650.0),
        ("SELL", "P", 2675.0),
        ("SELL", "C", 2775.0),
        ("BUY", "C", 2800.0),
    ]
    # credit at the mids: (8.6 - 6.8) + (5.8 - 3.4) = 4.20; max loss (25 - 4.20) x 100
    assert ic.mid == pytest.approx(-4.2)
    assert ic.risk(-4.2).max_loss == pytest.approx(2080.0)
    # the combo that closes it reverses every leg
    assert [x.action for x in ic.closing().legs] == ["SELL", "BUY", "BUY", "SELL"]


def test_a_limit_never_pays_more_than_the_spread_is_worth() -> None:
    # Feb 8 2018's end-of-day touch of the 2735/2710 put spread: 157.30 ask for the put
    # bought back, 126.60 bid for the put sold -- a 30.70 debit for what pays 25 at most
    wide = [_put(2735.0, -0.9, 145.9, 157.3), _put(2710.0, -0.85, 126.6, 136.7)]
    rules = LegRules(short_delta=0.9, width=25.0)
    pcs = select_spread(wide, "put_credit_vertical", rules)
    assert isinstance(pcs, Spread)
    back = pcs.closing()
    assert back.touch == pytest.approx(30.7)
    assert back.bounds() == pytest.approx((0.0, 25.0))
    touch = PricePolicy(start="touch")
    assert back.limit(0, touch) == pytest.approx(25.0)
    assert pcs.bounds() == pytest.approx((-25.0, 0.0))
    assert back.limit(0, PricePolicy(start="mid")) == pytest.approx(19.95)  # the mid, inside
