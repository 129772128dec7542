"""``python -m toolkit.web`` (what ``toolkit web`` runs): it prints the URL with its token and
serves on 127.0.0.1; without the token, 401; --no-token is refused off loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import Rehearsed
from toolkit.app.web import main

# one pytest-xdist worker builds the package's session journal and reports once for all
pytestmark = pytest.mark.xdist_group("web")

REPO = Path(__file__).resolve().parents[2]


def test_python_m_toolkit_web_serves_behind_its_token(rehearsed: Rehearsed, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toolkit.web",
            "--port",
            "0",
            "--journal",
            str(rehearsed.journal.parent),
            "--reports",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TOOLKIT_WEB_TOKEN": ""},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"toolkit web \(read-only\) on (http://127\.0\.0\.1:\d+/)\?token=(\S+)", line)
        assert m is not None, line + (proc.stdout.read() if proc.poll() is not None else "")
        url, token = m.groups()
        assert len(token) >= 24  # a fresh random token
        assert httpx.get(url + "sessions").status_code == 401
        with httpx.Client(follow_redirects=True) as c:
            page = c.get(f"{url}?token={token}")
            assert page.status_code == 200 and str(page.url) == url + "sessions"
            assert rehearsed.summary.session_id in page.text
            assert c.get(url + "reports").status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0


def test_no_token_only_on_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--no-token", "--port", "0"]) == 2
    assert "would open the app to the network" in capsys.readouterr().err
