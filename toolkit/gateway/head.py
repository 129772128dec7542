"""reqHeadTimeStamp: where a contract's history starts (IB's ``headTimestamp``, message 88).

The simulator's history of a stock starts at its first daily bar (stamped at midnight UTC of
its date), whatever the bar size asked for later: as at IB, the head says where data begins,
not that every bar size reaches back that far.
"""

from __future__ import annotations

import pandas as pd

from toolkit.gateway.market import Market
from toolkit.gateway.requests import HeadTimestamp

HEAD_TIMESTAMP = 88


def head_timestamp(market: Market, symbol: str, r: HeadTimestamp) -> list[str | int | float]:
    """The answer: epoch seconds with formatDate 2, else ``yyyymmdd-hh:mm:ss`` (UTC)."""
    first = pd.Timestamp(market.daily(symbol, adjusted=r.what == "ADJUSTED_LAST").index[0])
    text = str(int(first.timestamp())) if r.format_date == 2 else first.strftime("%Y%m%d-%H:%M:%S")
    return [HEAD_TIMESTAMP, r.req_id, text]
