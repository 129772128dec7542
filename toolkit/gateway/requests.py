"""Client requests as typed values, decoded from their fields by one table per message type.

As in ib_async's decoder (a list of field types per message id, read in order), every
request the simulator serves is described once in :data:`LAYOUTS`: the fields in wire
order, each with its name and kind; ``None`` names a field that is read past. Field
positions are those of the installed ib_async client's encoder (``ib_async/client.py``) at
server version 176. Nothing here knows about sockets, sessions or the exchange.

Two ways a field can be bad: a request field that does not parse makes the whole request
:class:`MalformedRequest` (IB answers 320 "Error reading request"); an order field that does
not parse is kept on :attr:`PlaceOrder.error` as IB's 321 for the order id, so the session
refuses that order in IB's order of checks. Order numbers follow the client's encoding: ``""``
is unset (ib_async sends its UNSET_DOUBLE ``1.7976931348623157e308`` as ``""``, and a raw
value that large is read as unset too), ``"Infinite"`` is infinity.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from toolkit.gateway.framing import ProtocolError
from toolkit.gateway.orders import OrderRejected

UNSET_DOUBLE = 1.7976931348623157e308  # the client's "no value" for doubles
UNSET_INTEGER = 2**31 - 1
_INFINITE = {"infinite", "infinity", "inf", "+inf", "+infinity"}
VALIDATION_ERROR = 321  # IB: "Error validating request"
PLACE_ORDER_MIN_FIELDS = 48  # through ocaType: every field the simulator reads or checks

# client -> server message ids
REQ_MKT_DATA, CANCEL_MKT_DATA, PLACE_ORDER, CANCEL_ORDER, REQ_OPEN_ORDERS = 1, 2, 3, 4, 5
REQ_ACCOUNT_UPDATES, REQ_EXECUTIONS, REQ_IDS, REQ_CONTRACT_DETAILS = 6, 7, 8, 9
REQ_MKT_DEPTH, CANCEL_MKT_DEPTH, REQ_AUTO_OPEN_ORDERS, REQ_ALL_OPEN_ORDERS = 10, 11, 15, 16
REQ_HISTORICAL_DATA, CANCEL_HISTORICAL_DATA, REQ_CURRENT_TIME = 20, 25, 49
REQ_HEAD_TIMESTAMP, CANCEL_HEAD_TIMESTAMP = 87, 90
REQ_REAL_TIME_BARS, CANCEL_REAL_TIME_BARS, REQ_GLOBAL_CANCEL = 50, 51, 58
REQ_MARKET_DATA_TYPE, REQ_POSITIONS, REQ_ACCOUNT_SUMMARY, CANCEL_ACCOUNT_SUMMARY = 59, 61, 62, 63
CANCEL_POSITIONS, START_API, REQ_ACCOUNT_UPDATES_MULTI = 64, 71, 76
CANCEL_ACCOUNT_UPDATES_MULTI, REQ_COMPLETED_ORDERS = 77, 99
CALC_IMPLIED_VOLAT, CALC_OPTION_PRICE, CANCEL_CALC_IMPLIED_VOLAT = 54, 55, 56
CANCEL_CALC_OPTION_PRICE, REQ_SEC_DEF_OPT_PARAMS = 57, 78
BAG_LEG_FIELDS = {PLACE_ORDER: 8, REQ_MKT_DATA: 4}  # fields per combo leg as each request sends it


class MalformedRequest(Exception):
    """A request whose fields do not parse (answered with IB's 320, the connection kept)."""

    def __init__(self, msg_id: int, text: str) -> None:
        super().__init__(text)
        self.msg_id = msg_id


def _invalid(name: str, text: str, why: str) -> OrderRejected:
    return OrderRejected(
        VALIDATION_ERROR, f"Error validating request:-'{name}' : cause - {why} ({text[:40]!r})"
    )


def number(text: str, name: str) -> float | None:
    """An order's double field: None when unset, inf for ``Infinite``; 321 when it is not a
    number."""
    text = text.strip()
    if text == "":
        return None
    low = text.lower()
    if low in _INFINITE:
        return math.inf
    if low in ("-infinite", "-infinity", "-inf"):
        return -math.inf
    try:
        value = float(text)
    except ValueError:
        raise _invalid(name, text, "not a number") from None
    if value >= UNSET_DOUBLE:
        return None
    return value


def integer(text: str, name: str) -> int:
    """An order's int field (empty or UNSET_INTEGER -> 0); 321 when it is not an integer."""
    text = text.strip()
    if text == "":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise _invalid(name, text, "not an integer") from None
    return 0 if value == UNSET_INTEGER else value


# -- typed requests ------------------------------------------------------------------------
@dataclass(frozen=True)
class ComboLeg:
    """One leg of a BAG contract: the leg's contract id, its ratio and side in one combo."""

    con_id: int
    ratio: int
    action: str
    exchange: str = ""


@dataclass(frozen=True)
class Contract:
    """The contract block of a request (the fields the simulator looks up by). ``con_id`` is
    None when the client sent one that is not an integer (an order for it is refused as an
    unknown contract). ``legs`` are a BAG's combo legs."""

    con_id: int | None
    symbol: str
    sec_type: str
    exchange: str = ""
    last_trade: str = ""  # lastTradeDateOrContractMonth: YYYYMMDD or YYYYMM
    strike: float = 0.0
    right: str = ""  # C or P (CALL/PUT accepted)
    multiplier: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    legs: tuple[ComboLeg, ...] = ()


@dataclass(frozen=True)
class Request:
    """Any client request; ``msg_id`` is its message type."""

    msg_id: int


@dataclass(frozen=True)
class StartApi(Request):
    client_id: int


@dataclass(frozen=True)
class NoArguments(Request):
    """reqPositions, reqOpenOrders, reqAllOpenOrders, reqCompletedOrders, reqIds,
    reqCurrentTime, reqGlobalCancel: the message id says it all."""


@dataclass(frozen=True)
class AccountUpdates(Request):
    subscribe: bool


@dataclass(frozen=True)
class ById(Request):
    """A request or cancellation that carries only its request id (the cancels,
    reqAccountUpdatesMulti, reqAccountSummary)."""

    req_id: int


@dataclass(frozen=True)
class Executions(Request):
    req_id: int
    client_id: int  # 0: every client's


@dataclass(frozen=True)
class ContractDetails(Request):
    req_id: int
    contract: Contract
    include_expired: bool = False


@dataclass(frozen=True)
class SecDefOptParams(Request):
    """reqSecDefOptParams: the option chains on an underlying (no version field)."""

    req_id: int
    underlying: str
    fut_fop_exchange: str
    underlying_sec_type: str
    underlying_con_id: int


@dataclass(frozen=True)
class OptionCalc(Request):
    """calculateImpliedVolatility (``value`` is the option price) or calculateOptionPrice
    (``value`` is the volatility), with the underlying price to use."""

    req_id: int
    contract: Contract
    value: float
    under_price: float


@dataclass(frozen=True)
class HistoricalData(Request):
    req_id: int
    contract: Contract
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True)
class HeadTimestamp(Request):
    """reqHeadTimeStamp: the first bar's time of a contract's history."""

    req_id: int
    contract: Contract
    use_rth: bool
    what: str
    format_date: int


@dataclass(frozen=True)
class MarketData(Request):
    req_id: int
    contract: Contract
    snapshot: bool


@dataclass(frozen=True)
class MarketDepth(Request):
    req_id: int
    contract: Contract
    rows: int


@dataclass(frozen=True)
class RealTimeBars(Request):
    req_id: int
    contract: Contract


@dataclass(frozen=True)
class CancelOrder(Request):
    order_id: int


@dataclass(frozen=True)
class PlaceOrder(Request):
    """placeOrder: the order's fields as sent. ``error`` is the first order field that did
    not parse (IB's 321, or 201 for what the simulator does not support), raised by the
    session in IB's order of checks; the fields it spoiled are then unset."""

    order_id: int
    contract: Contract
    action: str = ""
    quantity: float | None = None
    order_type: str = ""
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = ""
    oca_group: str = ""
    account: str = ""
    order_ref: str = ""
    transmit: bool = True
    parent_id: int = 0
    delta_neutral_type: str = ""
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    display_size: int = 0
    algo_strategy: str = ""
    algo_params: tuple[tuple[str, str], ...] = ()
    what_if: bool = False
    n_fields: int = 0
    error: OrderRejected | None = None


@dataclass(frozen=True)
class Unhandled(Request):
    """A message type the simulator does not serve; ``req_id`` when its third field is one."""

    req_id: int


# -- field kinds ---------------------------------------------------------------------------
def _int(text: str) -> int:
    return int(text)


def _int0(text: str) -> int:
    """An int where empty means 0 (conId, clientId filter, numRows)."""
    return int(text or 0)


def _lenient_con_id(text: str) -> int | None:
    try:
        return int(text or 0)
    except ValueError:
        return None


def _str(text: str) -> str:
    return text


def _float0(text: str) -> float:
    """A double where empty means 0 (a contract's strike)."""
    return float(text or 0.0)


def _right(text: str) -> str:
    """An option right as C or P (IB accepts CALL and PUT too)."""
    t = text.strip().upper()
    return {"CALL": "C", "PUT": "P"}.get(t, t)


def _flag(text: str) -> bool:
    return text == "1"


def _upper(text: str) -> str:
    return text.strip().upper()


def _stripped(text: str) -> str:
    return text.strip()


Kind = Callable[[str], Any]
FieldSpec = tuple[str | None, Kind | None]
SKIP: FieldSpec = (None, None)


def _skip(n: int) -> tuple[FieldSpec, ...]:
    return (SKIP,) * n


# the 12-field contract block (conId .. tradingClass)
_CONTRACT: tuple[FieldSpec, ...] = (
    ("contract.con_id", _int0),
    ("contract.symbol", _upper),
    ("contract.sec_type", _upper),
    ("contract.last_trade", _stripped),
    ("contract.strike", _float0),
    ("contract.right", _right),
    ("contract.multiplier", _stripped),
    ("contract.exchange", _str),
    SKIP,  # primaryExchange
    ("contract.currency", _upper),
    ("contract.local_symbol", _str),
    ("contract.trading_class", _stripped),
)
_VERSION = SKIP  # most requests' second field is a version the simulator does not need


def _order_number(name: str) -> Kind:
    return lambda text: number(text, name)


def _order_integer(name: str) -> Kind:
    return lambda text: integer(text, name)


_PLACE_ORDER: tuple[FieldSpec, ...] = (
    ("order_id", _int),
    ("contract.con_id", _lenient_con_id),
    *_CONTRACT[1:],
    *_skip(2),  # secIdType, secId
    ("action", _upper),  # 16
    ("quantity", _order_number("totalQuantity")),
    ("order_type", _upper),
    ("lmt_price", _order_number("lmtPrice")),
    ("aux_price", _order_number("auxPrice")),  # 20
    ("tif", _upper),
    ("oca_group", _str),
    ("account", _stripped),
    *_skip(2),  # openClose, origin
    ("order_ref", _str),  # 26
    ("transmit", lambda text: text.strip() != "0"),
    ("parent_id", _order_integer("parentId")),
    *_skip(2),  # blockOrder, sweepToFill
    ("display_size", _order_integer("displaySize")),  # 31: an iceberg's shown size
    *_skip(33),  # triggerMethod (32) .. volatilityType (64)
    ("delta_neutral_type", _str),  # 65
    *_skip(3),  # deltaNeutralAuxPrice, continuousUpdate, referencePriceType
    ("trail_stop_price", _order_number("trailStopPrice")),  # 69
    ("trailing_percent", _order_number("trailingPercent")),  # 70
)

# message id -> (request type, its fields after the message id, in wire order)
LAYOUTS: dict[int, tuple[type[Request], tuple[FieldSpec, ...]]] = {
    START_API: (StartApi, (_VERSION, ("client_id", _int))),
    REQ_POSITIONS: (NoArguments, ()),
    REQ_OPEN_ORDERS: (NoArguments, ()),
    REQ_ALL_OPEN_ORDERS: (NoArguments, ()),
    REQ_COMPLETED_ORDERS: (NoArguments, ()),
    REQ_IDS: (NoArguments, ()),
    REQ_CURRENT_TIME: (NoArguments, ()),
    REQ_GLOBAL_CANCEL: (NoArguments, ()),
    REQ_ACCOUNT_UPDATES: (AccountUpdates, (_VERSION, ("subscribe", _flag))),
    REQ_ACCOUNT_UPDATES_MULTI: (ById, (_VERSION, ("req_id", _int))),
    REQ_ACCOUNT_SUMMARY: (ById, (_VERSION, ("req_id", _int))),
    REQ_EXECUTIONS: (Executions, (_VERSION, ("req_id", _int), ("client_id", _int0))),
    REQ_CONTRACT_DETAILS: (
        ContractDetails,
        (_VERSION, ("req_id", _int), *_CONTRACT, ("include_expired", _flag)),
    ),
    REQ_SEC_DEF_OPT_PARAMS: (
        SecDefOptParams,
        (
            ("req_id", _int),  # no version field
            ("underlying", _upper),
            ("fut_fop_exchange", _str),
            ("underlying_sec_type", _upper),
            ("underlying_con_id", _int0),
        ),
    ),
    CALC_IMPLIED_VOLAT: (
        OptionCalc,
        (_VERSION, ("req_id", _int), *_CONTRACT, ("value", float), ("under_price", float)),
    ),
    CALC_OPTION_PRICE: (
        OptionCalc,
        (_VERSION, ("req_id", _int), *_CONTRACT, ("value", float), ("under_price", float)),
    ),
    CANCEL_CALC_IMPLIED_VOLAT: (ById, (_VERSION, ("req_id", _int))),
    CANCEL_CALC_OPTION_PRICE: (ById, (_VERSION, ("req_id", _int))),
    REQ_HISTORICAL_DATA: (
        HistoricalData,
        (
            ("req_id", _int),  # no version field
            *_CONTRACT,
            SKIP,  # includeExpired
            ("end", _str),  # 15
            ("bar_size", _str),
            ("duration", _str),
            ("use_rth", _flag),
            ("what", _str),
            ("format_date", lambda text: int(text or 1)),  # 20
            ("keep_up_to_date", _flag),
        ),
    ),
    CANCEL_HISTORICAL_DATA: (ById, (_VERSION, ("req_id", _int))),
    REQ_HEAD_TIMESTAMP: (
        HeadTimestamp,
        (
            ("req_id", _int),  # no version field
            *_CONTRACT,
            SKIP,  # includeExpired
            ("use_rth", _flag),
            ("what", _str),
            ("format_date", lambda text: int(text or 1)),
        ),
    ),
    CANCEL_HEAD_TIMESTAMP: (ById, (("req_id", _int),)),
    REQ_MKT_DATA: (
        MarketData,
        (_VERSION, ("req_id", _int), *_CONTRACT, *_skip(2), ("snapshot", _flag)),
    ),
    REQ_MKT_DEPTH: (
        MarketDepth,
        (_VERSION, ("req_id", _int), *_CONTRACT, ("rows", lambda text: int(text or 5))),
    ),
    REQ_REAL_TIME_BARS: (RealTimeBars, (_VERSION, ("req_id", _int), *_CONTRACT)),
    CANCEL_REAL_TIME_BARS: (ById, (_VERSION, ("req_id", _int))),
    CANCEL_MKT_DEPTH: (ById, (_VERSION, ("req_id", _int))),
    CANCEL_MKT_DATA: (ById, (_VERSION, ("req_id", _int))),
    CANCEL_ORDER: (CancelOrder, (_VERSION, ("order_id", _int))),
    PLACE_ORDER: (PlaceOrder, _PLACE_ORDER),
}


# unserved requests whose reqId follows the message id directly (no version field):
# reqMatchingSymbols, reqPnL, reqPnLSingle (ib_async client.py)
_NO_VERSION = frozenset({81, 92, 94})


def message_id(fields: list[str]) -> int:
    """The message type of a frame; a frame without one breaks the protocol."""
    try:
        return int(fields[0])
    except (ValueError, IndexError):
        raise ProtocolError(f"message without an integer id: {fields[:3]!r}") from None


def decode(fields: list[str]) -> Request:
    """The typed request a frame carries (:class:`Unhandled` for a type not in the table).

    Raises :class:`MalformedRequest` when a required field is missing or does not parse."""
    msg_id = message_id(fields)
    layout = LAYOUTS.get(msg_id)
    if layout is None:
        at = 1 if msg_id in _NO_VERSION else 2
        try:
            req_id = int(fields[at]) if len(fields) > at else -1
        except ValueError:
            req_id = -1
        return Unhandled(msg_id, req_id)
    cls, specs = layout
    fields, legs = _combo_legs(msg_id, fields)
    if cls is PlaceOrder:
        return _place_order(fields, specs, legs)
    values, contract = _read(msg_id, fields, specs, lenient=False)
    if contract is not None:
        values["contract"] = Contract(**contract, legs=legs)
    return cls(msg_id, **values)


def _algo_index(fields: list[str]) -> int:
    """Where placeOrder's ``algoStrategy`` sits (83 at 176 when no variable block precedes
    it) after the variable blocks before it (ib_async's ``client.py``): 8 delta-neutral
    fields when ``deltaNeutralOrderType`` (65) is set, 7 scale fields when
    ``scalePriceIncrement`` (73) is a real value, ``hedgeParam`` after a ``hedgeType`` (77),
    3 delta-neutral contract fields when its flag (82) is 1."""

    def at(i: int) -> str:
        return fields[i].strip() if i < len(fields) else ""

    i = 65
    i += 8 if at(i) else 0  # deltaNeutralOrderType .. its designated location
    i += 8  # deltaNeutralAuxPrice .. scalePriceIncrement (73)
    try:
        scale = float(at(i)) if at(i) else 0.0
    except ValueError:
        scale = 0.0
    i += 7 if 0.0 < scale < UNSET_DOUBLE else 0
    i += 4  # scaleTable, activeStartTime, activeStopTime -> hedgeType (77)
    i += 1 if at(i) else 0
    i += 5  # optOutSmartRouting .. notHeld -> delta-neutral contract flag (82)
    i += 3 if at(i) == "1" else 0
    return i + 1


def _algo(fields: list[str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """placeOrder's ``algoStrategy`` and, when it is set, its ``algoParams`` (a count, then
    tag/value pairs), as sent. A count that does not parse or overruns the message is a
    malformed request."""
    i = _algo_index(fields)
    strategy = fields[i].strip() if i < len(fields) else ""
    if not strategy:
        return "", ()
    try:
        n = int(fields[i + 1])
        raw = fields[i + 2 : i + 2 + 2 * n]
        if n < 0 or len(raw) < 2 * n:
            raise ValueError(f"{n} algo parameters announced, {len(raw) // 2} sent")
    except (ValueError, IndexError) as exc:
        raise MalformedRequest(PLACE_ORDER, f"algoParams: {exc}") from None
    return strategy, tuple((raw[2 * k].strip(), raw[2 * k + 1].strip()) for k in range(n))


def _what_if(fields: list[str]) -> bool:
    """placeOrder's ``whatIf`` flag (a margin preview, never executed): index 85 at 176, two
    after ``algoStrategy`` (:func:`_algo_index`), or after an algo's count + tag/value pairs.
    A message too short to reach it is no preview."""

    def at(i: int) -> str:
        return fields[i].strip() if i < len(fields) else ""

    i = _algo_index(fields)
    if at(i):
        try:
            i += 1 + 2 * int(at(i + 1))
        except ValueError:
            return False
    i += 2  # algoStrategy (or its last pair) -> algoId -> whatIf
    return at(i) == "1"


def _combo_legs(msg_id: int, fields: list[str]) -> tuple[list[str], tuple[ComboLeg, ...]]:
    """A BAG contract's legs, and the fields without the variable-length combo lists, so the
    rest is read at the positions of the table (ib_async's ``client.py``: reqMktData sends
    count + conId, ratio, action, exchange per leg after the contract; placeOrder sends,
    after ``hidden``, count + 8 fields per leg, count + a price per order leg, and count +
    tag/value pairs of smart-routing parameters)."""
    per_leg = BAG_LEG_FIELDS.get(msg_id)
    sec_type = 4 if msg_id == PLACE_ORDER else 5
    if per_leg is None or len(fields) <= sec_type or fields[sec_type].strip().upper() != "BAG":
        return fields, ()
    start = 35 if msg_id == PLACE_ORDER else 15
    try:
        n = int(fields[start])
        raw = fields[start + 1 : start + 1 + per_leg * n]
        if n < 0 or len(raw) < per_leg * n:
            raise ValueError(f"{n} combo legs announced, {len(raw) // per_leg} sent")
        legs = tuple(
            ComboLeg(
                int(raw[k * per_leg]),
                int(raw[k * per_leg + 1]),
                raw[k * per_leg + 2].strip().upper(),
                raw[k * per_leg + 3],
            )
            for k in range(n)
        )
        end = start + 1 + per_leg * n
        if msg_id == PLACE_ORDER:
            end += 1 + int(fields[end])  # order combo leg prices
            end += 1 + 2 * int(fields[end])  # smart combo routing params
    except (ValueError, IndexError) as exc:
        raise MalformedRequest(msg_id, f"combo legs: {exc}") from None
    return fields[:start] + fields[end:], legs


def _read(
    msg_id: int, fields: list[str], specs: tuple[FieldSpec, ...], lenient: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Each named field of ``specs`` parsed by its kind. A missing field is an error unless
    ``lenient`` (placeOrder's optional tail)."""
    values: dict[str, Any] = {}
    contract: dict[str, Any] | None = None
    for i, (name, kind) in enumerate(specs, start=1):
        if name is None or kind is None:
            continue
        if i >= len(fields):
            if lenient:
                continue
            raise MalformedRequest(msg_id, f"field {name!r} (#{i}) is missing")
        try:
            value = kind(fields[i])
        except ValueError as exc:
            raise MalformedRequest(msg_id, f"field {name!r}: {exc}") from None
        if name.startswith("contract."):
            contract = {} if contract is None else contract
            contract[name.removeprefix("contract.")] = value
        else:
            values[name] = value
    return values, contract


_TRAIL_FIELDS = ("trailing_percent", "trail_stop_price")  # read only for TRAIL orders


def _place_order(
    fields: list[str], specs: tuple[FieldSpec, ...], legs: tuple[ComboLeg, ...] = ()
) -> PlaceOrder:
    """placeOrder: the order id must parse (320 otherwise); every other field that does not
    is kept as the order's refusal, the first in the order IB checks them."""
    if len(fields) < 5:  # not even a contract to name
        raise MalformedRequest(PLACE_ORDER, f"placeOrder with {len(fields)} fields")
    values, _ = _read(PLACE_ORDER, fields, specs[:1], lenient=False)
    errors: dict[str, OrderRejected] = {}
    parsed: dict[str, Any] = {}
    block: dict[str, Any] = {"con_id": None, "symbol": "", "sec_type": ""}
    for i, (name, kind) in enumerate(specs[1:], start=2):
        if name is None or kind is None or i >= len(fields):
            continue
        try:
            value = kind(fields[i])
        except OrderRejected as exc:
            errors[name] = exc
            continue
        except ValueError:  # a contract field (e.g. the strike) that is no number
            errors[name] = _invalid(name.removeprefix("contract."), fields[i], "not a number")
            continue
        if name.startswith("contract."):
            block[name.removeprefix("contract.")] = value
        else:
            parsed[name] = value
    error = next((e for n, e in errors.items() if n not in _TRAIL_FIELDS), None)
    if len(fields) < PLACE_ORDER_MIN_FIELDS:
        error = _invalid("placeOrder", str(len(fields)), "too few fields")
    elif error is None and parsed.get("order_type") == "TRAIL":
        if len(fields) <= 70 or parsed.get("delta_neutral_type"):
            error = OrderRejected(
                201,
                "Order rejected - reason: TRAIL with delta-neutral fields is not supported "
                "by the simulator",
            )
        else:
            error = next((errors[n] for n in _TRAIL_FIELDS if n in errors), None)
    if parsed.get("order_type") != "TRAIL":
        for name in _TRAIL_FIELDS:
            parsed.pop(name, None)
    parsed["what_if"] = _what_if(fields)
    parsed["algo_strategy"], parsed["algo_params"] = _algo(fields)
    return PlaceOrder(
        PLACE_ORDER,
        values["order_id"],
        Contract(**block, legs=legs),
        n_fields=len(fields),
        error=error,
        **parsed,
    )
