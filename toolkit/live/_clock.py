"""The clock port of a rehearsal: what a live session may read and do to the simulated clock
of its embedded simulator (:class:`toolkit.gateway.Gateway` implements it). The session holds
the port, never the simulator's state (``gw.state.clock``)."""

from __future__ import annotations

from typing import Protocol

import pandas as pd


class Instants(Protocol):
    """The simulated clock's instants a rehearsal reads."""

    @property
    def start(self) -> pd.Timestamp: ...

    @property
    def paused_at(self) -> pd.Timestamp | None: ...


class ClockPort(Protocol):
    """The lockstep clock of a rehearsal's simulator (:class:`toolkit.gateway.Gateway`)."""

    @property
    def clock(self) -> Instants: ...

    @property
    def paused(self) -> bool: ...

    @property
    def held_bar(self) -> pd.Timestamp | None:
        """The label of the bar whose release holds the clock (None: not held for one)."""
        ...

    def resume(self) -> None: ...
