"""Level-2 replay speed (issue 20.7): our numba replay + per-event features against hftbacktest
on the same LOBSTER messages, in the same process.

Workloads: the shipped 999-event AAPL sample repeated ``REPS`` times (the book is reset to the
sample's first row at each repetition) and the full GOOG level-10 and AAPL level-1 days (each
replayed ``DAY_REPS`` times per run).
Throughput is LOBSTER messages per second of the timed loop (data loading and event-array
building excluded on both sides).

* ours, replay + features: ``replay_features_nb`` -- applies each message to the book, refills
  levels entering from beyond the depth, computes mid, spread, size-weighted mid, depth
  imbalance over all levels, Cont-Kukanov-Stoikov OFI, log return and trade sign per event;
* ours, replay + exact check: ``replay_nb`` -- rebuilds every row and compares all 4L columns
  with LOBSTER's book (what the exact-replay test runs);
* hftbacktest, replay: its L2 market-by-price backtest (HashMapMarketDepthBacktest, no
  orders) elapsed to the end of the data;
* hftbacktest, replay + features: ``wait_next_feed`` after every event and the same top-of-book
  features from its depth (best bid/ask and their quantities).

hftbacktest is fed one depth event per LOBSTER book event (the level's new total at that
price, from LOBSTER's book row), a trade event per execution and a depth event for each level
entering from beyond the depth; each repetition starts with a depth clear and the first book
row as depth events. Its rebuilt best bid/ask is checked against LOBSTER's on every message.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from toolkit.data.lobster import LobsterDay, read_lobster
from toolkit.orderbook._features_nb import N_FEATURES, replay_features_nb
from toolkit.orderbook._replay import replay_nb

SAMPLE = "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"
DAYS = ("LOBSTER_SampleFile_GOOG_2012-06-21_10.zip", "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip")
REPS = int(os.environ.get("ORDERBOOK_BENCH_REPS", "500"))
RUNS = int(os.environ.get("ORDERBOOK_BENCH_RUNS", "7"))
DAY_REPS = int(os.environ.get("ORDERBOOK_BENCH_DAY_REPS", "3"))


@nb.njit(cache=True)
def _ours_features(
    kinds: Any, sizes: Any, prices: Any, dirs: Any, book: Any, reps: int, out: Any, signs: Any,
    trade_sizes: Any,
) -> int:  # fmt: skip
    depth = book.shape[1] // 4
    refills = 0
    for _ in range(reps):
        refills += replay_features_nb(
            kinds, sizes, prices, dirs, book, depth, out, signs, trade_sizes
        )
    return refills


@nb.njit(cache=True)
def _ours_exact(kinds: Any, sizes: Any, prices: Any, dirs: Any, book: Any, reps: int) -> int:
    n = kinds.shape[0]
    out = np.empty_like(book)
    refilled = np.zeros(n, dtype=np.bool_)
    differs = np.zeros(n, dtype=np.bool_)
    bad = 0
    for _ in range(reps):
        replay_nb(kinds, sizes, prices, dirs, book, out, refilled, differs)
        bad += differs.sum()
    return bad


@nb.njit(cache=True)
def _diff_events(
    book: Any, ts: Any, kinds: Any, prices: Any, sizes: Any, dirs: Any, flags: Any
) -> tuple[Any, Any, Any, Any]:
    """hftbacktest L2 events of one pass over the day: the first row as depth events, then per
    message its trade (types 4, 5) and a depth event for every price level whose size changed
    between LOBSTER's book rows (0 = the level left the visible book)."""
    n, width = book.shape
    levels = width // 4
    depth, trade, clear, buy, sell, both = (
        flags[0],
        flags[1],
        flags[2],
        flags[3],
        flags[4],
        flags[5],
    )
    cap = 1 + width + n * (1 + width)
    ev = np.empty(cap, dtype=np.uint64)
    at = np.empty(cap, dtype=np.int64)
    px = np.empty(cap)
    qty = np.empty(cap)
    m = 0
    ev[m], at[m], px[m], qty[m] = clear | both, ts[0], 0.0, 0.0
    m += 1
    for k in range(levels):
        for off in (0, 2):
            p = book[0, 4 * k + off]
            if abs(p) < 9_999_999_999:
                ev[m] = depth | both | (sell if off == 0 else buy)
                at[m], px[m], qty[m] = ts[0], p / 1e4, book[0, 4 * k + off + 1]
                m += 1
    for i in range(1, n):
        if kinds[i] == 4 or kinds[i] == 5:
            ev[m] = trade | both | (sell if dirs[i] == 1 else buy)  # initiator: the other side
            at[m], px[m], qty[m] = ts[i], prices[i] / 1e4, sizes[i]
            m += 1
        for off in (0, 2):
            side = sell if off == 0 else buy
            for k in range(levels):  # new or changed levels
                p = book[i, 4 * k + off]
                q = book[i, 4 * k + off + 1]
                if abs(p) >= 9_999_999_999:
                    break
                same = False
                for j in range(levels):
                    if book[i - 1, 4 * j + off] == p:
                        same = book[i - 1, 4 * j + off + 1] == q
                        break
                if not same:
                    ev[m], at[m], px[m], qty[m] = depth | both | side, ts[i], p / 1e4, q
                    m += 1
            for j in range(levels):  # levels that left the visible book
                p = book[i - 1, 4 * j + off]
                if abs(p) >= 9_999_999_999:
                    break
                gone = True
                for k in range(levels):
                    if book[i, 4 * k + off] == p:
                        gone = False
                        break
                if gone:
                    ev[m], at[m], px[m], qty[m] = depth | both | side, ts[i], p / 1e4, 0.0
                    m += 1
    return ev[:m], at[:m], px[:m], qty[:m]


def hftbacktest_events(day: LobsterDay, reps: int) -> np.ndarray:
    """The day's messages as hftbacktest L2 events, ``reps`` times (1 s apart, each pass
    starting with a depth clear and the first book row)."""
    from hftbacktest import (
        BUY_EVENT,
        DEPTH_CLEAR_EVENT,
        DEPTH_EVENT,
        EXCH_EVENT,
        LOCAL_EVENT,
        SELL_EVENT,
        TRADE_EVENT,
    )
    from hftbacktest.binding import event_dtype

    msgs = day.messages
    ts = np.rint(msgs["time"] * 1e9).astype(np.int64)
    flags = np.array(
        [DEPTH_EVENT, TRADE_EVENT, DEPTH_CLEAR_EVENT, BUY_EVENT, SELL_EVENT,
         EXCH_EVENT | LOCAL_EVENT],
        dtype=np.uint64,
    )  # fmt: skip
    ev, at, px, qty = _diff_events(
        np.ascontiguousarray(day.book), ts, np.ascontiguousarray(msgs["type"]),
        np.ascontiguousarray(msgs["price"]), np.ascontiguousarray(msgs["size"]),
        np.ascontiguousarray(msgs["direction"]), flags,
    )  # fmt: skip
    one = np.zeros(len(ev), dtype=event_dtype)
    one["ev"], one["exch_ts"], one["local_ts"], one["px"], one["qty"] = ev, at, at, px, qty
    span = int(ts[-1] - ts[0]) + 1_000_000_000
    out = np.concatenate([one] * reps)
    shift = np.repeat(np.arange(reps, dtype=np.int64) * span, len(one))
    out["exch_ts"] += shift
    out["local_ts"] += shift
    return out


def _hbt(events: np.ndarray) -> Any:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    asset = (
        BacktestAsset()
        .data(events)
        .linear_asset(1.0)
        .constant_order_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(0.01)
        .lot_size(1.0)
        .last_trades_capacity(0)
    )
    return HashMapMarketDepthBacktest([asset])


@nb.njit
def _hbt_replay(hbt: Any) -> int:
    steps = 0
    while hbt.elapse(3_600_000_000_000) == 0:
        steps += 1
    return steps


@nb.njit
def _hbt_features(hbt: Any, out: Any) -> int:
    """Per feed: mid, spread, size-weighted mid, OFI from hftbacktest's top of book."""
    i = 0
    pbb = 0.0
    pba = 0.0
    pbq = 0.0
    paq = 0.0
    while True:
        code = hbt.wait_next_feed(False, 3_600_000_000_000)
        if code == 1:
            break
        if code != 2:
            continue
        depth = hbt.depth(0)
        bb = depth.best_bid
        ba = depth.best_ask
        bq = depth.best_bid_qty
        aq = depth.best_ask_qty
        if i < out.shape[0]:
            out[i, 0] = 0.5 * (bb + ba)
            out[i, 1] = ba - bb
            out[i, 2] = (bb * aq + ba * bq) / (aq + bq) if aq + bq > 0 else np.nan
            e = 0.0
            if bb >= pbb:
                e += bq
            if bb <= pbb:
                e -= pbq
            if ba <= pba:
                e -= aq
            if ba >= pba:
                e += paq
            out[i, 3] = e
            out[i, 4] = bb
            out[i, 5] = ba
            out[i, 6] = hbt.current_timestamp
        pbb, pba, pbq, paq = bb, ba, bq, aq
        i += 1
    return i


def _timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of ``runs`` calls (the CPU time shows the work
    when other processes share the cores)."""
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def _rate(messages: int, times: tuple[list[float], list[float]]) -> str:
    wall, cpu = times
    return (
        f"{messages / min(wall) / 1e6:6.2f} / {messages / statistics.median(wall) / 1e6:6.2f} M/s "
        f"wall (best / median), {messages / min(cpu) / 1e6:6.2f} / "
        f"{messages / statistics.median(cpu) / 1e6:6.2f} M/s CPU"
    )


def _columns(day: LobsterDay) -> tuple[np.ndarray, ...]:
    m = day.messages
    return (
        np.ascontiguousarray(m["type"]), np.ascontiguousarray(m["size"]),
        np.ascontiguousarray(m["price"]), np.ascontiguousarray(m["direction"]),
        np.ascontiguousarray(day.book),
    )  # fmt: skip


def _check_hbt_top(day: LobsterDay, feats: np.ndarray, feeds: int) -> tuple[int, int]:
    """(wrong, compared): messages of the first repetition, each the last at its timestamp,
    after which hftbacktest's best bid/ask is not LOBSTER's."""
    stamps = feats[:feeds, 6].astype(np.int64)
    msg_ts = np.rint(day.messages["time"] * 1e9).astype(np.int64)
    last_at_ts = np.append(msg_ts[1:] != msg_ts[:-1], True)
    last = np.searchsorted(stamps, msg_ts, side="right") - 1
    bb, ba = np.rint(feats[last, 4] * 1e4), np.rint(feats[last, 5] * 1e4)
    wrong = ((bb != day.book[:, 2]) | (ba != day.book[:, 0])) & last_at_ts
    return int(wrong.sum()), int(last_at_ts.sum())


def _workload(label: str, day: LobsterDay, reps: int, runs: int) -> tuple[float, float]:
    cols = _columns(day)
    messages = len(day) * reps
    n = len(day)
    outs = (np.empty((n, N_FEATURES)), np.zeros(n, dtype=np.int8), np.zeros(n, dtype=np.int64))
    _ours_features(*cols, 1, *outs)  # compile / load the cache outside the timing
    _ours_exact(*cols, 1)
    ours = _timed(lambda: _ours_features(*cols, reps, *outs), runs)
    exact = _timed(lambda: _ours_exact(*cols, reps), runs)
    t = time.perf_counter()
    events = hftbacktest_events(day, reps)
    build = time.perf_counter() - t
    warm = hftbacktest_events(
        LobsterDay(day.symbol, day.date, day.levels, day.messages[:50], day.book[:50]), 1
    )
    _hbt_replay(_hbt(warm))
    _hbt_features(_hbt(warm), np.empty((len(warm), 7)))
    hbt_replay: tuple[list[float], list[float]] = ([], [])
    hbt_feats: tuple[list[float], list[float]] = ([], [])
    feeds = 0
    out = np.empty((len(events), 7))
    for _ in range(runs):
        for timed, run in ((hbt_replay, _hbt_replay), (hbt_feats, _hbt_features)):
            hbt = _hbt(events)
            t, c = time.perf_counter(), time.process_time()
            done = run(hbt) if run is _hbt_replay else run(hbt, out)
            timed[0].append(time.perf_counter() - t)
            timed[1].append(time.process_time() - c)
            hbt.close()
            if run is _hbt_features:
                feeds = done
    wrong = _check_hbt_top(day, out, feeds)
    print(
        f"{label}: {len(day):,} messages x {reps} = {messages:,} "
        f"({len(events):,} hftbacktest events, {feeds:,} feeds; event array built in {build:.1f} s)"
    )
    print(f"  ours        replay + features   {_rate(messages, ours)}")
    print(f"  ours        replay + exact check {_rate(messages, exact)}")
    print(f"  hftbacktest replay              {_rate(messages, hbt_replay)}")
    print(f"  hftbacktest replay + features   {_rate(messages, hbt_feats)}")
    ratio_best = min(hbt_feats[0]) / min(ours[0])
    ratio_med = statistics.median(hbt_feats[0]) / statistics.median(ours[0])
    ratio_cpu = statistics.median(hbt_feats[1]) / statistics.median(ours[1])
    print(
        f"  ours / hftbacktest (both with features): {ratio_best:.1f}x (best) "
        f"{ratio_med:.1f}x (median), {ratio_cpu:.1f}x (median CPU); hftbacktest's best "
        "bid/ask differs from LOBSTER's after "
        f"{wrong[0]} of {wrong[1]:,} timestamps of the first repetition"
    )
    return messages / min(ours[0]), messages / statistics.median(ours[0])


def main() -> None:
    load = os.getloadavg()
    print(
        f"order book replay ({RUNS} runs each; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}, {os.cpu_count()} cores)"
    )
    _workload(f"{SAMPLE} repeated", read_lobster(SAMPLE), REPS, RUNS)
    for name in DAYS:
        _workload(name, read_lobster(name), DAY_REPS, RUNS)
    print(f"(uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()})")


if __name__ == "__main__":
    main()
