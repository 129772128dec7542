"""The web app over HTTP (FastAPI's TestClient): the token, every page, the numbers against
``python -m toolkit.live status`` / ``orders`` and report notebook 12, the report folders, and
the read-only default. The journal is a real simulated session's."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import TOKEN, Rehearsed
from toolkit.app.live import main as live_main
from toolkit.live.journal import Journal
from toolkit.live.summary import format_summary, summarize
from toolkit.web import WebSettings, create_app

# one pytest-xdist worker builds the package's session journal and reports once for all
pytestmark = pytest.mark.xdist_group("web")


def fields(page: str) -> dict[str, str]:
    """The values the page marks with data-field, as shown."""
    return {
        k: html.unescape(v).strip() for k, v in re.findall(r'data-field="(\w+)">([^<]*)<', page)
    }


def session_url(r: Rehearsed) -> str:
    return f"/sessions/{r.journal.stem}/{r.summary.session_id}"


def test_the_token_is_required(settings: WebSettings, rehearsed: Rehearsed) -> None:
    with TestClient(create_app(settings)) as c:
        for path in (
            "/sessions",
            session_url(rehearsed),
            "/reports",
            "/static/plotly.min.js",
            "/api/sessions",
            session_url(rehearsed) + "/events",
        ):
            denied = c.get(path)
            assert denied.status_code == 401, path
            assert "?token=" in denied.text
        assert c.get("/sessions?token=wrong").status_code == 401
        assert c.get("/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/sessions", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        # the printed URL: a cookie, and a redirect that takes the token out of the address
        first = c.get(f"/sessions?token={TOKEN}", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/sessions"
        cookie = first.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert c.get("/sessions").status_code == 200  # the cookie from now on


def test_session_list(client: TestClient, rehearsed: Rehearsed) -> None:
    page = client.get("/sessions")
    assert page.status_code == 200
    sid = rehearsed.summary.session_id
    assert f'href="{session_url(rehearsed)}"' in page.text
    row = re.search(rf'<tr data-session="{sid}">(.*?)</tr>', page.text, re.S)
    assert row is not None and "ended" in row.group(1) and "simulated" in row.group(1)
    (api,) = [r for r in client.get("/api/sessions").json() if r["session_id"] == sid]
    assert api["fills"] == rehearsed.summary.fills and api["orders"] == rehearsed.summary.orders
    assert api["guards"] == rehearsed.summary.guards and api["state"] == "ended"


STATUS_FIELDS = {
    "net P&L": "pnl",
    "realized": "realized",
    "unrealized": "unrealized",
    "commissions": "commissions",
    "round trips": "round_trips",
    "win rate": "win_rate",
    "avg P&L / trade": "avg_trade",
}


def test_session_page_numbers_are_status_numbers(
    client: TestClient, rehearsed: Rehearsed, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = rehearsed.summary.session_id
    assert live_main(["status", "--journal", str(rehearsed.journal), sid]) == 0
    status = capsys.readouterr().out
    page = client.get(session_url(rehearsed))
    assert page.status_code == 200
    shown = fields(page.text)
    for label, field in STATUS_FIELDS.items():
        m = re.search(rf"^ +{re.escape(label)}  +(\S+)", status, re.M)
        assert m is not None, label
        assert shown[field] == m.group(1), (label, shown[field], m.group(1))
    m = re.search(r"slippage vs signal price\s+(\S+)", status)
    assert m is not None and shown["slippage"] == m.group(1)
    m = re.search(r"orders (\d+), fills (\d+), working (\d+), guard events (\d+)", status)
    assert m is not None
    assert [shown[k] for k in ("orders", "fills", "working_orders", "guards")] == list(m.groups())
    assert rehearsed.summary.fills > 0 and rehearsed.summary.tca is not None
    m = re.search(r"TCA, (\d+) parent orders .* difference (\S+)\)", status, re.S)
    assert m is not None
    assert (shown["tca_orders"], shown["tca_difference"]) == m.groups()
    # every parent order's total cost as `orders --json` has it
    assert (
        live_main(["orders", "--journal", str(rehearsed.journal), "--session", sid, "--json"]) == 0
    )
    orders = json.loads(capsys.readouterr().out)
    assert orders
    for o in orders:
        row = re.search(
            rf'<tr data-order="{re.escape(o["order_ref"])}">(.*?)</tr>', page.text, re.S
        )
        assert row is not None, o["order_ref"]
        assert f'data-field="total_cost">{o["total_cost"]:,.2f}<' in row.group(1)
    # the API's numbers are summarize()'s, unrounded
    api = client.get(f"/api{session_url(rehearsed)}").json()
    with Journal(rehearsed.journal) as j:
        s = summarize(j, sid)
    assert (api["pnl"], api["realized"], api["commissions"], api["fills"]) == (
        s.pnl,
        s.realized,
        s.commissions,
        s.fills,
    )
    assert len(api["orders_tca"]) == len(orders)
    # the page's sections, with the session's equity figure and plotly.js served locally
    for section in (
        "Positions",
        "Fills against the signal price",
        "Orders and their transaction costs",
        "Guard events",
        "Commands",
        'id="equity"',
        '<script src="/static/plotly.min.js">',
    ):
        assert section in page.text, section
    assert "Equity and drawdown by strategy" in page.text
    js = client.get("/static/plotly.min.js")
    assert js.headers["content-type"].startswith("application/javascript")
    assert "plotly.js" in js.text[:2000] and len(js.content) > 1_000_000
    assert "EventSource" not in page.text  # an ended session is not watched
    assert "Kill switch" not in page.text  # read-only
    assert format_summary(s).splitlines()[0].startswith(f"Session {sid}")


@pytest.mark.slow
def test_session_page_numbers_are_report_12s(
    client: TestClient, rehearsed: Rehearsed, tmp_path: Path
) -> None:
    """Report notebook 12 executed on the same journal prints the summary and the fills' line
    the page shows."""
    from tests.notebooks._execute import execute

    run = execute("12_live_session_report.ipynb", {"journal": str(rehearsed.journal)}, tmp_path)
    assert not run.errors, run.errors
    page = html.unescape(client.get(session_url(rehearsed)).text)
    fill_line = re.search(r'<p id="fill-line">([^<]*)</p>', page)
    assert fill_line is not None and fill_line.group(1) in run.text
    shown = fields(page)
    for label, field in STATUS_FIELDS.items():
        m = re.search(rf"^ +{re.escape(label)}  +(\S+)", run.text, re.M)
        assert m is not None and shown[field] == m.group(1), label


def test_reports(client: TestClient, reports: Path) -> None:
    listing = client.get("/reports")
    assert listing.status_code == 200
    names = re.findall(r'href="/reports/view/([^"]+)"', listing.text)
    backtest = next(n for n in names if "walkforward" not in n)
    walk = next(n for n in names if "walkforward" in n)
    page = client.get(f"/reports/view/{backtest}")
    assert page.status_code == 200 and "backtest" in page.text
    manifest = json.loads((reports / backtest / "manifest.json").read_text())
    assert manifest["git"]["commit"] in page.text  # the manifest: commit, data hashes, config
    assert manifest["data_files"][0]["sha256"] in page.text
    assert 'id="metrics"' in page.text and "sharpe" in page.text
    assert f'<iframe src="/reports/file/{backtest}/chart.html"' in page.text
    assert "equity.csv" in page.text and "trades.csv" in page.text
    chart = client.get(f"/reports/file/{backtest}/chart.html")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("text/html")
    assert chart.text == (reports / backtest / "chart.html").read_text()
    page = client.get(f"/reports/view/{walk}")
    assert page.status_code == 200 and "robustness" in page.text
    assert f'<img src="/reports/file/{walk}/walkforward.png"' in page.text
    assert 'id="summary"' in page.text
    # nothing outside the reports folder, nothing that is not there
    for bad in (
        "/reports/file/../pyproject.toml",
        "/reports/file/%2e%2e/%2e%2e/etc/passwd",
        "/reports/view/nope",
        f"/reports/file/{backtest}/nope.csv",
    ):
        assert client.get(bad).status_code == 404, bad


def test_read_only_by_default(client: TestClient, rehearsed: Rehearsed) -> None:
    url = session_url(rehearsed)
    for action in ("kill", "cancel_all"):
        page = client.get(f"{url}/confirm/{action}")
        assert page.status_code == 403 and "read-only" in page.text
        sent = client.post(
            f"{url}/actions/{action}", data={"confirm": rehearsed.summary.session_id}
        )
        assert sent.status_code == 403
    with Journal(rehearsed.journal) as j:
        assert j.rows("commands", rehearsed.summary.session_id) == []


def test_unknown_session_and_journal(client: TestClient, rehearsed: Rehearsed) -> None:
    assert client.get(f"/sessions/{rehearsed.journal.stem}/nope").status_code == 404
    assert client.get(f"/sessions/{rehearsed.journal.stem}/nope/events").status_code == 404
    page = client.get("/sessions/nope/x")
    assert page.status_code == 404 and "no journal 'nope'" in html.unescape(page.text)


def test_the_list_sees_a_journal_change(rehearsed: Rehearsed, tmp_path: Path) -> None:
    """The list's per-journal cache is read again once the journal changed: a session
    started after the first look is listed at the next one, running while it holds its lock."""
    import shutil

    from toolkit.live._lock import SessionLock

    journal = tmp_path / "state" / "journal.sqlite"
    journal.parent.mkdir()
    shutil.copy(rehearsed.journal, journal)  # the finished session's (no WAL left)
    settings = WebSettings(journals=(journal.parent,), reports=tmp_path, token=TOKEN)
    with TestClient(create_app(settings)) as c:
        c.get(f"/?token={TOKEN}")
        before = c.get("/api/sessions").json()
        assert [r["session_id"] for r in before] == [rehearsed.summary.session_id]
        with Journal(journal) as j:
            j.start_session("later", mode="paper", account="DU1", config={"capital": {"a": 5.0}})
        lock = SessionLock(journal, "later")  # what a running session holds
        try:
            after = c.get("/api/sessions").json()
            assert [r["session_id"] for r in after] == ["later", rehearsed.summary.session_id]
            assert after[0]["state"] == "running" and after[0]["capital"] == 5.0
        finally:
            lock.release()
        assert c.get("/api/sessions").json()[0]["state"] == "stopped (not ended)"
