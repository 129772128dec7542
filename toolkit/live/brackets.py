"""Protective exits of a live slot's entries, from ``[strategies.bracket]``.

``bracket = true`` (the old switch) sends the research config's ``[exits]`` (stop-loss,
take-profit, trailing stop) as IB bracket children of every entry that opens or adds to a
position. ``[strategies.bracket]`` does the same with its own levels, written as fractions of
the entry's decision price (``take_profit = 0.04`` is 4 % above a long entry's price, below a
short's), each one overriding the research config's key of the same name:

``take_profit``, ``stop_loss``, ``trailing_stop``: fractions in (0, 1) (a missing one falls
back to the research config's ``[exits]``; at least one must be set somewhere);
``tif``: ``"GTC"`` (default: the exits outlive the day) or ``"DAY"``;
``oca``: also put the exits in an explicit one-cancels-all group, ``<entry ref>/oca``
(``ocaGroup``), ``ocaType`` 1 -- IB's "cancel all remaining orders with block" (IB API
documentation, "One-Cancels-All"), the type the simulator works: a fill of one exit cancels
the others at the broker even once they are no longer the entry's children (e.g. after a
restart adopted them).

The exits of a one-shot entry (market, limit, stop) go out with it (``parentId``, the last
one transmitting the group), so the broker holds them until it fills. An entry worked over
time -- an IB algo or iceberg, or a parent worked by our schedules -- may end part-filled, so
its exits wait until it is done and then go out as an OCA group sized to what it filled
(:mod:`toolkit.live._parent_exits`). They are journaled with the entry before anything is sent
(``parent_ref``, OCA group), under refs derived from the entry's (``/sl``, ``/tp``,
``/trail``): a restart finds them and never sends them twice, and a resend of an entry that
never reached the broker sends its exits with the same group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from toolkit._declare import setting
from toolkit._toml import Table, table_keys
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError
from toolkit.live.orders import OrderSpec, bracket_legs

OCA_CANCEL = 1  # IB ocaType: cancel all remaining orders with block


@dataclass(frozen=True)
class BracketSpec:
    """``[strategies.bracket]``: exit levels as fractions of the entry price (None: the
    research config's), their time in force and whether they share an explicit OCA group."""

    take_profit: float | None = setting(None, above=0.0, high=100.0)
    stop_loss: float | None = setting(None, above=0.0, high=0.99)
    trailing_stop: float | None = setting(None, above=0.0, high=0.99)
    tif: Literal["GTC", "DAY"] = setting("GTC")
    oca: bool = setting(False)

    def exits(self, engine: EngineSettings) -> EngineSettings:
        """``engine`` with this table's levels over its ``[exits]``."""
        levels = {
            k: v
            for k in ("take_profit", "stop_loss", "trailing_stop")
            if (v := getattr(self, k)) is not None
        }
        return replace(engine, **levels)


def parse_bracket(path: Path, name: str, value: Any, engine: EngineSettings) -> BracketSpec | None:
    """The slot's ``bracket``: ``false`` / absent (None: no exits), ``true`` (the research
    config's exits) or a ``[strategies.bracket]`` table; :class:`ConfigError` naming the key
    otherwise, or when no exit level is set anywhere."""
    if value is None or value is False:
        return None
    if value is True:
        spec = BracketSpec()
    elif isinstance(value, Mapping):
        sec = Table(path, name, value, table_keys(BracketSpec))
        spec = BracketSpec(**sec.fields(BracketSpec))
    else:
        raise ConfigError(
            f"{path}: [{name.rsplit('.', 1)[0]}] bracket = {value!r}: write true/false, or a "
            "[strategies.bracket] table (take_profit, stop_loss, trailing_stop, tif, oca)."
        )
    s = spec.exits(engine)
    if s.take_profit is None and s.stop_loss is None and s.trailing_stop is None:
        raise ConfigError(
            f"{path}: [{name}] has no exit: set take_profit, stop_loss or trailing_stop here "
            "or in the research config's [exits]."
        )
    return spec


def exit_orders(
    entry: OrderSpec,
    spec: BracketSpec,
    position_after: float,
    price: float,
    engine: EngineSettings,
) -> list[OrderSpec]:
    """The exits of ``entry`` for the position it leaves (none when it closes one), priced
    from ``price`` (the decision close), with the table's tif and OCA group."""
    legs = bracket_legs(entry, position_after, price, spec.exits(engine))
    group = f"{entry.ref}/oca" if spec.oca else None
    return [
        replace(
            leg,
            tif=spec.tif,
            oca_group=group,
            oca_type=OCA_CANCEL if group is not None else None,
        )
        for leg in legs
    ]
