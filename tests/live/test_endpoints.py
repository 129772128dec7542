"""A live session's /healthz, /readyz and /metrics (issue 19.1) over real HTTP, with the
session trading against the gateway simulator over TCP: a dropped connection turns /readyz to
503 within 2 s and back to 200 after the reconnect; /metrics parses and its counts are the
journal's; the kill switch makes the session unready."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live._sessions import held_gateway, journal_rows, run_in_thread, wait_for, wait_for_rows
from toolkit.errors import ConfigError
from toolkit.gateway.probes import parse_address
from toolkit.live._readiness import following, stale_since
from toolkit.live.bridge import LiveSession
from toolkit.live.commands import submit
from toolkit.live.endpoints import endpoints_for
from toolkit.live.journal import Journal

SID = "probes"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def _metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = _get(url + "/metrics")
    assert status == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def test_readyz_answers_503_on_a_drop_and_200_after_the_reconnect(live_config) -> None:
    with held_gateway() as gw:
        cfg = live_config(
            connection={"host": "127.0.0.1", "port": gw.port, "client_id": 41},
            session={"id": SID, "cancel_on_exit": False},
        )
        session = LiveSession(cfg, echo=None, install_signals=False, endpoints="127.0.0.1:0")
        thread, result = run_in_thread(session)
        try:
            url = wait_for(lambda: session.endpoints and session.endpoints.url, what="endpoints")
            assert _get(url + "/healthz")[0] == 200
            wait_for(lambda: _get(url + "/readyz")[0] == 200, what="ready after the first sync")
            wait_for_rows(cfg.session.journal, "SELECT 1 FROM orders", what="the first order")
            t0 = time.monotonic()
            gw.drop_clients()  # IB Gateway's restart or a network outage, as the client sees it
            timeline: list[tuple[float, int, str]] = []
            while time.monotonic() - t0 < 60:
                status, body = _get(url + "/readyz")
                timeline.append((time.monotonic() - t0, status, body))
                if status == 200 and any(s == 503 for _, s, _ in timeline):
                    break
                time.sleep(0.01)
            first_503 = next(t for t, s, _ in timeline if s == 503)
            back = timeline[-1]
            print(
                f"readiness timeline: drop at 0 ms, 503 at {first_503 * 1e3:.0f} ms, "
                f"200 again at {back[0] * 1e3:.0f} ms after the reconnect "
                f"({len(timeline)} probes)"
            )
            assert first_503 < 2.0
            assert back[1] == 200 and session.reconnects == 1
            reasons = next(json.loads(b)["reasons"] for _, s, b in timeline if s == 503)
            assert any("broker not connected" in r or "not yet synced" in r for r in reasons)
            # /metrics parses, and its counts are the journal's
            gw.advance("3D")  # Monday's open fills the order; Monday's bar is decided
            wait_for_rows(cfg.session.journal, "SELECT 1 FROM fills", what="the fill")
            wait_for(
                lambda: journal_rows(
                    cfg.session.journal, "SELECT 1 FROM decisions WHERE bar_time LIKE '2023-03-13%'"
                ),
                what="Monday's decision",
            )
            samples = _metrics(url)
            label = (("strategy", "spy_sma_paper"),)
            with Journal(cfg.session.journal) as j:
                orders = j.rows("orders", SID)
                fills = j.rows("fills", SID)
            assert samples[("toolkit_live_orders_total", label)] == len(orders) >= 1
            assert samples[("toolkit_live_fills_total", label)] == len(fills) >= 1
            assert samples[("toolkit_live_rejections_total", label)] == 0
            assert samples[("toolkit_live_reconnects_total", ())] == 1
            assert samples[("toolkit_live_connected", ())] == 1
            decided = samples[("toolkit_live_bar_decision_seconds_count", label)]
            assert decided == len({d for (d,) in journal_rows(
                cfg.session.journal, "SELECT DISTINCT bar_time FROM decisions")})  # fmt: skip
            held = gw.state.book.positions["SPY"].quantity
            close = session.sleeves["spy_sma_paper"].closes["SPY"]
            assert samples[("toolkit_live_gross_exposure", label)] == pytest.approx(
                abs(held) * close
            )
            assert samples[("toolkit_live_equity", label)] == pytest.approx(
                session.sleeves["spy_sma_paper"].last_equity
            )
            # the kill switch: unready, named, and counted as a guard firing
            with Journal(cfg.session.journal) as j:
                submit(j, SID, "kill", "spy_sma_paper")
            status, body = wait_for(
                lambda: (r := _get(url + "/readyz"))[0] == 503 and r, what="unready once killed"
            )
            assert any("kill switch on" in r for r in json.loads(body)["reasons"])
            guards = journal_rows(
                cfg.session.journal,
                f"SELECT guard, COUNT(*) FROM guard_events WHERE session_id = '{SID}' "
                "GROUP BY guard",
            )
            samples = _metrics(url)
            for guard, n in guards:
                assert samples[("toolkit_live_guard_firings_total", (("guard", guard),))] == n
            assert samples[("toolkit_live_ready", ())] == 0
        finally:
            session.stop()
            thread.join(30)
        assert result and not isinstance(result[0], BaseException), result
        with pytest.raises(urllib.error.URLError):  # stopped with the session: port closed
            urllib.request.urlopen(url + "/healthz", timeout=2)


def test_two_bar_periods_are_counted_in_trading_time() -> None:
    friday = pd.Timestamp("2023-03-10", tz="UTC")
    assert following(friday, "1 day") == pd.Timestamp("2023-03-13", tz="UTC")
    # Friday's bar decided: ready all weekend and Monday, unready once Tuesday has closed
    assert stale_since(friday, "1 day") == pd.Timestamp("2023-03-14 20:00", tz="UTC")
    last = pd.Timestamp("2023-03-10 20:55", tz="UTC")  # the last 5-minute bar (EST)
    assert following(last, "5 mins") == pd.Timestamp("2023-03-13 13:30", tz="UTC")
    assert stale_since(last, "5 mins") == pd.Timestamp("2023-03-13 13:40", tz="UTC")
    noon = pd.Timestamp("2023-03-13 16:00", tz="UTC")
    assert stale_since(noon, "1 hour") == pd.Timestamp("2023-03-13 19:00", tz="UTC")


def test_a_missing_journal_is_a_reason(tmp_path) -> None:
    from toolkit.live._readiness import journal_writable

    assert "missing" in str(journal_writable(tmp_path / "none.sqlite"))
    Journal(tmp_path / "j.sqlite").close()
    assert journal_writable(tmp_path / "j.sqlite") is None


@pytest.mark.parametrize(
    ("cli", "expected"),
    [("9200", ("127.0.0.1", 9200)), ("0.0.0.0:9108", ("0.0.0.0", 9108))],
)
def test_the_cli_address_overrides_the_config(cli: str, expected: Any) -> None:
    got = endpoints_for(cli, None)
    assert got is not None and (got.host, got.port) == expected
    assert endpoints_for(None, None) is None


@pytest.mark.parametrize("bad", ["x", "host:", "1:99999"])
def test_a_bad_address_is_one_line(bad: str) -> None:
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_address(bad)


def test_the_config_table_is_checked(live_config, tmp_path) -> None:
    from toolkit.live.config import load_live_config

    cfg = live_config()
    cfg.source.write_text(cfg.source.read_text() + "[endpoints]\nport = 9108\n")
    got = load_live_config(cfg.source).endpoints
    assert got is not None and (got.host, got.port) == ("127.0.0.1", 9108)
    cfg.source.write_text(cfg.source.read_text() + "prot = 1\n")
    with pytest.raises(ConfigError, match=r"\[endpoints\] unknown key prot"):
        load_live_config(cfg.source)
