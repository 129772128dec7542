"""Peak memory of one job in a fresh process, from the kernel's own high-water mark.

``ru_maxrss`` of a child carries the parent's peak across fork and exec (how a 7 GB parent
once showed up as a sweep's "peak"), so the child reads ``VmHWM`` from /proc/self/status
after resetting it through /proc/self/clear_refs just before the measured job.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE = (
    "from pathlib import Path\n"
    "def kb(key):\n"
    "    for line in Path('/proc/self/status').read_text().splitlines():\n"
    "        if line.startswith(key + ':'):\n"
    "            return float(line.split()[1])\n"
    "    raise SystemExit(key + ' missing from /proc/self/status')\n"
)


def fresh_process_peak_mb(setup: str, job: str) -> tuple[float, float]:
    """(peak RSS of a fresh process running ``setup`` then ``job``, that peak's rise above the
    RSS just before ``job``) in MB; both are Python source run from the repository root
    (``setup`` imports, loads data and warms up, ``job`` is what is measured)."""
    code = (
        _PROBE
        + setup
        + "base = kb('VmRSS')\n"
        + "Path('/proc/self/clear_refs').write_text('5')  # reset VmHWM to the current RSS\n"
        + job
        + "peak = kb('VmHWM')\n"
        + "print(peak / 1024, (peak - base) / 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    peak, rise = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
    return peak, rise
