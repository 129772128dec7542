"""Run every benchmark (``make bench``). Benchmarks live here, never as timed test assertions.

The level-2 replay benchmark (orderbook.py) runs apart, in the bench venv `make bench` builds:
its reference, hftbacktest, pins numpy < 2.3, which would downgrade numpy and pandas here."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from research.benchmarks import (
    analysis,
    coint,
    depth_replay,
    engine,
    execution,
    gateway,
    kill9,
    live,
    ml,
    options_american,
    options_greeks,
    portfolio,
    rotation,
    soak,
    sweep,
    sweep_phases,
    var,
    web,
)


def main() -> None:
    engine.main()
    print()
    sweep.main()
    print()
    sweep_phases.main()
    print()
    rotation.main()
    print()
    portfolio.main()
    print()
    analysis.main()
    print()
    var.main()
    print()
    coint.main()
    print()
    options_greeks.main()
    print()
    options_american.main()
    print()
    execution.main()
    print()
    ml.main()
    print()
    live.main()
    print()
    soak.main()
    print()
    gateway.main()
    print()
    kill9.main()
    print()
    web.main()
    print()
    depth_replay.main()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    print(f"\npeak resident memory of the whole benchmark process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
