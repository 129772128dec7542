"""Tax export from a live session: a real simulated session (gateway simulator over TCP, the
live bridge, a real SQLite journal), exported with ``python -m toolkit.report export
--session``: lots from the journaled executions, dividends on the shares the session held."""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import pandas as pd
import pytest

from tests._commands import REPO, run_command
from tests.live.conftest import write_live_config
from toolkit.live.bridge import run_session
from toolkit.live.journal import Journal


def test_session_export_uses_the_journaled_fills_and_pays_dividends(tmp_path: Path) -> None:
    cfg = write_live_config(
        tmp_path,
        simulator={"start": "2024-01-02 21:30", "end": "2024-04-30", "speed": 8_640_000.0},
    )
    summary = run_session(cfg, echo=None)
    with Journal(cfg.session.journal) as j:
        fills = pd.DataFrame(j.session_fills(summary.session_id))
    assert len(fills) >= 3
    out = tmp_path / "tax"
    done = run_command(
        "toolkit.report",
        "export",
        "--session",
        summary.session_id,
        "--journal",
        cfg.session.journal,
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    lots = pd.read_csv(out / "realized_lots.csv")
    exported = pd.read_csv(out / "fills.csv")
    # the fills exported are the journal's, price for price
    assert list(exported["exec_id"]) == list(fills["exec_id"])
    assert list(exported["price"]) == list(fills["price"])
    # hand FIFO on the journal: the first lot opens at the first fill's price and size
    first = fills.iloc[0]
    assert lots.iloc[0].open_price == first["price"]
    assert lots.iloc[0].quantity == min(first["shares"], fills.iloc[1]["shares"])
    # these round trips are whole positions, so FIFO gains equal the session's own P&L
    assert lots["gain"].sum() == pytest.approx(summary.trades["pnl"].sum(), abs=1e-6)
    # dividends: every SPY ex-date in the session with shares held before it, the amount
    # recovered by hand from the raw file's close and adj_close
    with (REPO / "data" / "daily" / "SPY.csv").open(newline="") as fh:
        raw = [r for r in csv.DictReader(fh) if "2024-01-02" <= r["date"] <= "2024-04-30"]
    expected = []
    for prev, row in itertools.pairwise(raw):
        f0 = float(prev["adj_close"]) / float(prev["close"])
        f1 = float(row["adj_close"]) / float(row["close"])
        if 1 - f0 / f1 > 1e-5:
            day = pd.Timestamp(row["date"], tz="UTC")
            times = pd.to_datetime(fills["ts"], utc=True, format="ISO8601")
            sign = fills["side"].map({"BOT": 1.0, "SLD": -1.0})
            held = float((sign * fills["shares"])[times < day].sum())
            if held:
                expected.append((row["date"], held, held * float(prev["close"]) * (1 - f0 / f1)))
    divs = pd.read_csv(out / "dividends.csv")
    assert expected  # SPY's March 2024 dividend falls inside a held position
    assert [d[:10] for d in divs["ex_date"]] == [e[0] for e in expected]
    assert list(divs["shares"]) == [e[1] for e in expected]
    assert list(divs["amount"]) == pytest.approx([e[2] for e in expected], rel=1e-9)


def test_unknown_session_is_a_one_line_error(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    Journal(journal).close()
    done = run_command(
        "toolkit.report", "export", "--session", "nope", "--journal", journal, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "no session 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_export_shows_its_stages_as_the_other_commands_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from toolkit.app import reports

    config = REPO / "research" / "configs" / "spy_sma_cross.toml"
    assert reports.main(["export", "--config", str(config), "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err
    stages = [ln for ln in err.splitlines() if ln.startswith("[")]
    # stamped progress lines (toolkit.app.progress): the backtest's, the replay, the writing
    assert any("simulating sma_cross" in ln for ln in stages), err
    assert any("replaying its targets on the stored, unadjusted prices" in ln for ln in stages)
    assert any(f"writing tax lots (FIFO), realised P&L and dividends to {tmp_path / 't'}" in ln
               for ln in stages)  # fmt: skip
    assert stages[-1].endswith("done: 8 files") and all(
        re.match(r"\[ *\d+\.\ds\] ", ln) for ln in stages
    )
