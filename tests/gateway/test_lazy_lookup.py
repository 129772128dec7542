"""Looking up a symbol or conId the simulator does not know answers without loading every
option chain (toolkit.gateway._chain_index): the chains' underlyings come from the files'
underlying columns, and an id below the options' range is no option."""

from __future__ import annotations

import pytest

pytest.importorskip("ib_async")
from ib_async import IB, Contract, Index, Stock

from toolkit.gateway import Gateway


def test_an_unknown_symbol_or_conid_is_answered_without_loading_the_chains() -> None:
    with Gateway(port=0, start="2024-03-14 14:00", paused=True) as gw:
        options = gw.state.exchange.market.options
        ib = IB()
        ib.connect("127.0.0.1", gw.port, clientId=1, timeout=5)
        try:
            assert ib.qualifyContracts(Stock("ZZZZ", "SMART", "USD")) == [None]
            assert ib.qualifyContracts(Contract(conId=12345)) == [None]
            assert ib.qualifyContracts(Stock(conId=1)) == [None]
            # a chain's underlying without bars is still found, as an index, from its file
            [spx] = ib.qualifyContracts(Index("SPX", "CBOE", "USD"))
            assert spx.secType == "IND"
            assert options._frame is None  # none of it loaded the 75,721 quotes
            assert set(options.underlyings()) == {"SPX", "SPY", "VXX"}
        finally:
            ib.disconnect()
