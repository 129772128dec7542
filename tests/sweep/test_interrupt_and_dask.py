"""Ctrl+C returns finished rows; a dask cluster returns the same rows as local threads."""

from __future__ import annotations

import _thread
import threading

import pandas as pd
import pytest

import toolkit as tk
from toolkit.sweep import make_grid, sweep

GRID = {"fast": range(2, 60), "slow": range(10, 120, 5)}


def test_interrupt_from_progress_callback_returns_finished_rows() -> None:
    bars = tk.load("SPY", start="2015-01-01")
    grid = make_grid("sma_cross", GRID)
    calls = []

    def on_block(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match=r"sweep interrupted: returning the \d+ of \d+ rows"):
        rows = sweep(bars, "sma_cross", grid, block_size=100, progress=False, on_block=on_block)
    assert rows.attrs["interrupted"] is True
    assert len(rows) == calls[-1] == 200
    full = sweep(bars, "sma_cross", grid, progress=False)
    pd.testing.assert_frame_equal(rows, full.iloc[:200], check_exact=True)


def test_real_keyboard_interrupt_in_main_thread() -> None:
    """interrupt_main() is what the default SIGINT handler does on Ctrl+C."""
    bars = tk.load("SPY")
    grid = make_grid("sma_cross", {"fast": range(2, 202), "slow": range(2, 202)})
    started = threading.Event()

    def on_block(done: int, total: int) -> None:
        if not started.is_set():
            started.set()
            threading.Timer(0.05, _thread.interrupt_main).start()

    with pytest.warns(UserWarning, match="sweep interrupted"):
        rows = sweep(bars, "sma_cross", grid, block_size=64, progress=False, on_block=on_block)
    assert rows.attrs["interrupted"] is True
    assert 0 < len(rows) < len(grid)
    assert rows["final_equity"].notna().all()


@pytest.mark.slow
@pytest.mark.xdist_group("dask")  # one LocalCluster at a time (2 worker processes each)
def test_dask_local_cluster_gives_identical_rows() -> None:
    distributed = pytest.importorskip("distributed")
    panel = tk.load_many(["SPY", "QQQ"], start="2012-01-01")
    grid = make_grid("sma_cross", {"fast": range(2, 40, 3), "slow": range(20, 120, 7)})
    local = sweep(panel, "sma_cross", grid, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = sweep(panel, "sma_cross", grid, client=client, block_size=50)
    assert remote.attrs["interrupted"] is False
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
