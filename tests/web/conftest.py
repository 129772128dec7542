"""Web app test helpers: a journal of a real (short, simulated) session, report folders
written by the toolkit itself, the app served by uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.live.conftest import REPO, write_live_config
from toolkit.live.bridge import run_session
from toolkit.live.summary import SessionSummary
from toolkit.web import WebSettings, create_app

TOKEN = "test-token-0123456789"


@dataclass(frozen=True)
class Rehearsed:
    """A finished simulated session's journal."""

    journal: Path
    summary: SessionSummary


@pytest.fixture(scope="package")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> Rehearsed:
    """Three months of the paper SMA strategy on the simulator (trades, guards, equity)."""
    tmp = tmp_path_factory.mktemp("web-session")
    cfg = write_live_config(
        tmp,
        simulator={"start": "2022-06-01 21:30", "end": "2022-09-30", "speed": 8_640_000.0},
        risk={"max_order": 150_000.0},
        name="web-test",
    )
    summary = run_session(cfg, echo=None)
    return Rehearsed(cfg.session.journal, summary)


class Served:
    """The app on a uvicorn server on its own thread (a real HTTP server, for SSE and the
    browser); ``url(path)`` is an address on it."""

    def __init__(self, settings: WebSettings) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as toolkit web does
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@dataclass
class Running:
    """A session running on a held gateway (its clock at a Friday close, so the strategy's
    limit order rests), the app served for it with actions allowed."""

    session: Any
    journal: Path
    sid: str
    order_ref: str
    served: Served


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, reports: Path) -> Iterator[Running]:
    from tests.live._sessions import held_gateway, run_in_thread, wait_for_rows
    from tests.live.test_commands import limit_research
    from toolkit.live.bridge import LiveSession

    tmp = tmp_path_factory.mktemp("web-running")
    research = limit_research(tmp)
    with held_gateway() as gw:
        cfg = write_live_config(
            tmp,
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 61},
            strategies=[{"config": str(research), "capital": 100_000, "history": "1 Y"}],
            session={"id": "web-live", "cancel_on_exit": False},
        )
        journal = cfg.session.journal
        session = LiveSession(cfg, echo=None, install_signals=False)
        thread, _ = run_in_thread(session)
        try:
            ((ref,),) = wait_for_rows(
                journal,
                "SELECT order_ref FROM orders WHERE status = 'Submitted'",
                what="Friday's limit order to rest",
            )
            settings = WebSettings(
                journals=(journal,), reports=reports, token=TOKEN, actions=True, poll=0.2
            )
            with Served(settings) as served:
                yield Running(session, journal, "web-live", str(ref), served)
        finally:
            session.stop()
            thread.join(60)


@pytest.fixture(scope="package")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reports folder the toolkit wrote: a backtest (manifest, CSVs, chart.html; no tear
    sheet, the slow part) and a walk-forward (summary, manifest, PNG and page)."""
    from toolkit.app.backtest import run_backtest
    from toolkit.app.robustness import run_walkforward
    from toolkit.config import load_config
    from toolkit.report.chart import write_chart

    root = tmp_path_factory.mktemp("reports")
    cfg = load_config(REPO / "research" / "configs" / "spy_sma_cross.toml")
    out = run_backtest(cfg, reports_root=root, tearsheet=False)
    assert out.report_dir is not None
    write_chart(
        out.result,
        out.report_dir / "chart.html",
        bars=out.bars,
        benchmark=out.benchmark,
        benchmark_name=cfg.data.benchmark,
    )
    run_walkforward(cfg, root)
    return root


@pytest.fixture()
def settings(rehearsed: Rehearsed, reports: Path) -> WebSettings:
    return WebSettings(journals=(rehearsed.journal.parent,), reports=reports, token=TOKEN)


@pytest.fixture()
def client(settings: WebSettings) -> Iterator[TestClient]:
    """An HTTP client with the token's cookie (from the printed URL's redirect)."""
    with TestClient(create_app(settings)) as c:
        assert c.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
        yield c
