"""orderRefs as a parsed value (issue 14, item 1): one grammar, written and read back, and
bracket legs recognised from the parsed value."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.live.orders import LEGS, OrderRef, is_bracket_leg, leg_ref, order_ref, short_ref

_NAME = st.text(st.characters(categories=("L", "N"), include_characters="-_.:"), min_size=1)
_SESSION = st.text(st.characters(categories=("L", "N"), include_characters="-_./"), min_size=1)
_BAR = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)).map(
    lambda t: pd.Timestamp(t).floor("min")
)


@given(_SESSION, _NAME, _NAME, _BAR, st.sampled_from((None, *LEGS)))
def test_an_order_ref_reads_back_as_itself(
    session: str, strategy: str, symbol: str, bar: pd.Timestamp, leg: str | None
) -> None:
    ref = OrderRef(session, strategy, symbol, bar, leg)
    text = str(ref)
    assert OrderRef.parse(text) == ref
    assert is_bracket_leg(text) == (leg is not None)
    assert str(ref.entry) == order_ref(session, strategy, symbol, bar)
    if leg is not None:
        assert text == leg_ref(str(ref.entry), leg)


def test_the_text_is_the_one_the_journal_already_holds() -> None:
    daily = OrderRef("s", "strat", "SPY", pd.Timestamp("2024-03-14", tz="UTC"))
    assert str(daily) == "s/strat/SPY/20240314"
    intraday = OrderRef("s", "x", "SPY", pd.Timestamp("2024-03-14 14:05", tz="UTC"), "sl")
    assert str(intraday) == "s/x/SPY/20240314T1405/sl"
    assert OrderRef.parse("s/x/SPY/20240314T1405/sl").entry == intraday.entry


def test_a_session_id_with_slashes_is_no_bracket_leg() -> None:
    """The bridge recognised a bracket leg by counting '/' in the orderRef (more than 3): an
    entry order of a session id holding a '/' looked like a leg, and a new decision cancelled
    it as 'a protective order of the old position'."""
    entry = order_ref("desk/paper", "sma", "SPY", pd.Timestamp("2024-03-14", tz="UTC"))
    assert entry.count("/") > 3  # the old rule's mistake
    assert not is_bracket_leg(entry)
    assert is_bracket_leg(leg_ref(entry, "tp"))
    assert OrderRef.parse(leg_ref(entry, "tp")).session == "desk/paper"


def test_bad_parts_are_refused_with_the_grammar() -> None:
    with pytest.raises(ValueError, match="not a toolkit orderRef"):
        OrderRef.parse("s/strat/SPY")
    with pytest.raises(ValueError, match="without '/'"):
        OrderRef("s", "a/b", "SPY", pd.Timestamp("2024-03-14", tz="UTC"))
    with pytest.raises(ValueError, match="leg"):
        leg_ref("s/strat/SPY/20240314", "stop")
    assert not is_bracket_leg("manual order")


def test_a_short_ref_drops_the_session_only() -> None:
    """The dashboard's and the keys' prompt: the strategy stays on a bracket leg and a
    schedule's child (splitting at "/" kept the last three parts: 'SPY/20240105/sl')."""
    bar = pd.Timestamp("2024-01-05", tz="UTC")
    ref = OrderRef("paper/2024-01-05T09:30", "trend", "SPY", bar)
    assert short_ref(str(ref)) == "trend/SPY/20240105"
    assert short_ref(str(ref.child("sl"))) == "trend/SPY/20240105/sl"
    assert short_ref(str(ref.sliced(3))) == "trend/SPY/20240105/c3"
    assert short_ref("manual-order-7") == "manual-order-7"  # not ours: shown whole
