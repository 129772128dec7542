"""The import rules of README "Architecture", kept true by import-linter's contracts in
pyproject.toml: commands on top (toolkit.app), the libraries below in layers, notifications,
data and errors at the bottom."""

from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the toolkit in cwd, not the installed one
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_layers_are_the_documented_ones() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = config["contracts"]
    layers = contract["layers"]
    assert layers[0] == "app"  # nothing below imports the commands
    assert "notify" in layers[-2].split(" | ")  # a leaf: it may import only errors
    assert layers[-1] == "errors | _declare"
    # every module and subpackage of toolkit is in a layer: a new one cannot escape the rules
    named = {n.strip() for layer in layers for n in layer.replace(":", "|").split("|")}
    children = {m.name for m in pkgutil.iter_modules([str(REPO / "toolkit")])}
    assert children - {"__main__"} == named
    readme = (REPO / "README.md").read_text().split("\n## Architecture\n", 1)[1]
    picture = readme.split("\n## ", 1)[0]
    for layer in layers:  # the README's picture shows every layer, as written here
        assert f"\n{layer} " in picture, layer


def test_the_package_keeps_its_import_rules() -> None:
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line"),
    [
        ("notify.py", "import toolkit.live"),  # the leaf reaching up
        ("report/exports.py", "def _f():\n    from toolkit.app import backtest"),  # in a function
        (
            "engine/settings.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toolkit.sweep",
        ),  # only for the type checker
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, line: str) -> None:
    shutil.copytree(
        REPO / "toolkit", tmp_path / "toolkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "toolkit" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout
    assert "1 broken" in done.stdout
