"""Profiling and a bounded soak (issue 19.6): ``run --profile`` writes a pyinstrument HTML
profile of a rehearsal under reports/; a rehearsal over nine simulated months, its connection
dropped every 30 bars, keeps memory and open file descriptors flat (its per-bar latency, a
timing, is checked in the benchmark). The longer soak with its figures is research/benchmarks/soak.py (``make bench``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from research.benchmarks.soak import SoakRun, soak
from toolkit.app.live import main

# The documented tolerances (README "Running unattended"): after the first quarter of the bars
# (numba's compiles, pandas' and ib_async's caches, the journal's pages), resident memory grows
# by less than 24 MiB to the end and open descriptors by at most 2 (a reconnect in flight).
RSS_TOLERANCE_MIB = 24.0
FD_TOLERANCE = 2

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")


def test_run_profile_writes_a_pyinstrument_html_profile(live_config, tmp_path, monkeypatch):
    cfg = live_config(
        simulator={"start": "2023-01-03 21:30", "end": "2023-01-13", "speed": 8_640_000.0},
        session={"id": "profiled"},
    )
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--config", str(cfg.source), "--no-dashboard", "--profile"]) == 0
    (html,) = (tmp_path / "reports").glob("profile-profiled-*Z.html")
    text = html.read_text()
    assert "pyinstrument" in text and "_process_bars" in text  # the session's own frames


def test_a_nine_month_rehearsal_with_reconnects_stays_flat(live_config) -> None:
    cfg = live_config(
        simulator={"start": "2021-01-04 21:30", "end": "2021-09-30", "speed": 1e8},
        session={"id": "soak"},
    )
    run: SoakRun = soak(cfg, drop_every=30)
    print(run.report(), file=sys.stderr)
    assert run.reconnects >= 5 and run.bars >= 180
    assert run.late == run.missed == run.duplicate_orders == run.lost_fills == 0
    assert run.rss_growth_mib < RSS_TOLERANCE_MIB, run.report()
    assert run.fd_growth <= FD_TOLERANCE, run.report()
    # latency steadiness (last third's median per-bar time within 2x + 5 ms of the first's) is
    # a timing, so it is checked in make bench (research/benchmarks/soak.py), not here
