"""The web app in a real headless browser: Debian's chromium driven by playwright (the system
browser: nothing is downloaded). Pages are checked by their DOM and by screenshots: the session
list, an ended session's page with its equity figure drawn by plotly, a backtest report with its
interactive chart, and a running session's page that updates by itself (server-sent events)
while the kill switch is confirmed in a second tab. No chromium is a failure, not a skip:
``make test`` installs it when it can (root), else says how."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.conftest import TOKEN, Rehearsed, Running, Served
from toolkit.live.journal import Journal
from toolkit.web import WebSettings

# one pytest-xdist worker builds the package's session journal and reports once for all
pytestmark = pytest.mark.xdist_group("web")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(
            "no chromium on PATH: the browser tests need Debian's chromium "
            "(apt-get install chromium; `make test` installs it when run as root)"
        )
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def drawn(png: bytes, min_share: float = 0.05) -> Image.Image:
    """The screenshot as an image, asserting it is not blank: many colours, and at least
    ``min_share`` of its pixels not white."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 20, "a screenshot of one or two colours"
    white = sum(n for n, c in colours if min(c) >= 245)
    assert 1.0 - white / (img.width * img.height) >= min_share, "a blank screenshot"
    return img


def login(page: Page, served: Served) -> None:
    page.goto(served.url(f"/sessions?token={TOKEN}"))
    assert page.url == served.url("/sessions")  # the token left the address bar


def test_sessions_reports_and_equity_chart(
    browser: Browser, rehearsed: Rehearsed, reports: Path, tmp_path: Path
) -> None:
    settings = WebSettings(journals=(rehearsed.journal,), reports=reports, token=TOKEN)
    with Served(settings) as served:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(served.url("/sessions"))
        assert "401" in page.content()  # no token, no page
        login(page, served)
        sid = rehearsed.summary.session_id
        row = page.locator(f'tr[data-session="{sid}"]')
        expect(row).to_contain_text("ended")
        drawn(page.screenshot(path=tmp_path / "sessions.png"), 0.02)
        # the ended session: its equity figure drawn by plotly.js, served by the app
        row.get_by_role("link", name=sid).click()
        expect(page.locator("h1")).to_contain_text(f"Session {sid}")
        chart = page.locator("#equity .main-svg").first
        expect(chart).to_be_visible()
        expect(page.locator("#equity")).to_contain_text("Equity and drawdown by strategy")
        traces = page.evaluate("document.getElementById('equity').data.length")
        with Journal(rehearsed.journal) as j:
            strategies = {e["strategy"] for e in j.rows("equity", sid) if e["strategy"]}
        assert strategies and traces == 2 * len(strategies)  # equity and drawdown of each
        drawn(page.locator("#equity").screenshot(path=tmp_path / "equity.png"))
        expect(page.locator("[data-field=fills]")).to_have_text(str(rehearsed.summary.fills))
        expect(page.locator("#fill-line")).to_contain_text(f"{rehearsed.summary.fills} fills")
        drawn(page.screenshot(path=tmp_path / "session.png", full_page=True), 0.02)
        # a backtest report: manifest, metrics and its interactive chart in a frame
        page.goto(served.url("/reports"))
        page.locator("#reports a", has_text="spy_sma_cross-2").first.click()
        expect(page.locator("#metrics")).to_contain_text("sharpe")
        frame = page.frame_locator("iframe[title='chart.html']")
        expect(frame.locator(".main-svg").first).to_be_visible(timeout=30_000)
        drawn(page.locator("iframe[title='chart.html']").screenshot(path=tmp_path / "chart.png"))


def test_running_session_updates_live_and_the_kill_switch_is_confirmed(
    browser: Browser, running: Running, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watcher = context.new_page()
    login(watcher, running.served)
    watcher.locator(f'tr[data-session="{running.sid}"] a').click()
    expect(watcher.locator("#state")).to_have_text("running")
    expect(watcher.locator("#orders")).to_contain_text(running.order_ref)
    expect(watcher.locator("#guards")).not_to_contain_text("manual_kill")
    # a second tab: the kill switch, confirmed by typing the session id
    actor = context.new_page()
    actor.goto(watcher.url)
    actor.get_by_role("link", name="Kill switch…").click()
    expect(actor.locator("h1")).to_contain_text("Kill switch")
    actor.get_by_role("button", name="Kill switch").click()  # the browser refuses: required
    expect(actor.locator("h1")).to_contain_text("Kill switch: session")
    actor.locator("input[name=confirm]").fill(running.sid)
    drawn(actor.screenshot(path=tmp_path / "confirm.png"), 0.01)
    actor.get_by_role("button", name="Kill switch").click()
    expect(actor.locator("#outcome")).to_contain_text("kill: done: kill switch fired for")
    # the watching tab was not reloaded: the server-sent events brought the guard event
    # and then the session's end
    expect(watcher.locator("#guards")).to_contain_text("manual_kill", timeout=60_000)
    expect(watcher.locator("#commands")).to_contain_text("web")
    expect(watcher.locator("#state")).to_have_text("ended", timeout=120_000)
    assert watcher.evaluate("performance.getEntriesByType('navigation').length") == 1
    drawn(watcher.screenshot(path=tmp_path / "running.png", full_page=True), 0.02)
    with Journal(running.journal) as j:
        (cmd,) = j.rows("commands", running.sid)
    assert (cmd["source"], cmd["action"], cmd["status"]) == ("web", "kill", "done")
