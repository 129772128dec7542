"""Simulated IB Gateway speaking the TWS socket protocol, so the real ib_async client can
connect, qualify contracts and download history without an IB account.

Implemented: handshake (server version 176), startup sync, account values and summary,
client ids (duplicates refused with IB's 326), current time, contract details (unknown
symbols get IB's 200), historical bars (durations, bar sizes, TRADES/MIDPOINT/ADJUSTED_LAST,
both date formats, RTH filter). Not yet: orders, streaming market data, depth,
keepUpToDate -- those requests are answered with an error that names them.
"""

from toolkit.gateway.market import Market, SimClock, con_id_for
from toolkit.gateway.server import Gateway, GatewayState

__all__ = ["Gateway", "GatewayState", "Market", "SimClock", "con_id_for"]
