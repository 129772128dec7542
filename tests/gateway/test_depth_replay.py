"""A LOBSTER day replayed through the simulator's reqMktDepth and reqMktData (issue 20.6): the
real ib_async client, over TCP, holds LOBSTER's book on every level after every checked event,
and its bid/ask/last/volume ticks are the book's touch and the executions."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ib_async")
from ib_async import IB, Stock

import toolkit as tk
from toolkit.errors import ToolkitError
from toolkit.gateway import Gateway
from toolkit.gateway import messages as m
from toolkit.gateway.depth_replay import (
    PRICE_SCALE,
    TRADES,
    DepthReplay,
    ReplayQuotes,
    ReplayTape,
    _depth_bytes,
    depth_ops,
    load_tape,
)
from toolkit.gateway.framing import encode

from ._client import wait_for

ORDERBOOK = tk.data.default_data_dir() / "orderbook"
SAMPLE = ORDERBOOK / "AAPL_2012-06-21_34200000_57600000_message_10_first999.csv"


@pytest.fixture(scope="module")
def tape() -> ReplayTape:
    return load_tape(SAMPLE)


def _ib_async_apply(dom: dict[int, tuple[float, int]], ops: list[tuple[int, int, float, int]]):
    """ib_async's depth book: a dict by position, insert overwrites, delete pops."""
    for pos, op, price, size in ops:
        if op in (0, 1):
            dom[pos] = (price, size)
        else:
            dom.pop(pos, None)
    return list(dom.values())


def _ib_insync_apply(rows: list[tuple[float, int]], ops: list[tuple[int, int, float, int]]):
    """ib_insync's: a list, insert shifts, update at a missing row raises, delete pops."""
    for pos, op, price, size in ops:
        if op == 0:
            rows.insert(pos, (price, size))
        elif op == 1:
            rows[pos] = (price, size)
        else:
            rows.pop(pos)
    return rows


def test_depth_operations_give_both_clients_the_new_side() -> None:
    rng = random.Random(7)
    for _ in range(500):
        before = [(100.0 - k, rng.randint(1, 9)) for k in range(rng.randint(0, 6))]
        after = [
            (100.0 - k + rng.choice((0, 0, 0.01)), rng.randint(1, 9))
            for k in range(rng.randint(0, 6))
        ]
        ops = depth_ops(before, after)
        assert _ib_async_apply(dict(enumerate(before)), ops) == after
        assert _ib_insync_apply(list(before), ops) == after
        inserts = [p for p, op, _, _ in ops if op == 0]
        deletes = [p for p, op, _, _ in ops if op == 2]
        assert inserts == sorted(inserts) and deletes == sorted(deletes, reverse=True)
    assert depth_ops([(1.0, 5)], [(1.0, 5)]) == []  # nothing changed: nothing sent


def test_the_replays_framed_depth_message_is_the_generic_encoders() -> None:
    for args in [(5, 3, 1, 0, 585.33, 18), (7, 0, 0, 1, 0.0001, 1), (1, 9, 2, 0, 1234567.8901, 0)]:
        assert _depth_bytes(*args) == encode(m.depth_update(*args))


def _side(ticker_side) -> list[tuple[int, int]]:
    return [(round(lv.price * PRICE_SCALE), int(lv.size)) for lv in ticker_side]


def _lobster_side(tape: ReplayTape, k: int, bid: bool, rows: int) -> list[tuple[int, int]]:
    """Book row ``k`` of the file, one side, non-empty levels (LOBSTER's columns)."""
    off = 2 if bid else 0
    out = []
    for lv in range(rows):
        price, size = int(tape.book[k, 4 * lv + off]), int(tape.book[k, 4 * lv + off + 1])
        if size > 0:
            out.append((price, size))
    return out


def _synced(ib: IB) -> None:
    """Every message the gateway sent before now has been applied (one round trip)."""
    ib.reqCurrentTime()


def _connect(gw: Gateway, client_id: int) -> tuple[IB, Stock]:
    ib = IB()
    ib.connect("127.0.0.1", gw.port, clientId=client_id, timeout=5)
    [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    return ib, aapl


def _elapsed_ns(gw: Gateway, replay: DepthReplay) -> float:
    assert replay.origin is not None
    return float((gw.clock.now() - replay.origin).value)


def test_the_client_holds_lobsters_book_after_each_checked_event(tape: ReplayTape) -> None:
    replay = DepthReplay(tape)
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw:
        ib, aapl = _connect(gw, 1)
        ib5, aapl5 = _connect(gw, 2)
        try:
            deep = ib.reqMktDepth(aapl, numRows=10)
            top5 = ib5.reqMktDepth(aapl5, numRows=5)
            quote = ib.reqMktData(aapl)
            times = tape.time - tape.time[0]
            trades = np.isin(tape.kind, TRADES)
            checked = 0
            # events whose successor comes later (a clock between the two shows exactly them)
            for n in (1, 2, 37, 150, 151, 420, 998, 999):
                if n < len(tape):
                    assert times[n] > times[n - 1]
                    gw.advance(
                        pd.Timedelta(
                            (times[n - 1] + times[n]) / 2 * 1e9 - _elapsed_ns(gw, replay), "ns"
                        )
                    )
                else:
                    gw.advance(pd.Timedelta(seconds=1))
                wait_for(ib, lambda n=n: replay.cursor == n)
                _synced(ib)
                _synced(ib5)
                k = n - 1
                assert _side(deep.domBids) == _lobster_side(tape, k, True, 10)
                assert _side(deep.domAsks) == _lobster_side(tape, k, False, 10)
                assert _side(top5.domBids) == _lobster_side(tape, k, True, 5)
                assert _side(top5.domAsks) == _lobster_side(tape, k, False, 5)
                ask, ask_size, bid, bid_size = (int(x) for x in tape.book[k, :4])
                assert (round(quote.bid * PRICE_SCALE), quote.bidSize) == (bid, bid_size)
                assert (round(quote.ask * PRICE_SCALE), quote.askSize) == (ask, ask_size)
                assert quote.volume == tape.size[:n][trades[:n]].sum()
                done = np.flatnonzero(trades[:n])
                if len(done):
                    assert round(quote.last * PRICE_SCALE) == tape.price[done[-1]]
                    assert quote.lastSize == tape.size[done[-1]]
                checked += 1
            assert checked == 8 and replay.done
            assert trades[:420].sum() > 0  # the sample trades early: the last/volume checks bit
        finally:
            ib.disconnect()
            ib5.disconnect()


def test_cancelled_depth_stops_and_a_fast_replay_ends_on_the_last_row(tape: ReplayTape) -> None:
    replay = DepthReplay(tape, fast=True)
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw:
        ib, aapl = _connect(gw, 1)
        ib3, aapl3 = _connect(gw, 2)
        try:
            book = ib.reqMktDepth(aapl, numRows=10)
            gone = ib3.reqMktDepth(aapl3, numRows=3)
            _synced(ib)
            _synced(ib3)
            assert replay.cursor == 1  # paused: the first event only
            assert _side(gone.domBids) == _lobster_side(tape, 0, True, 3)
            ib3.cancelMktDepth(aapl3)
            _synced(ib3)
            assert len(replay.depth) == 1  # only client 1's book is served
            gw.resume()
            wait_for(ib, lambda: replay.done, 30)
            _synced(ib)
            _synced(ib3)
            last = len(tape) - 1
            assert _side(book.domBids) == _lobster_side(tape, last, True, 10)
            assert _side(book.domAsks) == _lobster_side(tape, last, False, 10)
            assert gone.domBids == [] and gone.domAsks == []  # cancelled: nothing came back
        finally:
            ib.disconnect()
            ib3.disconnect()


def test_a_missing_file_is_a_clear_error_and_other_symbols_keep_the_model(
    tape: ReplayTape, tmp_path: Path
) -> None:
    with pytest.raises(ToolkitError, match=r"nope\.zip: file not found"):
        load_tape(tmp_path / "nope.zip")
    replay = DepthReplay(tape)
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            # another symbol keeps the depth model: the replay serves only its own (a symbol
            # the gateway does not know gets IB's 200 as before)
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            model = ib.reqMktDepth(spy, numRows=3)
            wait_for(ib, lambda: len(model.domBids) == 3)
            assert replay.depth == {} and model.domBids[0].price < 1_000
        finally:
            ib.disconnect()


def test_the_command_line_names_a_missing_replay_file(tmp_path: Path, capsys) -> None:
    from toolkit.app.gateway import main

    code = main(["--port", "0", "--depth-replay", str(tmp_path / "gone.zip")])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "gone.zip: file not found" in err and "\n" not in err


def test_the_replay_can_serve_another_symbol(tape: ReplayTape) -> None:
    """--depth-symbol: the book served as a symbol with bars (a session on SPY can watch it)."""
    served = load_tape(SAMPLE, "spy")
    assert served.symbol == "SPY" and len(served) == len(tape)
    np.testing.assert_array_equal(served.book, tape.book)


def test_the_command_line_serves_a_fast_replay(tape: ReplayTape) -> None:
    """``python -m toolkit gateway --depth-replay FILE --depth-fast``: a client's book ends on
    LOBSTER's last row."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "gateway", "--port", "0", "--depth-replay", str(SAMPLE),
         "--depth-fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"gateway simulator on 127\.0\.0\.1:(\d+) ", line)
        assert found is not None, line
        ib = IB()
        ib.connect("127.0.0.1", int(found.group(1)), clientId=1, timeout=10)
        try:
            [aapl] = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
            book = ib.reqMktDepth(aapl, numRows=10)
            last = len(tape) - 1
            want = (_lobster_side(tape, last, True, 10), _lobster_side(tape, last, False, 10))
            wait_for(ib, lambda: (_side(book.domBids), _side(book.domAsks)) == want, 30)
        finally:
            ib.disconnect()
    finally:
        proc.terminate()
        proc.wait(10)


def test_ticks_follow_the_touch_the_executions_and_halts() -> None:
    """A hand-made tape: a new best bid, a visible execution that empties the ask, a halt and
    its end; the quote stream says exactly that."""
    book = np.array(
        [
            [1_000_100, 10, 999_900, 5],
            [1_000_100, 10, 1_000_000, 7],  # a better bid
            [9_999_999_999, 0, 1_000_000, 7],  # the ask executed away
            [9_999_999_999, 0, 1_000_000, 7],  # halt
            [9_999_999_999, 0, 1_000_000, 7],  # quoting resumes
        ],
        dtype=np.int64,
    )
    tape = ReplayTape(
        "TEST", "2012-06-21", 1, np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        np.array([1, 1, 4, 7, 7], dtype=np.int8), np.array([5, 7, 10, 0, 0], dtype=np.int64),
        np.array([999_900, 1_000_000, 1_000_100, -1, 0], dtype=np.int64), book,
    )  # fmt: skip
    replay = DepthReplay(tape, fast=True)
    sent: list[list[Any]] = []
    replay.origin = pd.Timestamp("2024-03-14 14:00", tz="UTC")
    replay.cursor = 1
    replay.add_quotes((1, 9), ReplayQuotes(sent.append, 9, lambda: 0), snapshot=False)
    assert sent == [m.tick_price(9, m.BID, 99.99, 5), m.tick_price(9, m.ASK, 100.01, 10),
                    m.tick_size(9, m.VOLUME, 0)]  # fmt: skip
    sent.clear()
    replay.push(pd.Timestamp("2024-03-14 14:00", tz="UTC"), paused=False)
    stamp = str(int(pd.Timestamp("2024-03-14 14:00", tz="UTC").timestamp()))
    assert sent == [
        m.tick_price(9, m.BID, 100.0, 7),
        m.tick_price(9, m.ASK, -1.0, 0),  # IB's empty side
        m.tick_price(9, m.LAST, 100.01, 10),
        m.tick_size(9, m.VOLUME, 10),
        m.tick_string(9, m.LAST_TIMESTAMP, stamp),
        [45, 6, 9, 49, 1],  # halted
        [45, 6, 9, 49, 0],  # resumed
    ]
    assert replay.done
