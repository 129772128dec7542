"""The simulator's clock -> quote date rule for the shipped end-of-day option chains (no
sockets): quotes of date d exist from d's close, stay in force until the next date's close
and never more than five days; expired contracts have none."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from toolkit.data import default_data_dir
from toolkit.gateway.options import OptionChains


@pytest.fixture(scope="module")
def chains() -> OptionChains:
    return OptionChains(default_data_dir())


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2018-01-02 20:59", None),  # before the first 2018 close (16:00 New York = 21:00 UTC)
        ("2018-01-02 21:00", "2018-01-02"),
        ("2018-01-03 15:00", "2018-01-02"),  # during the next session: yesterday's close
        ("2018-01-08 14:30", "2018-01-05"),  # Monday morning: Friday's
        ("2018-01-08 21:00", "2018-01-08"),
        ("2018-03-05 21:00", "2018-02-28"),  # five days after the last date: still in force
        ("2018-03-05 21:01", None),  # older than five days: not served
    ],
)
def test_quote_date_in_force(chains: OptionChains, now: str, expected: str | None) -> None:
    got = chains.quote_date("SPX", _utc(now))
    assert got == (None if expected is None else pd.Timestamp(expected))


def test_contract_ids_are_stable_and_quotes_end_at_expiry(chains: OptionChains) -> None:
    [c] = chains.find(symbol="SPX", last_trade="20180131", strike=2700.0, right="P")
    digest = hashlib.blake2b(c.local_symbol.encode(), digest_size=8).digest()
    assert c.local_symbol == "SPXW  180131P02700000"
    assert c.con_id == 1_000_000_000 + int.from_bytes(digest, "big") % 1_000_000_000
    assert len({x.con_id for x in chains.contracts.values()}) == len(chains.contracts)
    on_expiry = chains.quote(c, _utc("2018-01-31 21:30"))
    assert on_expiry is not None and on_expiry.quote_date == pd.Timestamp("2018-01-31")
    assert chains.quote(c, _utc("2018-02-01 21:30")) is None  # expired: no quote, marked at 0
    assert chains.mark(c, _utc("2018-02-01 21:30")) == 0.0
    assert chains.find(symbol="SPX", last_trade="201801", as_of=pd.Timestamp("2018-02-01")) == []


def test_a_data_folder_without_option_files_has_no_contracts(tmp_path) -> None:
    empty = OptionChains(tmp_path)  # no options/ folder at all (a bars-only data folder)
    now = _utc("2018-01-10 22:00")
    assert empty.find(con_id=5) == [] and empty.find(symbol="SPX") == []
    assert empty.underlyings() == {} and empty.quote_date("SPX", now) is None
    assert empty.underlying_price("SPX", now) is None
