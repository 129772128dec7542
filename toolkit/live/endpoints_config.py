"""``[endpoints]`` of a live config: where a session serves ``/healthz``, ``/readyz`` and
``/metrics`` (:mod:`toolkit.live.endpoints`). Opt-in: without the table (or ``--endpoints``)
nothing listens. Bound to 127.0.0.1 unless ``host`` says otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit._declare import setting
from toolkit._toml import Table, table_keys
from toolkit.errors import ConfigError


@dataclass(frozen=True)
class EndpointsConfig:
    """``[endpoints]``: ``port`` (0: any free port, printed at start), ``host`` and how long
    the session's event loop may not answer before ``/healthz`` calls it stalled."""

    port: int = setting(9108, low=0, high=65535)
    host: str = setting("127.0.0.1")
    stall_seconds: float = setting(60.0, low=1.0, high=3600.0)


def parse_endpoints(path: Path, raw: Any) -> EndpointsConfig | None:
    """The ``[endpoints]`` table (None when absent: no endpoints)."""
    if raw is None:
        return None
    table = Table(path, "endpoints", raw, table_keys(EndpointsConfig))
    cfg = EndpointsConfig(**table.fields(EndpointsConfig))
    if not cfg.host.strip():
        raise ConfigError(f"{table.where('host')} is empty; use e.g. 127.0.0.1.")
    return cfg
