"""``python -m toolkit backtest --like-session``: a real simulated session (gateway simulator
over TCP, the live bridge, a SQLite journal) rerun by the backtest CLI over exactly its span
and warm-up; its fills are the session's, fill for fill."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from tests._commands import REPO, run_command
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal


def _backtest(*args: str) -> subprocess.CompletedProcess[str]:
    return run_command("toolkit", "backtest", *args)


def test_like_session_reruns_the_paper_session_fill_for_fill(live_config, tmp_path) -> None:
    # live/paper.toml's session (its window, capital, history and [risk]), faster
    cfg = live_config(
        simulator={"start": "2024-01-02 21:30", "end": "2024-04-30", "speed": 8_640_000.0},
        risk={"max_position": 150_000.0, "max_order": 250_000.0, "max_gross": 1.5},
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
        decisions = pd.DataFrame(j.rows("decisions", summary.session_id))
        marks = pd.DataFrame(j.rows("equity", summary.session_id))
    assert len(decisions) >= 80 and len(fills) >= 4

    # the research config's own backtest cannot reproduce it: it starts in 2018 and its
    # daily-loss switch ends its trading in March 2020
    plain = _backtest(  # no tear sheet: only its orders are read (quantstats took ~4 s CPU)
        "--config", str(cfg.strategies[0].run.source), "--reports", str(tmp_path), "--no-tearsheet"
    )
    assert plain.returncode == 0, plain.stderr
    (folder,) = tmp_path.glob("spy_sma_paper-*")
    plain_orders = pd.read_csv(folder / "orders.csv")
    assert plain_orders["time"].max() < "2021"

    reports = tmp_path / "like"
    done = _backtest(
        "--like-session",
        summary.session_id,
        "--journal",
        str(cfg.session.journal),
        "--reports",
        str(reports),
        "--no-tearsheet",
    )
    assert done.returncode == 0, done.stderr
    assert f"matching fill for fill (bar, side, quantity, price) {len(fills)}/{len(fills)}" in (
        done.stdout
    )
    (out,) = reports.glob(f"{summary.session_id}-*-like-session-*")
    orders = pd.read_csv(out / "orders.csv")
    # fill for fill: bar, side, quantity, price (and commission)
    assert len(orders) == len(fills)
    live_bar = pd.to_datetime(fills["ts"], utc=True, format="ISO8601").dt.normalize()
    assert list(pd.to_datetime(orders["time"], utc=True)) == list(live_bar)
    assert list(orders["side"]) == ["BUY" if s == "BOT" else "SELL" for s in fills["side"]]
    np.testing.assert_array_equal(orders["quantity"].abs().to_numpy(), fills["shares"].to_numpy())
    np.testing.assert_allclose(orders["price"], fills["price"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(orders["commission"], fills["commission"], atol=1e-9)
    # one period: the session's decided bars, equity marked as the session marked it
    equity = pd.read_csv(out / "equity.csv", index_col=0, parse_dates=True)
    days = pd.to_datetime(decisions["bar_time"], utc=True, format="ISO8601")
    assert list(equity.index) == list(days)
    live = marks[marks["strategy"] == cfg.strategies[0].label]
    np.testing.assert_allclose(
        equity["equity"].to_numpy(), live["net_liquidation"].to_numpy(), rtol=1e-9
    )
    # the manifest records what was replayed: the warm-up starts one year ('1 Y') before
    # the simulator's start, the span is the session's
    manifest = json.loads((out / "manifest.json").read_text())
    like = manifest["config"]["like_session"]
    assert like["warmup_start"] == "2023-01-02T21:30:00+00:00"
    assert like["first_bar"][:10] == "2024-01-02" and like["last_bar"][:10] == "2024-04-30"
    compared = pd.read_csv(out / "fills_vs_session.csv")
    assert compared["match"].all() and len(compared) == len(fills)

    # the same replay for machines (toolkit backtest --like-session --json)
    as_json = _backtest(
        "--like-session",
        summary.session_id,
        "--journal",
        str(cfg.session.journal),
        "--reports",
        str(tmp_path / "like_json"),
        "--no-tearsheet",
        "--json",
    )
    assert as_json.returncode == 0, as_json.stderr
    (record,) = json.loads(as_json.stdout)
    assert record["session"] == summary.session_id
    assert record["fills_session"] == record["fills_matching"] == len(fills)
    assert record["final_equity_backtest"] == pytest.approx(equity["equity"].iloc[-1], rel=1e-12)


def test_warm_up_follows_the_session_history(live_config) -> None:
    """A 3-month history: the replay's first bar is the first one after start - 3 months,
    and an EMA-free strategy's fills still match."""
    from toolkit.live.replay import replay_session

    cfg = live_config(
        simulator={"start": "2023-06-01 21:30", "end": "2023-08-31", "speed": 8_640_000.0},
        strategies=[
            {"config": str(REPO / "research/configs/spy_sma_paper.toml"), "history": "3 M"}
        ],
    )
    summary = run_session(cfg, echo=None)
    (replay,) = replay_session(cfg.session.journal, summary.session_id)
    assert replay.span.warmup_start == pd.Timestamp("2023-03-01 21:30", tz="UTC")
    assert replay.span.first_bar == pd.Timestamp("2023-06-01", tz="UTC")
    assert replay.fills_compared()["match"].all()
    assert len(replay.live_fills) == len(replay.result.orders) >= 2


def test_changed_live_config_is_a_one_line_error(live_config, tmp_path) -> None:
    cfg = live_config(
        simulator={"start": "2023-06-01 21:30", "end": "2023-06-20", "speed": 8_640_000.0},
    )
    summary = run_session(cfg, echo=None)
    changed = tmp_path / "changed.toml"
    research = tmp_path / "research.toml"
    research.write_text(
        (REPO / "research/configs/spy_sma_paper.toml").read_text().replace("fast = 5", "fast = 7")
    )
    changed.write_text(
        cfg.source.read_text().replace(str(cfg.strategies[0].run.source), str(research))
    )
    done = _backtest(
        "--like-session",
        summary.session_id,
        "--journal",
        str(cfg.session.journal),
        "--live-config",
        str(changed),
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is not what the session traded" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 2  # the progress line and the error
    with pytest.raises(Exception, match="no session"):
        from toolkit.live.replay import session_spans

        session_spans(cfg.session.journal, "nope")


def test_a_session_whose_risk_limits_were_reloaded_is_not_replayed_as_one(tmp_path) -> None:
    """A [risk] reload (SIGHUP, ``live reload``) changed the limits mid-session; one backtest
    runs one set of limits, so the 'fill for fill' rerun would silently differ from the
    reload on. Before, it replayed with the file's current limits over the whole span."""
    from toolkit.errors import ConfigError
    from toolkit.live.replay import session_spans

    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        j.start_session("s1", mode="simulated", account="DU1", config={})
        for status, strategy in (("rejected", None), ("unchanged", None), ("applied", "spy")):
            j.record_risk_change(
                "s1", source="sighup", config="live/paper.toml", status=status,
                strategy=strategy, limits={}, previous={}, message="max_position 1 -> 2",
            )  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        session_spans(path, "s1")
    text = str(raised.value)
    assert "\n" not in text and "reloaded its [risk] limits" in text, text
    assert "spy: max_position 1 -> 2" in text, text
