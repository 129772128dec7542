"""Project layout and packaging: environment.yml and pyproject.toml name the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import toolkit

REPO = Path(__file__).resolve().parents[1]
# conda-forge splits some PyPI extras into separate packages
_CONDA_TO_PYPI = {"distributed": "dask[distributed]", "dask": "dask[distributed]"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ ;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    py = {_name(d) for d in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        py |= {_name(d) for d in extra if not d.startswith("ibkr-toolkit")}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            conda |= {_name(d) for d in dep["pip"] if not d.startswith("-e")}
        elif _name(dep) not in ("python", "pip"):
            conda.add(_CONDA_TO_PYPI.get(_name(dep), _name(dep)))
    assert conda == py, f"only in environment.yml: {conda - py}; only in pyproject: {py - conda}"


def test_top_level_layout() -> None:
    for d in ("research", "notebooks", "toolkit", "live", "data", "reports", "tests"):
        assert (REPO / d).is_dir(), d
    for f in (
        "environment.yml",
        "pyproject.toml",
        "README.md",
        "Makefile",
        ".ci/run",
        "data/README.md",
    ):
        assert (REPO / f).is_file(), f
    ignored = (REPO / ".gitignore").read_text()
    for pattern in ("reports/*", "data/.cache/", "live/state/"):
        assert pattern in ignored


def test_readme_commands_are_the_ci_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_public_api_is_exported() -> None:
    for name in (
        "load",
        "load_many",
        "backtest",
        "simulate",
        "EngineSettings",
        "load_config",
        "run_backtest",
        "get_strategy",
        "strategy_names",
        "ToolkitError",
    ):
        assert name in toolkit.__all__ and hasattr(toolkit, name)
