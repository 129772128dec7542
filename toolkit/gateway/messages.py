"""Server -> client messages at server version 176 (field layouts from the installed client).

Each builder returns the field list for :func:`toolkit.gateway.framing.encode`.
"""

from __future__ import annotations

SERVER_VERSION = 176
MIN_CLIENT_VERSION = 157

# message ids, server -> client
TICK_PRICE, TICK_SIZE, ORDER_STATUS, ERR_MSG, OPEN_ORDER, ACCT_VALUE = 1, 2, 3, 4, 5, 6
PORTFOLIO_VALUE, ACCT_UPDATE_TIME, NEXT_VALID_ID, CONTRACT_DATA = 7, 8, 9, 10
EXECUTION_DATA, MANAGED_ACCTS, HISTORICAL_DATA, CURRENT_TIME = 11, 15, 17, 49
CONTRACT_DATA_END, OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END = 52, 53, 54, 55
POSITION_DATA, POSITION_END, ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END = 61, 62, 63, 64
ACCOUNT_UPDATE_MULTI_END, COMPLETED_ORDERS_END, HISTORICAL_DATA_UPDATE = 74, 102, 90

# error codes (IB's, with IB's texts)
NO_SECURITY_DEFINITION = 200
CLIENT_ID_IN_USE = 326
HISTORICAL_DATA_ERROR = 162
NOT_SUPPORTED = 10_000  # our own: a request this simulator does not implement yet


def managed_accounts(accounts: list[str]) -> list[str | int | float]:
    return [MANAGED_ACCTS, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> list[str | int | float]:
    return [NEXT_VALID_ID, 1, order_id]


def error(req_id: int, code: int, message: str) -> list[str | int | float]:
    """``error``: reqId -1 when not tied to a request; 6 fields are mandatory at >= 166."""
    return [ERR_MSG, 2, req_id, code, message, ""]


def current_time(epoch: int) -> list[str | int | float]:
    return [CURRENT_TIME, 1, epoch]


def end_marker(msg_id: int, *fields: str | int) -> list[str | int | float]:
    """The many ``<name>End`` messages: id, version 1, then optional fields (reqId/account)."""
    if msg_id == COMPLETED_ORDERS_END:
        return [msg_id]
    return [msg_id, 1, *fields]


def account_value(key: str, value: str, currency: str, account: str) -> list[str | int | float]:
    return [ACCT_VALUE, 2, key, value, currency, account]


def account_summary(
    req_id: int, account: str, tag: str, value: str, currency: str
) -> list[str | int | float]:
    return [ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]
