"""The option session's operations (issue 19 for ``toolkit.live options``): ``--endpoints``
serves /healthz, /readyz (with the option session's own checks, and the stock check that does
not apply named as such) and /metrics (the journal's counts, the entry decision latency);
``--profile`` writes its HTML under reports/; SIGHUP -- an option session has no [risk]
reload -- stops it in order (exit 0, the session ended in the journal) and the log says why.
A child process (``python -m toolkit.live options``) on the gateway simulator's SPXW chain."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.live._sessions import journal_rows, wait_for
from tests.live.conftest import REPO
from tests.live.test_options_session import SPEED, START, _config, spxw_data  # noqa: F401
from toolkit.gateway import Gateway

SID = "opt-probes"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _metric(text: str, name: str) -> float | None:
    got = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return None if got is None else float(got.group(1))


def test_option_session_serves_probes_writes_its_profile_and_stops_on_sighup(
    tmp_path: Path,
    spxw_data: Path,  # noqa: F811
) -> None:
    cfg = _config(tmp_path, {"start": "touch"}, {"max_loss_per_spread": 2500})
    journal = cfg.session.journal
    log = tmp_path / "options.log"
    with Gateway(port=0, data_dir=spxw_data, start=START, speed=SPEED, participation=0.0) as gw:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        env.pop("TOOLKIT_LIVE_FAULT", None)
        cmd = [sys.executable, "-m", "toolkit.live", "options", "--config", str(cfg.source)]
        cmd += ["--host", "127.0.0.1", "--port", str(gw.port), "--session", SID]
        cmd += ["--endpoints", "127.0.0.1:0", "--profile"]
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        try:
            url = wait_for(
                lambda: re.search(r"endpoints on (http://\S+) ", log.read_text()),
                what="the endpoints' address",
            ).group(1)
            status, body = _get(f"{url}/healthz")
            assert status == 200 and json.loads(body)["alive"] is True, body
            wait_for(
                lambda: len(journal_rows(journal, "SELECT 1 FROM fills")) == 2,
                what="the spread's two leg fills",
            )

            def ready() -> dict[str, Any] | None:
                code, text = _get(f"{url}/readyz")
                got: dict[str, Any] = json.loads(text)
                return got if code == 200 else None

            state = wait_for(ready, what="/readyz 200")
            assert state["ready"] is True and state["reasons"] == []
            assert state["session"] == SID and state["connected"] and state["synced"]
            assert state["decided"] == 1
            (why,) = state["not_applicable"]
            assert why.startswith("last decided bar not older than two bar periods")
            status, text = _get(f"{url}/metrics")
            assert status == 200
            assert _metric(text, 'toolkit_live_orders_total{strategy="pcs"}') == 1.0
            assert _metric(text, 'toolkit_live_fills_total{strategy="pcs"}') == 2.0
            assert _metric(text, "toolkit_live_connected") == 1.0
            assert _metric(text, "toolkit_live_ready") == 1.0
            assert _metric(text, 'toolkit_live_bar_decision_seconds_count{strategy="pcs"}') == 1.0
            gross = _metric(text, 'toolkit_live_gross_exposure{strategy="pcs"}')
            assert gross is not None and gross > 0.0  # the short and the long put, marked
            # a hangup: no reload for option sessions, so an orderly stop that says why
            proc.send_signal(signal.SIGHUP)
            assert proc.wait(120) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "SIGHUP: an option session has no [risk] reload; stopping in order" in text
    ((ended,),) = journal_rows(journal, f"SELECT ended_at FROM sessions WHERE session_id = '{SID}'")
    assert ended is not None
    (profile,) = (tmp_path / "reports").glob(f"profile-{SID}-*.html")
    html = profile.read_text()
    assert "option_session" in html and "_enter" in html  # the session's own frames: its entry
    assert f"profile written to reports/{profile.name}" in text
