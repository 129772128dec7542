"""``[simulator] depth_replay``: a rehearsal's embedded gateway serves a LOBSTER day as one
symbol's depth, ticks and fills (:mod:`toolkit.gateway.depth_replay`,
:mod:`toolkit.gateway._book_fills`), so the dashboard's order book panel can be rehearsed on
real depth with one command.

The replay runs on a clock of its own, ``depth_speed`` replayed seconds per wall second
(``depth_fast``: as fast as the session reads): the rehearsal's clock runs days a second.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit._toml import Table
from toolkit.data import default_data_dir
from toolkit.errors import ConfigError

if TYPE_CHECKING:
    from toolkit.gateway.depth_replay import DepthReplay
    from toolkit.live.config import SimulatorConfig

_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9.]{0,11}$")


def replay_file(sim: SimulatorConfig, table: Table, config: Path) -> str | None:
    """The ``depth_replay`` file as an absolute path (relative to the config's folder, else to
    the working directory, else a file name in the data folder's ``orderbook/``); one-line
    errors for a missing file, a depth key without it, or a malformed ``depth_symbol``."""
    given = sim.depth_replay
    if given is None:
        if sim.depth_symbol is not None or sim.depth_fast or "depth_speed" in table.table:
            key = next(k for k in ("depth_symbol", "depth_fast", "depth_speed") if k in table.table)
            raise ConfigError(
                f"{table.where(key)} needs [simulator] depth_replay = a LOBSTER zip to replay."
            )
        return None
    if sim.depth_symbol is not None and not _SYMBOL.match(sim.depth_symbol):
        raise ConfigError(
            f"{table.where('depth_symbol')} = {sim.depth_symbol!r} is not a ticker "
            "(a letter, then up to 11 letters, digits or dots)."
        )
    path = Path(given).expanduser()
    shipped = default_data_dir() / "orderbook" / path.name
    for candidate in (config.parent / path, path, shipped if len(path.parts) == 1 else None):
        if candidate is not None and candidate.is_file():
            return str(candidate.resolve())
    raise ConfigError(
        f"{table.where('depth_replay')} = {given!r}: file not found (relative to "
        f"{config.parent}, or a file name in {default_data_dir() / 'orderbook'}); "
        "give a LOBSTER zip such as data/orderbook/LOBSTER_SampleFile_GOOG_2012-06-21_10.zip."
    )


def depth_replay(sim: SimulatorConfig) -> DepthReplay | None:
    """The replay a rehearsal's gateway serves (None: none configured). The file is read here
    (a malformed one is the reader's one-line error naming file, line and field)."""
    if sim.depth_replay is None:
        return None
    from toolkit.gateway.depth_replay import DepthReplay, load_tape

    tape = load_tape(Path(sim.depth_replay), sim.depth_symbol)
    return DepthReplay(tape, fast=sim.depth_fast, wall_speed=sim.depth_speed)


__all__ = ["depth_replay", "replay_file"]
