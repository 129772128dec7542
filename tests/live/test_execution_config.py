"""``[strategies.execution]``: the algo and its parameters validated from the live config,
with one-line errors naming the file and key, and the window resolved on the session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from toolkit.errors import ConfigError
from toolkit.live.config import load_live_config
from toolkit.live.execution_config import ExecutionSpec

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "research" / "configs" / "spy_sma_paper.toml"


def _load(tmp_path: Path, execution: str) -> ExecutionSpec:
    path = tmp_path / "live.toml"
    path.write_text(
        f'name = "x"\n[[strategies]]\nconfig = "{PAPER}"\ncapital = 100000\n'
        f"[strategies.execution]\n{execution}\n"
    )
    return load_live_config(path).strategies[0].execution


def test_no_table_is_one_order_as_before(tmp_path: Path) -> None:
    path = tmp_path / "live.toml"
    path.write_text(f'[[strategies]]\nconfig = "{PAPER}"\n')
    spec = load_live_config(path).strategies[0].execution
    assert spec == ExecutionSpec() and spec.algo == "none" and not spec.ours and not spec.at_broker


def test_ib_vwap_with_ib_tag_aliases_and_defaults(tmp_path: Path) -> None:
    spec = _load(tmp_path, 'algo = "ib_vwap"\nstart = "10:00"\nend = "10:30"\nmaxPctVol = 0.1\n')
    assert spec.at_broker and spec.algo == "ib_vwap"
    assert dict(spec.params) == {"max_pct_vol": 0.1, "no_take_liq": False, "allow_past_end": False}
    assert (spec.start, spec.end) == ("10:00", "10:30")


def test_our_schedules_get_their_defaults(tmp_path: Path) -> None:
    twap = _load(tmp_path, 'algo = "twap"\nslices = 5\nseed = 7\nend = "+30min"')
    assert twap.ours and dict(twap.params) == {
        "slices": 5,
        "min_size": 1,
        "time_jitter": 0.0,
        "size_jitter": 0.0,
        "seed": 7,
    }
    assert dict(_load(tmp_path, 'algo = "pov"').params) == {"rate": 0.05, "lag": 1}
    adaptive = _load(tmp_path, 'algo = "ib_adaptive"\nadaptivePriority = "Urgent"')
    assert dict(adaptive.params) == {"priority": "Urgent"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('algo = "smart"', "algo = 'smart' is not an execution algo; choose one of 'none'"),
        ('algo = "ib_vwap"\nmax_pct_vol = 0.75', "max_pct_vol = 0.75 is out of range [0.01, 0.5]"),
        ('algo = "ib_vwap"\nmaxPctVol = 0.005', "maxPctVol = 0.005 is out of range [0.01, 0.5]"),
        ('algo = "ib_adaptive"\npriority = "Fast"', "priority = 'Fast' is not allowed; choose"),
        ('algo = "ib_adaptive"\nriskAversion = "Low"', "unknown key riskAversion; allowed keys"),
        ('algo = "ib_twap"\nstrategyType = "Aggressive"', "strategyType = 'Aggressive' is not"),
        ('algo = "ib_iceberg"', "algo 'ib_iceberg' needs display_size"),
        ('algo = "ib_iceberg"\ndisplay_size = 0', "display_size = 0 is out of range"),
        ('algo = "ib_iceberg"\ndisplay_size = 100\nstart = "10:00"', "has no working window"),
        ('algo = "twap"\nstart = "10:30"\nend = "10:00"', "end = '10:00' must come after start"),
        ('algo = "twap"\nstart = "8:00"', "start = '8:00' is outside the regular session"),
        ('algo = "twap"\nend = "soon"', "end = 'soon' is not a time"),
        ('algo = "twap"\nend = "+9h"', "end = '+9h' is not a duration after the start"),
        ('algo = "twap"\nslices = 2.5', "slices = 2.5 has the wrong type"),
        ('algo = "ib_vwap"\nmax_pct_vol = 0.1\nmaxPctVol = 0.2', "max_pct_vol is written twice"),
        ('algo = "pov"\nrate = 0.0', "rate = 0.0 must be greater than 0"),
    ],
)
def test_bad_execution_tables_name_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, body)
    text = str(err.value)
    assert message in text and "\n" not in text
    assert str(tmp_path / "live.toml") in text and "[strategies #1.execution]" in text


def test_window_on_the_session_of_the_order() -> None:
    spec = ExecutionSpec("twap", "10:00", "+30min", {"slices": 3})
    # placed before the start (2024-03-14, EDT: 10:00 New York = 14:00 UTC)
    t0, t1 = spec.window(pd.Timestamp("2024-03-14 13:40", tz="UTC"))
    assert (t0, t1) == (
        pd.Timestamp("2024-03-14 14:00", tz="UTC"),
        pd.Timestamp("2024-03-14 14:30", tz="UTC"),
    )
    # placed after the start: from then on, the duration after it
    t0, t1 = spec.window(pd.Timestamp("2024-03-14 14:10", tz="UTC"))
    assert (t0, t1) == (
        pd.Timestamp("2024-03-14 14:10", tz="UTC"),
        pd.Timestamp("2024-03-14 14:40", tz="UTC"),
    )
    # after the close: the next session's window; no end = its close (16:00 New York)
    late = ExecutionSpec("vwap")
    t0, t1 = late.window(pd.Timestamp("2024-03-14 21:00", tz="UTC"))
    assert (t0, t1) == (
        pd.Timestamp("2024-03-15 13:30", tz="UTC"),
        pd.Timestamp("2024-03-15 20:00", tz="UTC"),
    )
    # a fixed end already passed: an empty window
    t0, t1 = ExecutionSpec("ib_vwap", None, "10:00").window(
        pd.Timestamp("2024-03-14 15:00", tz="UTC")
    )
    assert t0 == t1


def test_spec_built_in_code_is_checked_too() -> None:
    with pytest.raises(ConfigError, match="is not a parameter of algo 'vwap'"):
        ExecutionSpec("vwap", params={"slices": 3})


def test_the_shipped_example_config_loads() -> None:
    slot = load_live_config(REPO / "live" / "execution_paper.toml").strategies[0]
    assert slot.execution.algo == "ib_vwap" and slot.execution.params["max_pct_vol"] == 0.1
    assert slot.exits is not None and (slot.exits.take_profit, slot.exits.oca) == (0.04, True)


def test_an_ib_iceberg_needs_a_limit_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="algo = 'ib_iceberg' needs \\[engine\\] order_type"):
        _load(tmp_path, 'algo = "ib_iceberg"\ndisplay_size = 100')
