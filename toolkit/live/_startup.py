"""What a session settles before it trades: which account it may trade (refusing a live
account without ``--live``, or any account but the configured one), the record of its
config in the journal, and each strategy's book."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from toolkit import strategies
from toolkit.engine.backtest import book_weights
from toolkit.errors import ConfigError, ToolkitError
from toolkit.live.config import LIVE_PORTS, PAPER_PORTS, Endpoint, LiveConfig
from toolkit.live.sleeve import Sleeve


class LiveError(ToolkitError):
    """The session cannot start or continue safely (connection, account, contracts)."""


class StopRequested(LiveError):
    """A stop (Ctrl+C, SIGTERM, ``stop()``) came before the session had started trading: both
    session kinds raise it, and the command ends with one line and exit 0."""


def stopped_while_connecting(host: str | None, port: int | None) -> StopRequested:
    """What either session kind raises when a stop ends its first connect."""
    return StopRequested(f"stopped while connecting to {host}:{port}; nothing was traded.")


@dataclass(frozen=True)
class Target:
    """Where a session connects and what it may do there: ``host`` None means the embedded
    simulator; ``mode`` is "simulated", "paper" or "live"; ``sid`` the session id."""

    host: str | None
    port: int
    embedded: bool
    mode: str
    sid: str


def session_target(
    cfg: Endpoint,
    name: str,
    *,
    live: bool,
    host: str | None,
    port: int | None,
    session_id: str | None,
) -> Target:
    """The one start-up safety rule of every session (stock or option): a live-trading port
    of IB Gateway/TWS needs ``--live``, and ``--live`` needs ``[connection] account`` so the
    account check can refuse any other; paper by default. ConfigError otherwise."""
    host = host if host is not None else cfg.connection.host
    port = port if port is not None else cfg.connection.port
    embedded = host is None
    if port in LIVE_PORTS and not embedded and not live:
        raise ConfigError(
            f"port {port} is a live-trading port of IB Gateway/TWS; pass --live to "
            "trade real money, or use the paper ports 4002 (Gateway) / 7497 (TWS)."
        )
    if live and not cfg.connection.account:
        raise ConfigError(
            f"{cfg.source}: [connection] account is required with --live, so the session "
            "can refuse any account but yours."
        )
    mode = "simulated" if embedded else ("live" if live else "paper")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    sid = session_id or cfg.session.session_id or (f"{name}-{stamp}" if embedded else name)
    return Target(host, port, embedded, mode, sid)


def trading_account(
    cfg: Endpoint,
    accounts: list[str],
    *,
    live: bool,
    embedded: bool,
    endpoint: str,
    port: int | None,
    log: Callable[[str], None],
) -> str:
    """The account to trade among those the gateway manages; LiveError when the session
    must not trade it."""
    want = cfg.connection.account
    if want is not None and want not in accounts:
        raise LiveError(
            f"connected to account(s) {', '.join(accounts) or 'none'}, but "
            f"{cfg.source} [connection] account = {want!r}; refusing to trade. "
            "Log in to the configured account or fix the config."
        )
    account = want or (accounts[0] if accounts else "")
    # the account type is the truth (IB's paper accounts start with "D", e.g. DU1234567;
    # live ones do not), the port only a hint: real money needs --live whatever the port
    paper = account.startswith("D")
    if not paper and not live and not embedded:
        kind = (
            f"{account} is a live (real-money) account"
            if account
            else "the gateway named no account, so it may be a live (real-money) one"
        )
        raise LiveError(
            f"{kind} on {endpoint}; refusing to trade without --live. "
            "Pass --live (and [connection] account) to trade real money, or log the "
            "gateway into your paper account (IDs starting with D)."
        )
    if live and paper:
        log(f"note: --live given but {account} looks like a paper account")
    elif live and port in PAPER_PORTS:
        log(
            f"note: {account} is a live account on port {port}, usually a paper "
            "port; trading real money as --live says"
        )
    return account


def session_record(cfg: LiveConfig) -> dict[str, Any]:
    """The config a session journals when it starts (a resumed session must match it)."""
    return {
        "name": cfg.name,
        "source": str(cfg.source),
        "strategies": {
            s.label: {
                "strategy": s.run.strategy,
                "params": s.run.params,
                "symbols": list(s.symbols),
                "bar_size": s.bar_size,
                "config": str(s.run.source),
            }
            for s in cfg.strategies
        },
        "capital": {s.label: s.capital for s in cfg.strategies},
        # a resumed session must manage its working orders, and IB lets only the client
        # id that placed an order modify or cancel it
        "client_id": cfg.connection.client_id,
    }


def books(cfg: LiveConfig) -> dict[str, Sleeve]:
    """Each strategy's book: its capital, symbols and weights (a cross-sectional strategy's
    targets are weights of the whole book, as in its backtest)."""
    out = {}
    for slot in cfg.strategies:
        n = len(slot.symbols)
        w = book_weights(strategies.get(slot.run.strategy), slot.run.weights, n)
        weights = np.asarray(w, float) if w is not None else np.full(n, 1.0 / n)
        out[slot.label] = Sleeve(
            slot.label, slot.symbols, slot.capital, weights, slot.run.engine, slot.risk
        )
    return out
