"""Simulated IB Gateway speaking the TWS socket protocol, so the real ib_async client can
connect, qualify contracts, download history and trade without an IB account.

Implemented: handshake (server version 176), startup sync, account values, portfolio and
summary, client ids (duplicates refused with IB's 326), current time, contract details
(unknown symbols get IB's 200), historical bars (durations, bar sizes,
TRADES/MIDPOINT/ADJUSTED_LAST, both date formats, RTH filter), and MKT, LMT, STP, STP LMT
and TRAIL (amount or percent) orders that
fill with the engine's fill rules and IBKR commissions as the simulated clock replays bars:
modify, cancel (202), global cancel, rejections (200, 201, 110), executions and commission
reports, positions, and replay of orders and fills to a reconnecting client.
Streams: keepUpToDate bar updates and reqMktData quotes (bid/ask from a spread model,
last, volume, close; snapshots too). Brackets (parentId + transmit), OCA groups, partial
fills under a participation limit (share of each bar's volume), DAY expiry, GTC, OPG (the
next opening auction), IOC and FOK work; every order field is checked with IB's error codes.
Resource limits (32 API clients, handshake time, request size, slow readers, finished orders
kept) are in :mod:`toolkit.gateway.limits`.
Depth (L2) comes from a depth model, or for one symbol from a LOBSTER day replayed
(:mod:`toolkit.gateway.depth_replay`); orders beyond 4x equity are rejected (201). Tested with
ib_async 2.1.0 and ib_insync 0.9.86. Real-time bars are 5-second bars derived from the
replayed minutes with a path model (they add up to each minute exactly).
Options (:mod:`toolkit.gateway.options`): contract details and secdef parameters for the
shipped chains, option quotes with option computation ticks from our own Greeks,
calculateImpliedVolatility/OptionPrice, and option and combo (BAG) orders filled all or none
at the legs' touch against a net limit, with per-leg executions and positions; expiry
settlement by the engine's rule and strategy-based option margin (:mod:`toolkit.gateway.margin`).
"""

from typing import TYPE_CHECKING

from toolkit._lazy import lazy_exports

# lazy (toolkit/_lazy.py): ``python -m toolkit.gateway --help`` need not load pandas and numba
_EXPORTS = {
    "Gateway": "toolkit.gateway.server:Gateway",
    "GatewayState": "toolkit.gateway.router:GatewayState",
    "Market": "toolkit.gateway.market:Market",
    "SimClock": "toolkit.gateway.market:SimClock",
    "con_id_for": "toolkit.gateway.market:con_id_for",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from toolkit.gateway.market import Market, SimClock, con_id_for
    from toolkit.gateway.router import GatewayState
    from toolkit.gateway.server import Gateway

__all__ = ["Gateway", "GatewayState", "Market", "SimClock", "con_id_for"]
