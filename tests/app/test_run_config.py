"""A research command reads its config before it loads anything heavy (toolkit.app.run_config):
a wrong path or a TOML typo is one line and exit 2 with no pandas, numpy or numba imported,
and a config without the [grid] a command scores is refused before the data, engine and sweep
modules load. One child process: the point is what a fresh interpreter has imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests._commands import REPO

COMMANDS = (
    ["backtest"],
    ["sweep"],
    ["walkforward"],
    ["montecarlo"],
    ["sensitivity"],
    ["check"],
    ["options-backtest"],
    ["ml", "train"],
    ["export"],
)

# each call's exit status and stderr lines, then what the interpreter had imported
CHILD = """
import contextlib, io, json, sys
from toolkit.app import cli

def call(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return [code, err.getvalue().splitlines()]

def loaded(names):
    return sorted(n for n in names if n in sys.modules)

light, checked = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {"light": [call(a) for a in light]}
out["light_loaded"] = loaded(("numpy", "pandas", "numba", "scipy", "toolkit.config"))
out["checked"] = [call(a) for a in checked]
out["checked_loaded"] = loaded(("toolkit.sweep", "toolkit.app.backtest", "plotly"))
print(json.dumps(out))
"""


def test_config_errors_come_before_the_heavy_modules(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\n[data\n')
    no_grid = tmp_path / "no_grid.toml"
    no_grid.write_text(
        'name = "no_grid"\n[data]\nsymbols = ["SPY"]\n[strategy]\nname = "sma_cross"\n'
        "[strategy.params]\nfast = 50\nslow = 200\nallow_short = 0\ncross = 0\n"
    )
    light = [[*c, "--config", str(missing)] for c in COMMANDS]
    light += [["sweep", "--config", str(broken)], ["walkforward", "--config", str(broken)]]
    checked = [[c, "--config", str(no_grid)] for c in ("sweep", "walkforward", "sensitivity")]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(light), json.dumps(checked)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    run_missing = f"error: {missing}: config file not found. Configs live in research/configs/."
    option_missing = f"error: {missing}: no such config; see research/configs/options_*.toml"
    expected = [run_missing] * 6 + [option_missing] + [run_missing] * 2
    assert out["light"][: len(COMMANDS)] == [[2, [line]] for line in expected]
    for code, lines in out["light"][len(COMMANDS) :]:
        assert code == 2 and len(lines) == 1
        assert lines[0].startswith(f"error: {broken}: not valid TOML: Expected ']'")
    assert out["light_loaded"] == []  # ~0.05 s each instead of 1-5 s
    assert out["checked"] == [
        [
            2,
            [
                f"error: {no_grid}: {command} needs a [grid] table of parameter axes, e.g. "
                "fast = { from = 5, to = 100, step = 5 }."
            ],
        ]
        for command in ("sweep", "walkforward", "sensitivity")
    ]
    assert out["checked_loaded"] == []  # no data, engine run or sweep kernels for a refusal
