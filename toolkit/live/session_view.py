"""A snapshot of a live session for the dashboard and notebooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class SessionView:
    """A snapshot of the session for the dashboard and notebooks."""

    session_id: str
    mode: str
    account: str
    endpoint: str
    connected: bool
    broker_time: pd.Timestamp | None
    sleeves: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    risk: list[dict[str, Any]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    halted: dict[str, str] = field(default_factory=dict)  # symbol -> why (position mismatch)
