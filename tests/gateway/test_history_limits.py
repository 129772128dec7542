"""What the simulator checks on a history request before serving it, with the real ib_async
client: IB's pacing rules (when enabled), ADJUSTED_LAST without an end date, the head time
stamp, and version-less requests it does not serve answered on their own reqId."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
import sys

import pytest

ib_async = pytest.importorskip("ib_async")
from ib_async import IB, RequestError, Stock  # noqa: E402

from toolkit.data._pacing import PacingRules  # noqa: E402
from toolkit.gateway import Gateway  # noqa: E402
from toolkit.gateway.limits import Limits  # noqa: E402
from toolkit.gateway.pacing import PACING_VIOLATION, HistoryPacing  # noqa: E402

# windows shrunk for the test: 2 requests per contract in 1 s, identical ones 30 s apart
RULES = PacingRules(
    identical_seconds=30.0, burst_seconds=1.0, burst_max=2, window_seconds=60, window_max=5
)


@pytest.fixture(scope="module")
def gateway():
    with Gateway(port=0) as gw:
        yield gw


def _connect(gw: Gateway, client_id: int) -> IB:
    ib = IB()
    ib.RaiseRequestErrors = True
    ib.connect("127.0.0.1", gw.port, clientId=client_id, timeout=5)
    return ib


def test_head_timestamp_is_the_first_daily_bar(gateway) -> None:
    ib = _connect(gateway, 41)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        epoch = ib.reqHeadTimeStamp(spy, "TRADES", True, formatDate=2)
        assert epoch == dt.datetime(1993, 1, 29, tzinfo=dt.UTC)  # data/daily/SPY.csv row 1
        text = ib.reqHeadTimeStamp(spy, "ADJUSTED_LAST", True, formatDate=1)
        assert text == dt.datetime(1993, 1, 29)
        with pytest.raises(RequestError) as err:
            ib.reqHeadTimeStamp(Stock("NOPE", "SMART", "USD"), "TRADES", True, formatDate=2)
        assert err.value.code == 200
    finally:
        ib.disconnect()


def test_adjusted_last_is_served_only_up_to_now(gateway) -> None:
    ib = _connect(gateway, 42)
    try:
        [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
        bars = ib.reqHistoricalData(spy, "", "1 M", "1 day", "ADJUSTED_LAST", True)
        assert len(bars) > 15
        with pytest.raises(RequestError) as err:
            ib.reqHistoricalData(spy, "20250102-00:00:00", "1 M", "1 day", "ADJUSTED_LAST", True)
        assert err.value.code == 162 and "adjusted last" in err.value.message
    finally:
        ib.disconnect()


def test_version_less_unserved_requests_end_on_their_own_req_id(gateway) -> None:
    """reqMatchingSymbols (like reqPnL) has no version field; the simulator answered on the
    next field's number, so the client's request never ended (fails before the fix)."""
    ib = _connect(gateway, 43)
    try:

        async def ask() -> object:
            return await asyncio.wait_for(ib.reqMatchingSymbolsAsync("SP"), 5)

        with pytest.raises(RequestError) as err:
            ib.run(ask())
        assert err.value.code == 10000 and "reqMatchingSymbols" in err.value.message
    finally:
        ib.disconnect()


def test_pacing_violations_are_answered_with_162() -> None:
    with Gateway(port=0, limits=Limits(history_pacing=RULES)) as gw:
        ib = _connect(gw, 44)
        try:
            [spy, qqq] = ib.qualifyContracts(
                Stock("SPY", "SMART", "USD"), Stock("QQQ", "SMART", "USD")
            )
            ask = lambda c, end: ib.reqHistoricalData(c, end, "1 M", "1 day", "TRADES", True)  # noqa: E731
            assert ask(spy, "20240301-00:00:00") and ask(spy, "20240401-00:00:00")
            with pytest.raises(RequestError) as err:  # a third for SPY within 1 s
                ask(spy, "20240501-00:00:00")
            assert err.value.code == 162 and PACING_VIOLATION in err.value.message
            assert ask(qqq, "20240301-00:00:00")  # another contract is counted apart
            ib.sleep(1.1)
            with pytest.raises(RequestError):  # identical to the first, within 30 s
                ask(spy, "20240301-00:00:00")
            with pytest.raises(RequestError):  # the sixth request inside the 60 s window
                ask(qqq, "20240601-00:00:00")
            assert gw.state.history_pacing is not None
            assert gw.state.history_pacing.violations == 3
        finally:
            ib.disconnect()


def test_the_detector_counts_by_rule() -> None:
    now = [0.0]
    pacing = HistoryPacing(PacingRules(), clock=lambda: now[0])  # IB's own values
    for k in range(5):
        assert pacing.check(("SPY",), ("SPY", k), 1) == ""
    assert "6 requests" in pacing.check(("SPY",), ("SPY", 5), 1)  # six within 2 s
    now[0] = 2.5
    assert pacing.check(("SPY",), ("SPY", 0), 1).startswith("identical")  # 2.5 s < 15 s
    now[0] = 18.0  # 15.5 s after the refused repeat (refused requests count too)
    assert pacing.check(("SPY",), ("SPY", 0), 1) == ""
    assert pacing.check(("QQQ",), ("QQQ", 0), 2) == ""  # BID_ASK counts twice: 10 so far
    for k in range(50):  # up to 60 within ten minutes
        now[0] = 20.0 + 5.0 * k
        assert pacing.check((k,), (k,), 1) == "", k
    assert "more than 60" in pacing.check(("X",), ("X",), 1)
    now[0] = 20.0 + 600.0 + 1.0  # the first ones age out of the window
    assert pacing.check(("Y",), ("Y",), 1) == ""
    assert pacing.violations == 3


def test_the_command_line_gateway_paces_with_ibs_rules() -> None:
    """``python -m toolkit.gateway --pacing``: six requests for one contract in 2 s (IB's
    values) -- the sixth is refused."""
    server = subprocess.Popen(
        [sys.executable, "-m", "toolkit.gateway", "--port", "0", "--pacing"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        # printed once the port listens, naming the one the system gave
        m = re.search(r"gateway simulator on 127\.0\.0\.1:(\d+) ", line)
        assert m is not None, line
        port = int(m.group(1))
        ib = IB()
        ib.RaiseRequestErrors = True
        ib.connect("127.0.0.1", port, clientId=45, timeout=10)
        try:
            [spy] = ib.qualifyContracts(Stock("SPY", "SMART", "USD"))
            for month in range(1, 6):
                end = f"2024{month:02d}01-00:00:00"
                assert ib.reqHistoricalData(spy, end, "1 M", "1 day", "TRADES", True)
            with pytest.raises(RequestError) as err:
                ib.reqHistoricalData(spy, "20240601-00:00:00", "1 M", "1 day", "TRADES", True)
            assert err.value.code == 162 and PACING_VIOLATION in err.value.message
        finally:
            ib.disconnect()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_gateway_without_data_says_where_data_comes_from(tmp_path) -> None:
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no bar files.*--data DIR or set TOOLKIT_DATA"):
        Gateway(port=0, data_dir=tmp_path)
