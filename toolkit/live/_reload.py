"""Reloading a running session's ``[risk]`` limits: SIGHUP (``systemctl reload``) or
``python -m toolkit.live reload [--config FILE]``.

Both go through the session's command channel (:mod:`toolkit.live.commands`): SIGHUP queues a
``reload`` command (source ``sighup``), the CLI queues one and waits for its outcome, and the
session executes it on its loop between bars -- never inside a bar's decisions. The file (the
session's own config unless another is named) is parsed with the usual checks, so a bad value
is the usual one-line error; then only the risk limits change: each strategy's merged limits
(its research config's ``[risk]`` overridden by the live ``[risk]``, as at start-up) and
``on_mismatch``. Strategy parameters, symbols, capital, execution and connection settings are
never changed mid-session; a file that changes them is still reloaded for its risk limits, and
the outcome says what was left for a restart. A file that does not parse, or names other
strategies than the session runs, changes nothing: the old limits stay in force, and the
session says so in its log (the dashboard's events), in the command's outcome and in the
journal.

Every reload is journaled in ``risk_changes`` (journal schema 10): per strategy whose limits
changed, the limits before and after; ``unchanged`` when the file held the same limits;
``rejected`` with the error.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from toolkit._toml import read_toml
from toolkit.errors import ConfigError, ToolkitError
from toolkit.live.journal import Journal

if TYPE_CHECKING:
    from toolkit.live._ledger import Ledger
    from toolkit.live.config import LiveConfig, StrategySlot
    from toolkit.risk import RiskLimits  # numba's: not loaded for `reload --help`

# what a reload never changes mid-session: the strategy and how it trades
_STRATEGY_FIELDS = ("symbols", "capital", "bar_size", "history", "execution", "exits")


class Session(Protocol):
    """What a reload reads and changes of the running session (toolkit.live.bridge's)."""

    cfg: LiveConfig

    @property
    def sid(self) -> str: ...

    @property
    def journal(self) -> Journal | None: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def log(self) -> Callable[[str], None]: ...


def hangup(session: Session) -> None:
    """SIGHUP (on the session's loop): queue a reload of the session's own config."""
    journal = session.journal
    if journal is None or getattr(session, "command_desk", None) is None:
        session.log("SIGHUP before the session started trading: nothing reloaded")
        return
    from toolkit.live.commands import submit

    cid = submit(journal, session.sid, "reload", "", {}, source="sighup")
    session.log(f"SIGHUP: reloading [risk] of {session.cfg.source} (command #{cid})")


def reload_risk(session: Session, config: str | None, source: str) -> tuple[bool, str]:
    """Re-read ``[risk]`` from ``config`` (default: the session's config) and put it in force;
    (False, why) when the file is refused and the old limits stay."""
    from toolkit.live.config import load_live_config

    old = session.cfg
    path = Path(config) if config else old.source
    try:
        new = load_live_config(path)
        pairs = _pairs(old, new, path)
    except ToolkitError as exc:
        why = str(exc)
        session.ledger.journal_risk_change(
            source=source, config=str(path), status="rejected", strategy=None, limits={},
            previous=_session_limits(old), message=why,
        )  # fmt: skip
        message = f"risk reload REJECTED ({source}): {why}; the old limits stay in force"
        session.log(message)
        return False, message
    notes = []
    ledger = session.ledger
    with ledger.transaction():
        for slot, fresh in pairs:
            diff = _diff(slot.risk, fresh.risk)
            if diff:
                ledger.set_risk(slot.label, fresh.risk)
                ledger.journal_risk_change(
                    source=source, config=str(path), status="applied", strategy=slot.label,
                    limits=_values(fresh.risk), previous=_values(slot.risk), message=diff,
                )  # fmt: skip
                notes.append(f"{slot.label}: {diff}")
        if new.on_mismatch != old.on_mismatch:
            diff = f"on_mismatch {old.on_mismatch} -> {new.on_mismatch}"
            ledger.journal_risk_change(
                source=source, config=str(path), status="applied", strategy=None,
                limits={"on_mismatch": new.on_mismatch},
                previous={"on_mismatch": old.on_mismatch}, message=diff,
            )  # fmt: skip
            notes.append(diff)
        if not notes:
            ledger.journal_risk_change(
                source=source, config=str(path), status="unchanged", strategy=None,
                limits=_session_limits(old), previous=_session_limits(old),
                message="the same limits",
            )  # fmt: skip
    session.cfg = dataclasses.replace(
        old,
        strategies=tuple(dataclasses.replace(s, risk=f.risk) for s, f in pairs),
        risk=new.risk,
        on_mismatch=new.on_mismatch,
    )
    left = _left_for_restart(pairs)
    message = (
        f"risk limits reloaded from {path.name} ({source}): "
        + ("; ".join(notes) if notes else "unchanged")
        + (f" (not applied mid-session, restart to trade them: {left})" if left else "")
    )
    session.log(message)
    return True, message


def _pairs(old: LiveConfig, new: LiveConfig, path: Path) -> list[tuple[StrategySlot, StrategySlot]]:
    """Each running strategy with its entry in the new file (the same labels, or refused)."""
    fresh = {s.label: s for s in new.strategies}
    labels = [s.label for s in old.strategies]
    if sorted(fresh) != sorted(labels):
        raise ConfigError(
            f"{path}: [[strategies]] are {sorted(fresh)}, the session runs {sorted(labels)}; "
            "a reload changes [risk] only (restart the session to change strategies)"
        )
    pairs = [(s, fresh[s.label]) for s in old.strategies]
    for slot, f in pairs:
        bench = f.risk.benchmark.upper()
        if f.risk.max_beta is not None and bench not in slot.symbols:
            raise ConfigError(
                f"{path}: [risk] max_beta measures beta to {bench}, which strategy "
                f"{slot.label!r} has no live bars of; drop max_beta or restart with it added"
            )
    return pairs


def _left_for_restart(pairs: list[tuple[StrategySlot, StrategySlot]]) -> str:
    out = []
    for slot, f in pairs:
        changed = [k for k in _STRATEGY_FIELDS if getattr(slot, k) != getattr(f, k)]
        if slot.run.params != f.run.params or slot.run.strategy != f.run.strategy:
            changed.insert(0, "strategy parameters")
        if changed:
            out.append(f"{slot.label} {', '.join(changed)}")
    return "; ".join(out)


def _values(risk: RiskLimits) -> dict[str, Any]:
    return dataclasses.asdict(risk)


def _session_limits(cfg: LiveConfig) -> dict[str, Any]:
    return {s.label: _values(s.risk) for s in cfg.strategies} | {"on_mismatch": cfg.on_mismatch}


def _show(value: Any) -> str:
    if value is None:
        return "off"
    if isinstance(value, float):
        return f"{value:,.6g}"
    return str(value)


def _diff(before: RiskLimits, after: RiskLimits) -> str:
    """``max_position 1e+06 -> 30,000, daily_loss off -> 0.02`` ("" when the same)."""
    parts = []
    for f in dataclasses.fields(before):
        a, b = getattr(before, f.name), getattr(after, f.name)
        if a != b:
            parts.append(f"{f.name} {_show(a)} -> {_show(b)}")
    return ", ".join(parts)


# -- the CLI ---------------------------------------------------------------------------------
def add_parser(sub: Any) -> None:
    """``python -m toolkit.live reload``."""
    text = "re-read the [risk] limits of a running session (as SIGHUP does)"
    p = sub.add_parser("reload", help=text, description=text)
    p.add_argument("--config", default="live/paper.toml", help="the file to re-read [risk] from")
    p.add_argument("--journal", help="journal file (default: the config's)")
    p.add_argument("--session", help="session id (default: the newest running one)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the session")


def run_cli(args: argparse.Namespace) -> int:
    """Queue a reload for the running session, print its outcome (exit 0 applied, 1 refused)."""
    from toolkit.live.commands import session_running, submit, wait

    config = Path(args.config)
    path = Path(args.journal) if args.journal else _journal_of(config)
    if not path.is_file():
        raise ToolkitError(f"{path}: no journal; is a session running with this config?")
    with Journal(path) as journal:
        sid = args.session or _newest_running(journal, path, session_running)
        if not session_running(path, sid):
            raise ToolkitError(
                f"session {sid!r} is not running on {path}; a reload goes to a running session "
                "(python -m toolkit.live status --list shows them)"
            )
        cid = submit(journal, sid, "reload", "", {"config": str(config.resolve())}, "cli")
        out = wait(journal, cid, args.timeout)
    print(out.line())
    return 0 if out.ok else 1


def _journal_of(config: Path) -> Path:
    """The journal a config names: read leniently, so that a file with a bad ``[risk]`` still
    reaches its session (which refuses it, keeps its limits and journals why)."""
    from toolkit.live.config import parse_session_tables

    raw = read_toml(config, "live config not found; give --config or --journal.")
    return parse_session_tables(raw, config)[2].journal


def _newest_running(journal: Journal, path: Path, running: Any) -> str:
    for s in journal.sessions():
        if s["ended_at"] is None and running(path, s["session_id"]):
            return str(s["session_id"])
    raise ToolkitError(f"{path}: no running session; start one (python -m toolkit.live run)")


def format_reloads(rows: list[dict[str, Any]], last: int = 10) -> str:
    """The newest ``last`` reloads of a session's ``[risk]`` (``status``), one line each."""
    if not rows:
        return ""
    lines = [f"risk reloads ({len(rows)}; the newest {min(last, len(rows))})"]
    for r in rows[-last:]:
        who = f" {r['strategy']}" if r["strategy"] else ""
        lines.append(f"  {r['ts'][:19]} {r['source']} {r['status']}{who}: {r['message']}")
    return "\n".join(lines)
