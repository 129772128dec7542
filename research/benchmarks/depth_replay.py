"""Depth replay through the simulator (issue 20.6): LOBSTER's GOOG 2012-06-21 level-10 day
(147,916 events) replayed fast (as quickly as the client reads) to one real ib_async client
over TCP subscribed to 10 rows of depth and to the symbol's ticks; events per second from the
resume to the client holding the last row (checked against LOBSTER's). Runs ``REPEATS``
times; min and median are printed with the load average (the machine is shared)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ib_async import IB, Stock

from toolkit.data import default_data_dir
from toolkit.gateway import Gateway
from toolkit.gateway.depth_replay import DepthReplay, ReplayTape, load_tape

FILE = default_data_dir() / "orderbook" / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"
REPEATS = 3


def _once(tape: ReplayTape) -> float:
    """Seconds for one fast replay of the whole day, until the client holds the last row."""
    replay = DepthReplay(tape, fast=True)
    with Gateway(port=0, start="2024-03-14 14:00", paused=True, depth_replay=replay) as gw:
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=10)
        try:
            [goog] = ib.qualifyContracts(Stock(tape.symbol, "SMART", "USD"))
            ticker = ib.reqMktDepth(goog, numRows=10)
            ib.reqMktData(goog)
            ib.reqCurrentTime()
            start = time.perf_counter()
            gw.resume()
            while not replay.done:
                ib.sleep(0.01)
            ib.reqCurrentTime()  # every message before it has been applied
            took = time.perf_counter() - start
            last = len(tape) - 1
            got = [(lv.price, int(lv.size)) for lv in ticker.domBids]
            assert got == tape.side(last, True, 10), "the client's book is not LOBSTER's"
            return took
        finally:
            ib.disconnect()


def main() -> None:
    t0 = time.perf_counter()
    tape = load_tape(FILE)
    read = time.perf_counter() - t0
    print(f"depth replay: {FILE.name}, {len(tape):,} events, read in {read:.1f} s")
    rates = []
    for _ in range(REPEATS):
        took = _once(tape)
        rates.append(len(tape) / took)
    load = os.getloadavg()[0]
    print(
        f"  fast replay to one ib_async client over TCP (10 rows + ticks): "
        f"min {min(rates):,.0f} / median {statistics.median(rates):,.0f} events/s "
        f"over {REPEATS} runs (load {load:.1f})"
    )


if __name__ == "__main__":
    main()
