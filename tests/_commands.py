"""Running the toolkit's commands in tests as a user does: ``python -m ...`` in a child
process from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_command(
    module: str, *args: str | Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` from the repository root; the output captured as text
    and the exit status left for the test to check."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
