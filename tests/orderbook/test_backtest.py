"""Event-level market making: a 12-event day whose fills, fees and P&L are worked out by hand
(with and without the order latency that moves our quotes behind a newcomer), the signal's
causality, and GOOG's level-10 day reported like a bar backtest."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from tests.orderbook._days import goog10
from toolkit.data.lobster import MESSAGE_DTYPE, LobsterDay
from toolkit.errors import ConfigError
from toolkit.orderbook.backtest import MarketMaking, backtest_book, imbalance_signal

BID, ASK = 1_000_000, 1_000_100  # $100.00 / $100.01

# (time, type, id, size, price, direction, ask size, bid size after it); ids 1 (bid, 300)
# and 2 (ask, 200) rest from before the file, so their reference numbers are the smallest
HAND = [
    (1.000, 1, 10, 50, ASK, -1, 250, 300),
    (1.001, 1, 11, 50, BID, 1, 250, 350),  # our quotes join after this: 350 / 250 ahead
    (1.010, 4, 1, 300, BID, 1, 250, 50),
    (1.020, 4, 11, 30, BID, 1, 250, 20),
    (1.030, 1, 12, 200, BID, 1, 250, 220),  # behind our bid
    (1.040, 4, 11, 20, BID, 1, 250, 200),  # nothing ahead of our bid now
    (1.050, 4, 12, 60, BID, 1, 250, 140),  # -> we buy 60 at 100.00
    (1.060, 4, 12, 40, BID, 1, 250, 100),  # -> we buy 40: 100 long, the limit
    (1.070, 4, 2, 200, ASK, -1, 50, 100),
    (1.080, 1, 13, 100, ASK, -1, 150, 100),  # behind our ask
    (1.090, 4, 10, 50, ASK, -1, 100, 100),
    (1.100, 4, 13, 30, ASK, -1, 70, 100),  # -> we sell 30 at 100.01
]

CFG = MarketMaking(
    quote_size=100,
    max_position=100,
    threshold=0.5,
    feed_latency=0.001,
    order_latency=0.001,
    maker_fee=-0.002,
    taker_fee=0.003,
    init_cash=10_000.0,
)


def _day() -> LobsterDay:
    msgs = np.array([e[:6] for e in HAND], dtype=MESSAGE_DTYPE)
    book = np.array([[ASK, e[6], BID, e[7]] for e in HAND], dtype=np.int64)
    return LobsterDay("TEST", date(2012, 6, 21), 1, msgs, book)


def test_fills_fees_and_pnl_match_the_hand_computed_day():
    run = backtest_book(_day(), CFG, signal=np.zeros(len(HAND)))
    f = run.fills
    assert f["event"].tolist() == [6, 7, 11, 11]
    assert f["side"].tolist() == ["BUY", "BUY", "SELL", "SELL"]
    assert f["quantity"].tolist() == [60, 40, 30, 70]
    assert f["price"].tolist() == pytest.approx([100.00, 100.00, 100.01, 100.00])
    assert f["liquidity"].tolist() == ["maker", "maker", "maker", "taker"]
    # rebates 0.002 x 60, 40, 30; the close-out of 70 into the 100.00 bid pays 0.003 x 70
    assert f["fee"].tolist() == pytest.approx([-0.12, -0.08, -0.06, 0.21])
    # equity after event 6: cash 10,000 - 6,000 + 0.12 and 60 shares at the 100.005 mid
    assert run.equity.iloc[6] == pytest.approx(10_000 - 6_000 + 0.12 + 60 * 100.005)
    # bought 100 at 100.00, sold 30 at 100.01 and 70 at 100.00: +0.30, fees -0.05 net
    m = run.result.metrics()
    assert m["final_equity"] == pytest.approx(10_000.35)
    assert m["total_return"] == pytest.approx(0.35 / 10_000)
    assert m["trades"] == 1 and m["win_rate"] == 1.0
    assert m["avg_trade_pnl"] == pytest.approx(0.35)
    assert m["commissions"] == pytest.approx(-0.05)
    trade = run.result.trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(100.0)
    assert trade["exit_price"] == pytest.approx((30 * 100.01 + 70 * 100.0) / 100)
    assert run.result.positions.iloc[-1, 0] == 0


def test_order_latency_puts_our_quotes_behind_the_newcomer():
    # 35 ms on the way: the quotes decided at 1.000 arrive at 1.035, after order 12 joined
    # the bid (220 ahead, only 200 more ever trade: no buy); the ask still meets the 30
    slow = replace(CFG, feed_latency=0.0, order_latency=0.035)
    run = backtest_book(_day(), slow, signal=np.zeros(len(HAND)))
    f = run.fills
    assert f["event"].tolist() == [11, 11]
    assert f["side"].tolist() == ["SELL", "BUY"]
    assert f["quantity"].tolist() == [30, 30]
    # sold 30 at 100.01 (rebate 0.06), bought back at the 100.01 ask (fee 0.09)
    assert run.result.metrics()["final_equity"] == pytest.approx(10_000 - 0.03)


def test_the_signal_pulls_the_side_about_to_be_run_over_and_the_limit_holds():
    # buyers press (+1 beyond the 0.5 threshold): no ask is quoted; the bid buys 100, which
    # is closed into the bid at the end: -0.10 (rebate 0.20, fee 0.30)
    run = backtest_book(_day(), CFG, signal=np.ones(len(HAND)))
    assert run.fills["side"].tolist() == ["BUY", "BUY", "SELL"]
    assert run.result.metrics()["final_equity"] == pytest.approx(10_000 - 0.10)
    capped = backtest_book(_day(), replace(CFG, max_position=50), signal=np.zeros(len(HAND)))
    assert capped.fills["quantity"].tolist()[0] == 50  # the bid's 60 cut at the limit
    assert np.abs(capped.result.positions.to_numpy()).max() <= 50


def _first(day: LobsterDay, n: int) -> LobsterDay:
    return replace(day, messages=day.messages[:n], book=day.book[:n])


def test_the_imbalance_signal_is_causal_and_is_the_books_depth_imbalance():
    day = _first(goog10(), 20_000)
    full = imbalance_signal(day, 3)
    for cut in (1, 777, 12_345):
        assert np.array_equal(imbalance_signal(_first(day, cut), 3), full[:cut], equal_nan=True)
    bid = day.book[:, [3, 7, 11]].sum(axis=1)
    ask = day.book[:, [1, 5, 9]].sum(axis=1)
    assert full == pytest.approx((bid - ask) / (bid + ask), abs=1e-12)


def test_googs_day_is_reported_like_a_bar_backtest():
    run = backtest_book(goog10(), MarketMaking(max_position=300))
    res = run.result
    bar_keys = {"total_return", "sharpe", "max_drawdown", "trades", "win_rate", "final_equity"}
    assert bar_keys <= set(res.metrics())
    assert len(res.equity) == pytest.approx(6.5 * 3600, abs=2)  # one mark a second
    assert np.abs(run.fills.groupby("event")["quantity"].sum()).max() > 0
    pos = np.cumsum(np.where(run.fills["side"] == "BUY", 1, -1) * run.fills["quantity"])
    assert np.abs(pos).max() <= 300 and pos.iloc[-1] == 0
    assert (run.fills["liquidity"] == "maker").sum() == len(run.fills) - 1
    # the equity is the cash of the fills plus the last mark: the books balance
    signed = np.where(run.fills["side"] == "BUY", 1, -1) * run.fills["quantity"]
    cash = run.config.init_cash - (signed * run.fills["price"]).sum() - run.fills["fee"].sum()
    assert res.equity.iloc[-1] == pytest.approx(cash)
    assert res.metrics()["commissions"] == pytest.approx(run.fills["fee"].sum())


# A second day: the touch moves, so quotes are cancelled and re-placed at the back of the new
# level. Pre-file orders: id 1 (bid 300 at 100.00), id 2 (ask 200 at 100.03).
MOVES = [
    (1.000, 1, 10, 100, 1_000_000, 1, 200, 1_000_300, 400, 1_000_000),
    (1.010, 1, 11, 50, 1_000_100, 1, 200, 1_000_300, 50, 1_000_100),  # a better bid: we follow
    (1.020, 1, 12, 70, 1_000_100, 1, 200, 1_000_300, 120, 1_000_100),  # behind our new bid
    (1.030, 4, 11, 50, 1_000_100, 1, 200, 1_000_300, 70, 1_000_100),
    (1.040, 4, 12, 30, 1_000_100, 1, 200, 1_000_300, 40, 1_000_100),  # -> buy 30 at 100.01
    (1.050, 1, 13, 20, 1_000_200, -1, 20, 1_000_200, 40, 1_000_100),  # a better ask: we follow
    (1.060, 3, 13, 20, 1_000_200, -1, 200, 1_000_300, 40, 1_000_100),  # ours alone at 100.02
    (1.061, 1, 14, 40, 1_000_200, 1, 200, 1_000_300, 40, 1_000_200),  # -> through us: sell 40
    (1.080, 4, 14, 40, 1_000_200, 1, 200, 1_000_300, 40, 1_000_100),  # our new bid 100.02: front
    (1.081, 5, 0, 25, 1_000_200, 1, 200, 1_000_300, 40, 1_000_100),  # -> hidden: buy 25 (L3)
]


def _moves() -> LobsterDay:
    msgs = np.array([e[:6] for e in MOVES], dtype=MESSAGE_DTYPE)
    book = np.array([[e[7], e[6], e[9], e[8]] for e in MOVES], dtype=np.int64)
    return LobsterDay("TEST", date(2012, 6, 21), 1, msgs, book)


def test_quotes_follow_the_touch_to_the_back_of_the_queue_and_the_queue_model_matters():
    run = backtest_book(_moves(), CFG, signal=np.zeros(len(MOVES)))
    f = run.fills
    # the bid moved to 100.01 behind order 11's 50 only: order 12, behind us, filled us;
    # the ask moved to 100.02 and was traded through by a buyer at 100.02; the bid then
    # moved to 100.02 behind order 14 (40), which was executed, so the hidden 25 are ours
    assert f["event"].tolist() == [4, 7, 9, 9]
    assert f["side"].tolist() == ["BUY", "SELL", "BUY", "SELL"]
    assert f["quantity"].tolist() == [30, 40, 25, 15]
    assert f["price"].tolist() == pytest.approx([100.01, 100.02, 100.02, 100.01])
    assert f["fee"].tolist() == pytest.approx([-0.06, -0.08, -0.05, 0.045])
    m = run.result.metrics()
    # -3,000.30 + 4,000.80 - 2,500.50 + 1,500.15 = +0.15; fees -0.145 net
    assert m["final_equity"] == pytest.approx(10_000.295)
    # round trips: long 30 (+0.30 + 0.12 rebates), short 10 (0 + 0.04), long 15 (-0.15 -
    # 0.015 net fee): the engine's trade records split a flip's fee by quantity
    assert run.result.trades["pnl"].tolist() == pytest.approx([0.42, 0.04, -0.165])
    # the risk-averse L2 model sees no hidden prints: no buy of 25, the short 10 is bought
    # back at the 100.03 ask (fee 0.03)
    ra = backtest_book(_moves(), replace(CFG, queue_model="risk_averse"), signal=np.zeros(10))
    assert ra.fills["quantity"].tolist() == [30, 40, 10]
    assert ra.result.metrics()["final_equity"] == pytest.approx(10_000 + 0.20 + 0.14 - 0.03)
    seen = replace(CFG, queue_model="risk_averse", hidden_prints=True)
    assert backtest_book(_moves(), seen, signal=np.zeros(10)).fills["quantity"].tolist() == [
        30,
        40,
        25,
        15,
    ]


# A halt: order 11 joins the ask while trading is halted; our ask, pulled by the halt and
# placed again once trading resumes, is behind it (left in the book it would be ahead and
# be filled by the execution of order 11)
HALT = [
    (1.000, 1, 10, 100, BID, 1, 200, 400),
    (1.010, 7, 0, 0, -1, -1, 200, 400),  # trading halted
    (1.020, 1, 11, 100, ASK, -1, 300, 400),
    (1.030, 7, 0, 0, 1, -1, 300, 400),  # trading resumes
    (1.040, 4, 2, 200, ASK, -1, 100, 400),
    (1.050, 4, 11, 100, ASK, -1, 0, 400),
]


def test_a_halt_pulls_the_quotes_which_rejoin_at_the_back_when_trading_resumes():
    msgs = np.array([e[:6] for e in HALT], dtype=MESSAGE_DTYPE)
    rows = [[ASK, e[6], BID, e[7]] if e[6] else [ASK + 100, 500, BID, e[7]] for e in HALT]
    day = LobsterDay("TEST", date(2012, 6, 21), 1, msgs, np.array(rows, dtype=np.int64))
    run = backtest_book(day, CFG, signal=np.zeros(len(HALT)))
    assert run.fills.empty
    assert run.result.metrics()["final_equity"] == CFG.init_cash


def test_a_quote_that_would_cross_on_arrival_is_refused_post_only():
    # the bid decided at 100.01 arrives (35 ms later) when 100.01 is the ask: refused, so the
    # seller at 100.01 that follows does not fill it
    events = [
        (1.000, 1, 10, 10, BID + 100, 1, 200, 10),  # best bid 100.01 (10), ask 100.02
        (1.010, 3, 10, 10, BID + 100, 1, 200, 300),  # gone: best bid 100.00 (300)
        (1.012, 1, 11, 50, BID + 100, -1, 50, 300),  # best ask 100.01 (50)
        (1.040, 1, 12, 100, BID + 100, -1, 150, 300),
    ]
    msgs = np.array([e[:6] for e in events], dtype=MESSAGE_DTYPE)
    asks = [ASK + 100, ASK + 100, BID + 100, BID + 100]
    bids = [BID + 100, BID, BID, BID]
    rows = [[a, e[6], b, e[7]] for a, b, e in zip(asks, bids, events, strict=True)]
    day = LobsterDay("TEST", date(2012, 6, 21), 1, msgs, np.array(rows, dtype=np.int64))
    slow = replace(CFG, feed_latency=0.0, order_latency=0.035)
    run = backtest_book(day, slow, signal=np.zeros(len(events)))
    assert run.fills.empty  # the ask (100.02) rests behind 200; the bid never went in
    # 5 ms: the bid is in at 100.01 before order 10 leaves, and the move down to 100.00
    # arrives after the seller at 100.01, who trades through it
    fast = backtest_book(day, replace(CFG, feed_latency=0.0, order_latency=0.005),
                         signal=np.zeros(len(events)))  # fmt: skip
    assert fast.fills["event"].tolist()[:1] == [2]
    assert fast.fills["side"].tolist()[:1] == ["BUY"]
    assert fast.fills["quantity"].tolist()[:1] == [50]


def test_a_bad_setting_is_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"queue_model 'fifo' is not one of l3, risk_averse"):
        MarketMaking(queue_model="fifo")
    with pytest.raises(ConfigError, match=r"threshold must lie in \[0, 1\], got 1.5"):
        MarketMaking(threshold=1.5)
    with pytest.raises(ConfigError, match=r"order_latency must be >= 0 seconds, got -0.001"):
        MarketMaking(order_latency=-0.001)
    with pytest.raises(ConfigError, match=r"signal must have one value per event \(12\)"):
        backtest_book(_day(), CFG, signal=np.zeros(3))
