"""A client id already held at the gateway stops the session at once with IB's 326 named,
instead of waiting out the connect timeout three times (issue 12.14)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

pytest.importorskip("ib_async")
from ib_async import IB

from toolkit.gateway import Gateway


def test_a_client_id_in_use_is_refused_at_once_naming_326(live_config, tmp_path) -> None:
    with Gateway(port=0, start="2024-03-14 14:00", speed=60) as gw:
        holder = IB()
        holder.connect("127.0.0.1", gw.port, clientId=7, timeout=5)
        try:
            cfg = live_config(
                connection={"host": "127.0.0.1", "port": gw.port, "client_id": 7, "timeout": 20}
            )
            t0 = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "toolkit.live", "run", "--config", str(cfg.source)],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
            took = time.monotonic() - t0
            assert proc.returncode == 2, proc.stderr
            err = proc.stderr.strip()
            assert "326" in err and "client id 7" in err and "client_id" in err
            assert "Traceback" not in err and len(err.splitlines()) == 1
            # start-up (imports, numba cache) takes a few seconds; the old path waited
            # 3 x the 20 s timeout
            assert took < 20.0, took
            assert holder.isConnected()  # the holder is untouched
        finally:
            holder.disconnect()
