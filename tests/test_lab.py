"""`make lab` (issue 18.7): every install has JupyterLab, and the target serves the notebooks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "lab-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_the_install_includes_jupyterlab() -> None:
    # `make install` (every make target) installs the lab extra; so does environment.yml
    assert int(version("jupyterlab").split(".")[0]) >= 4


def test_make_lab_serves_the_notebooks(tmp_path: Path) -> None:
    port = _free_port()
    args = f"--no-browser --port={port} --IdentityProvider.token={TOKEN}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    # -o: never reinstall the venv from a test; PY: the interpreter running the tests
    cmd = ["make", "--no-print-directory", "-o", str(Path(sys.prefix) / ".installed"), "lab",
           f"PY={sys.executable}", f"LAB_ARGS={args}"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if _get(f"{base}/api/status?token={TOKEN}")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.5)
        # the landing page is the notebooks folder, in JupyterLab
        status, headers, _ = _get(f"{base}/?token={TOKEN}")
        assert status == 302 and headers["Location"].startswith("/lab/tree/notebooks")
        status, _, body = _get(f"{base}/api/contents/notebooks?token={TOKEN}")
        assert status == 200
        served = {c["name"] for c in json.loads(body)["content"]}
        assert served >= {p.name for p in (REPO / "notebooks").glob("*.ipynb")}
        # served from the project root: configs and reports are in the file browser too
        _, _, body = _get(f"{base}/api/contents?token={TOKEN}")
        assert {"notebooks", "research", "reports"} <= {
            c["name"] for c in json.loads(body)["content"]
        }
        status, _, page = _get(f"{base}/lab/tree/notebooks?token={TOKEN}")
        assert status == 200 and b"JupyterLab" in page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # make, its shell and JupyterLab: this test's group
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
