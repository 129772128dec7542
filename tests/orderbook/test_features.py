"""Order-book features (issue 20.3): hand-checked on sample rows, checked against independent
computations on LOBSTER's own book, causal (appending events never changes a past value),
and Stoikov's micro-price against a port of his published estimator."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.data.lobster import LobsterDay, read_lobster
from toolkit.errors import DataError
from toolkit.orderbook import (
    EventFeatures,
    event_features,
    fit_micro_price,
    interval_features,
    micro_price,
)

ORDERBOOK = Path(__file__).resolve().parents[2] / "data" / "orderbook"
SAMPLE = ORDERBOOK / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"
# line 36, the sample's first execution: 34200.275016159,4,5740544,40,5857400,-1 -- a sell
# limit order executed, i.e. a buyer-initiated trade (LOBSTER ReadMe)
FIRST_TRADE = (35, 4, -1, 1)


@pytest.fixture(scope="module")
def sample() -> LobsterDay:
    return read_lobster(SAMPLE)


@pytest.fixture(scope="module")
def features(sample: LobsterDay) -> EventFeatures:
    return event_features(sample)


def test_first_row_by_hand(features: EventFeatures) -> None:
    # book row 1: ask 585.94 x 200, bid 585.33 x 18
    assert features.mid[0] == pytest.approx((585.94 + 585.33) / 2, abs=1e-12)
    assert features.spread[0] == pytest.approx(0.61, abs=1e-12)
    assert features.size_weighted_mid[0] == pytest.approx(
        (585.33 * 200 + 585.94 * 18) / 218, abs=1e-12
    )
    # 10-level depth of row 1: asks 200+200+200+300+50+100+10+100+1160+500 = 2820,
    # bids 18+150+5+89+5+300+300+300+200+300 = 1667
    assert features.depth_imbalance[0] == pytest.approx((1667 - 2820) / (1667 + 2820), abs=1e-15)
    assert features.ofi[0] == 0 and features.log_return[0] == 0
    # row 2: a buy limit order 18 @ 585.32 under the best bid: nothing at the top changes
    assert features.ofi[1] == 0


def test_every_row_matches_formulas_on_lobsters_own_book(
    sample: LobsterDay, features: EventFeatures
) -> None:
    book = sample.book.astype(np.float64)
    ap, asz, bp, bsz = book[:, 0], book[:, 1], book[:, 2], book[:, 3]
    assert np.allclose(features.mid, (ap + bp) / 2e4, rtol=0, atol=1e-9)
    assert np.allclose(features.spread, (ap - bp) / 1e4, rtol=0, atol=1e-9)
    assert np.allclose(features.size_weighted_mid, (bp * asz + ap * bsz) / (asz + bsz) / 1e4)
    # Cont, Kukanov & Stoikov (2014) eq. (1), vectorised over LOBSTER's rows
    e = (
        (bp[1:] >= bp[:-1]) * bsz[1:]
        - (bp[1:] <= bp[:-1]) * bsz[:-1]
        - (ap[1:] <= ap[:-1]) * asz[1:]
        + (ap[1:] >= ap[:-1]) * asz[:-1]
    )
    assert np.array_equal(features.ofi[1:], e)
    asks, bids = book[:, 1:40:4][:, :3].sum(axis=1), book[:, 3:40:4][:, :3].sum(axis=1)
    three = event_features(sample, depth_levels=3)
    assert np.allclose(three.depth_imbalance, (bids - asks) / (bids + asks), atol=1e-15)
    kinds, dirs = sample.messages["type"], sample.messages["direction"]
    traded = (kinds == 4) | (kinds == 5)
    assert np.array_equal(features.trade_sign, np.where(traded, -dirs, 0))
    first = int(np.flatnonzero(traded)[0])
    assert (
        first,
        int(kinds[first]),
        int(dirs[first]),
        int(features.trade_sign[first]),
    ) == FIRST_TRADE
    with pytest.raises(DataError, match=r"depth_levels=11"):
        event_features(sample, depth_levels=11)


def test_interval_features_agree_with_pandas(features: EventFeatures) -> None:
    bins = interval_features(features, 5.0)
    frame = pd.DataFrame(
        {
            "t": features.time,
            "ofi": features.ofi,
            "r2": features.log_return**2,
            "buy": np.where(features.trade_sign > 0, features.trade_size, 0),
            "sell": np.where(features.trade_sign < 0, features.trade_size, 0),
            "mid": features.mid,
        }
    )
    frame["bin"] = np.floor((frame.t - 34200.0) / 5.0).astype(int)
    grouped = frame.groupby("bin").agg(
        ofi=("ofi", "sum"), r2=("r2", "sum"), buy=("buy", "sum"), sell=("sell", "sum"),
        mid=("mid", "last"), n=("t", "size"),
    )  # fmt: skip
    grouped = grouped.reindex(range(len(bins.end)), fill_value=0)
    assert bins.end[0] == 34205.0 and len(bins.end) == 10  # 09:30:00 to 09:30:49
    assert np.array_equal(bins.ofi, grouped.ofi.to_numpy())
    assert np.array_equal(bins.events, grouped.n.to_numpy())
    assert np.allclose(bins.realized_vol, np.sqrt(grouped.r2.to_numpy()), rtol=1e-12, atol=0)
    buy, sell = grouped.buy.to_numpy(), grouped.sell.to_numpy()
    total = np.where(buy + sell > 0, buy + sell, 1)
    assert np.allclose(bins.trade_imbalance, (buy - sell) / total)
    assert np.allclose(bins.mid, grouped.mid.to_numpy())
    assert list(bins.frame().columns)[:4] == ["ofi", "buy_volume", "sell_volume", "trade_imbalance"]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 998))
def test_features_are_causal(cut: int) -> None:
    """The features of the first ``cut`` events do not change when the rest are appended."""
    full = _SAMPLE_FEATURES()
    day = _SAMPLE_DAY()
    head = LobsterDay(day.symbol, day.date, day.levels, day.messages[:cut], day.book[:cut])
    part = event_features(head)
    for name in ("mid", "spread", "size_weighted_mid", "depth_imbalance", "ofi", "log_return"):
        assert np.array_equal(getattr(part, name), getattr(full, name)[:cut]), name
    assert np.array_equal(part.trade_sign, full.trade_sign[:cut])
    model = fit_micro_price(_SAMPLE_FEATURES(), tick=500, n_spread=20, n_imbalance=4)
    assert np.array_equal(micro_price(part, model), micro_price(full, model)[:cut], equal_nan=True)
    # interval values of bins that ended before the cut's last event are final
    whole, cut_bins = interval_features(full, 2.0), interval_features(part, 2.0)
    done = cut_bins.end <= part.time[-1]
    for name in ("ofi", "realized_variance", "trade_imbalance", "mid", "depth_imbalance"):
        assert np.array_equal(
            getattr(cut_bins, name)[done], getattr(whole, name)[: len(done)][done]
        ), name


_CACHE: dict[str, object] = {}


def _SAMPLE_DAY() -> LobsterDay:  # noqa: N802 - a cached constant for the hypothesis test
    if "day" not in _CACHE:
        _CACHE["day"] = read_lobster(SAMPLE)
    day = _CACHE["day"]
    assert isinstance(day, LobsterDay)
    return day


def _SAMPLE_FEATURES() -> EventFeatures:  # noqa: N802
    if "features" not in _CACHE:
        _CACHE["features"] = event_features(_SAMPLE_DAY())
    features = _CACHE["features"]
    assert isinstance(features, EventFeatures)
    return features


def _stoikov_reference(t: pd.DataFrame, n_imb: int, tick: float) -> np.ndarray:
    """Port of Stoikov's published estimator (github.com/sstoikov/microprice, one spread
    state): pandas pivots of the symmetrised (imbalance bucket, next bucket, mid move) data,
    G1 = (I-Q)^-1 R1 K, B = (I-Q)^-1 R2, g* = sum B^k G1."""
    t = t.copy()
    t["mid"] = (t.bid + t.ask) / 2
    t["imb"] = t.bs / (t.bs + t["as"])
    t["imb_bucket"] = np.minimum((t.imb * n_imb).astype(int), n_imb - 1)
    t["next_mid"] = t.mid.shift(-1)
    t["next_imb_bucket"] = t.imb_bucket.shift(-1)
    t = t.dropna()
    t["dM"] = np.round((t.next_mid - t.mid) / tick * 2) * tick / 2
    t = t[(t.dM <= tick * 1.1) & (t.dM >= -tick * 1.1)]
    mirror = t.copy()
    mirror["imb_bucket"] = n_imb - 1 - mirror.imb_bucket
    mirror["next_imb_bucket"] = n_imb - 1 - mirror.next_imb_bucket
    mirror["dM"] = -mirror.dM
    t = pd.concat([t, mirror])
    t["next_imb_bucket"] = t.next_imb_bucket.astype(int)
    q_counts = np.zeros((n_imb, n_imb))
    still = t[t.dM == 0].pivot_table(
        index="imb_bucket", columns="next_imb_bucket", values="mid", aggfunc="count", fill_value=0
    )
    q_counts[np.ix_(still.index, still.columns)] = still.to_numpy()
    moves = t[t.dM != 0]
    r1_counts = np.zeros((n_imb, 4))
    piv = moves.pivot_table(index="imb_bucket", columns="dM", values="mid", aggfunc="count")
    piv = piv.fillna(0)
    for col in piv.columns:
        r1_counts[piv.index, [-tick, -tick / 2, tick / 2, tick].index(col)] = piv[col].to_numpy()
    r2_counts = np.zeros((n_imb, n_imb))
    piv2 = moves.pivot_table(
        index="imb_bucket", columns="next_imb_bucket", values="mid", aggfunc="count", fill_value=0
    )
    r2_counts[np.ix_(piv2.index, piv2.columns)] = piv2.to_numpy()
    rows = (q_counts.sum(1) + r1_counts.sum(1))[:, None]
    q, r1, r2 = q_counts / rows, r1_counts / rows, r2_counts / rows
    k = np.array([-tick, -tick / 2, tick / 2, tick])
    inv = np.linalg.inv(np.eye(n_imb) - q)
    g1 = inv @ r1 @ k
    b = inv @ r2
    g, term = g1.copy(), g1.copy()
    for _ in range(10_000):
        term = b @ term
        g += term
    return g


def test_micro_price_matches_stoikovs_estimator() -> None:
    day = read_lobster(ORDERBOOK / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip")
    ev = event_features(day)
    tick = 2000  # 20 cents: GOOG's one-cent spread is rare, so the chain counts in 20c units
    model = fit_micro_price(ev, tick=tick, n_spread=1, n_imbalance=6)
    # the reference on the same samples: quote changes with a one-unit spread
    quotes = pd.DataFrame(
        {"bid": ev.best_bid, "ask": ev.best_ask, "bs": ev.bid_size, "as": ev.ask_size}
    ).astype(float)
    changed = quotes.ne(quotes.shift()).any(axis=1)
    quotes = quotes[changed]
    quotes = quotes[np.rint((quotes.ask - quotes.bid) / tick) == 1]
    reference = _stoikov_reference(quotes, 6, float(tick)) / 1e4
    assert np.allclose(model.adjustment[0], reference, rtol=1e-9, atol=1e-12)
    g = model.adjustment[0]
    assert np.allclose(g, -g[::-1], atol=1e-15)  # symmetrised: g*(I) = -g*(1 - I)
    assert g[0] < 0 < g[-1]  # a heavy bid pushes the micro-price above the mid
    price = micro_price(ev, model)
    covered = np.isfinite(price)
    assert covered.any() and not covered.all()
    # named apart: Stoikov's micro-price is not the size-weighted mid
    assert not np.allclose(price[covered], ev.size_weighted_mid[covered])


def test_a_chain_that_never_sees_the_mid_move_is_a_one_line_error(
    features: EventFeatures,
) -> None:
    """On the 999-event sample few quote changes have a one-cent spread: some (spread,
    imbalance) state only ever returns to itself with the mid unchanged, so I - Q is singular.
    Before, numpy's LinAlgError ('Singular matrix') came out as a traceback."""
    with pytest.raises(DataError) as raised:
        fit_micro_price(features, n_spread=1, n_imbalance=10)
    text = str(raised.value)
    assert "\n" not in text and "never sees the mid move" in text, text
    assert re.search(r"spread 1 tick, imbalance bucket \d+ of 10", text), text
