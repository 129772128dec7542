"""The client's pacer against an independent check of IB's rules (the gateway's detector):
whatever stream of history requests, the pacer's waits keep every rule, and it waits no
longer than the binding rule needs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.data._pacing import HistoryKey, Pacer, PacingRules
from toolkit.gateway.pacing import HistoryPacing

RULES = PacingRules(
    identical_seconds=15.0, burst_seconds=2.0, burst_max=5, window_seconds=60.0, window_max=12
)
requests = st.lists(
    st.tuples(
        st.sampled_from(["SPY", "QQQ", "IWM"]),  # contract
        st.sampled_from(["TRADES", "MIDPOINT", "BID_ASK"]),  # tick type
        st.integers(0, 3),  # end date: few values, so identical requests recur
        st.floats(0.0, 3.0),  # the caller's own gap before asking
    ),
    max_size=80,
)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@settings(max_examples=150, deadline=None)
@given(requests)
def test_paced_requests_never_violate(stream: list[tuple[str, str, int, float]]) -> None:
    clock = Clock()
    pacer = Pacer(RULES, margin=0.001, clock=clock)
    gateway = HistoryPacing(RULES, clock=clock)
    for symbol, what, end, gap in stream:
        clock.t += gap
        weight = 2 if what == "BID_ASK" else 1
        key = HistoryKey((symbol, what), (symbol, what, end), weight)
        wait = pacer.delay(key)
        assert wait >= 0.0
        clock.t += wait
        assert pacer.delay(key) <= 1e-9  # after the wait it may go
        assert gateway.check((symbol, what), (symbol, what, end), weight) == ""
        pacer.sent(key)


def test_unpaced_requests_do_violate() -> None:
    clock = Clock()
    gateway = HistoryPacing(RULES, clock=clock)
    broken = [gateway.check(("SPY", "TRADES"), ("SPY", k), 1) for k in range(6)]
    assert broken[:5] == [""] * 5 and broken[5]


def test_waits_are_what_the_binding_rule_needs() -> None:
    clock = Clock()
    pacer = Pacer(RULES, margin=0.0, clock=clock)
    spy = [HistoryKey(("SPY", "TRADES"), ("SPY", k)) for k in range(20)]
    for k in range(5):
        assert pacer.delay(spy[k]) == 0.0
        pacer.sent(spy[k])
        clock.t += 0.1
    assert abs(pacer.delay(spy[5]) - (2.0 - 0.5)) < 1e-9  # the first of five ages out at 2.0
    assert pacer.delay(HistoryKey(("QQQ", "TRADES"), ("QQQ", 0))) == 0.0  # other contract
    assert abs(pacer.delay(spy[0]) - (15.0 - 0.5)) < 1e-9  # identical to the first
    clock.t = 100.0
    for k in range(12):  # twelve in the 60 s window, spread out
        assert pacer.delay(spy[k]) == 0.0
        pacer.sent(spy[k])
        clock.t += 2.5
    # the 13th waits until the window's first request (t=100) is 60 s old
    assert abs(pacer.delay(spy[12]) - (160.0 - clock.t)) < 1e-9
