"""Run manifests: what is needed to reproduce a report (config, data hashes, versions, commit)."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = (
    "ibkr-toolkit",
    "numpy",
    "pandas",
    "numba",
    "llvmlite",
    "pyarrow",
    "quantstats",
    "matplotlib",
    "vectorbt",
    "ib_async",
    "papermill",
)


def package_versions(names: Iterable[str] = _PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that shape results (None when not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_state(repo: Path) -> dict[str, Any]:
    """Commit hash and whether the work tree had uncommitted changes (None outside git)."""

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def build_manifest(
    *,
    config: Mapping[str, Any],
    resolved: Mapping[str, Any],
    data_files: Iterable[Mapping[str, Any]],
    metrics: Mapping[str, float],
    repo: Path,
) -> dict[str, Any]:
    """A JSON-ready manifest for one run. ``data_files`` are the loaded files' records: path,
    SHA-256, repair policy, rows each repair changed or dropped, and load warnings."""
    return {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": sys.argv,
        "config": dict(config),
        "resolved": dict(resolved),
        "data_files": list(data_files),
        "packages": package_versions(),
        "platform": platform.platform(),
        "git": git_state(repo),
        "metrics": dict(metrics),
    }
