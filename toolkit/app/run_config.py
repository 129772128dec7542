"""A research command reads its config before it loads anything heavy.

``backtest``, ``sweep``, ``walkforward``, ``montecarlo``, ``sensitivity``, ``check``,
``export``, ``ml`` and ``options-backtest`` all start from a TOML file. Its read comes
first: a wrong path or a TOML typo is told in one line before pandas, numba or the
strategies load (~1 s; this module imports neither); the validation (:mod:`toolkit.config`,
which needs the strategy registry) comes next, and only then each command's own heavy
modules (data, engine, sweep, reports and charts: ~1-4 s more on a warm cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from toolkit._toml import read_toml
from toolkit.errors import ConfigError

if TYPE_CHECKING:
    from toolkit.app.options import OptionRunConfig
    from toolkit.config import GridConfig, RunConfig

# what a missing file says (a run config's: as toolkit.config.load_config says it)
RUN_CONFIG_MISSING = "config file not found. Configs live in research/configs/."
OPTION_CONFIG_MISSING = "no such config; see research/configs/options_*.toml"


def read_run_config(path: str | Path) -> RunConfig:
    """:func:`toolkit.config.load_config`, with the file read before toolkit.config loads."""
    p = Path(path)
    raw = read_toml(p, RUN_CONFIG_MISSING)
    from toolkit.config import parse_config

    return parse_config(raw, p)


def read_option_config(path: Path) -> OptionRunConfig:
    """:func:`toolkit.app.options.load_option_config`, with the file read before pandas and
    the option modules load."""
    raw = read_toml(path, OPTION_CONFIG_MISSING)
    from toolkit.app.options import parse_option_config

    return parse_option_config(raw, path)


def require_grid(cfg: RunConfig, command: str) -> GridConfig:
    """The config's [grid], which ``command`` (sweep, walkforward, sensitivity) scores: a
    config without one is refused before any data loads."""
    if cfg.grid is None:
        raise ConfigError(
            f"{cfg.source}: {command} needs a [grid] table of parameter axes, e.g. "
            "fast = { from = 5, to = 100, step = 5 }."
        )
    return cfg.grid
