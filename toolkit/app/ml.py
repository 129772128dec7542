"""``toolkit ml train|backtest --config research/configs/ml_*.toml``: the machine-learning
workflow (toolkit.ml) from the command line.

``train`` fits the config's walk-forward models on its bars and writes the artefact
(``reports/models/<name>/``: models + manifest with data hashes, feature-code hash, params,
seed and training windows). ``backtest`` loads that artefact -- refused, one line naming both
hashes, when the feature code changed -- runs the engine with the config's costs on models
served from it (refits are counted and shown), and scores every ``[grid]`` trial: deflated
Sharpe ratio over all of them, PBO, buy-and-hold on the same bars. Tables, or JSON with
``--json``; exit 0 done, 2 bad input (one line says what to fix).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from toolkit._entry import run_command


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="fit the walk-forward models, write the artefact")
    back = sub.add_parser("backtest", help="backtest the artefact's models; DSR and PBO")
    for cmd in (train, back):
        cmd.add_argument("--config", required=True, help="research config (ml_classifier)")
        cmd.add_argument("--json", action="store_true", help="JSON for machines instead of a table")
    train.add_argument("--out", type=Path, help="artefact folder (default reports/models/NAME)")
    back.add_argument("--model", type=Path, help="artefact folder (default reports/models/NAME)")
    back.add_argument("--no-study", action="store_true", help="skip the trials (DSR, PBO)")
    return p


def main(argv: list[str] | None = None, prog: str = "toolkit ml") -> int:
    args = _parser(prog).parse_args(argv)
    return run_command(lambda: _run(args), debug=args.debug)


def _run(args: argparse.Namespace) -> int:
    from toolkit.app.run_config import read_run_config

    cfg = read_run_config(args.config)
    if args.command == "train":
        return _train(cfg, args)
    return _backtest(cfg, args)


def _rows(rows: list[tuple[str, Any]]) -> str:
    from toolkit.app.tables import fmt, grid

    cells = [[k, v if isinstance(v, str) else fmt(v, "param")] for k, v in rows]
    return grid(("", ""), cells, (False, False), titled=False)


def _train(cfg: Any, args: argparse.Namespace) -> int:
    from toolkit.ml import artefact
    from toolkit.ml.model import CACHE

    art = artefact.train(cfg, args.out)
    m = art.manifest
    wins = m["windows"]
    fitted = [w for w in wins if w["key"]]
    out = {
        "artefact": str(art.path),
        "model": m["model"],
        "feature_hash": m["feature_hash"],
        "bars": m["bars"],
        "data_files": m["data_files"],
        "windows": len(wins),
        "models": len(art.models),
        "fits": CACHE.fits,
        "first_window": fitted[0] if fitted else None,
        "last_window": fitted[-1] if fitted else None,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    b = m["bars"]
    rows: list[tuple[str, Any]] = [
        ("artefact", str(art.path)),
        ("model", m["model"]),
        ("feature hash", m["feature_hash"]),
        ("bars", f"{b['n']} ({b['first'][:10]} .. {b['last'][:10]})"),
        *[(f"data {f['symbol']}", f"{f['path']} sha256 {f['sha256'][:16]}")
          for f in m["data_files"]],
        ("retraining windows",
         f"{len(wins)} ({len(fitted)} with a model, {len(art.models)} distinct)"),
    ]  # fmt: skip
    if fitted:
        last = fitted[-1]
        rows.append(
            ("last window", f"{last['symbol']} trained {last['train_first'][:10]} .. "
             f"{last['train_last'][:10]} ({last['samples']} labels)")
        )  # fmt: skip
    print(_rows(rows))
    return 0


def _backtest(cfg: Any, args: argparse.Namespace) -> int:
    from toolkit.engine.backtest import backtest
    from toolkit.ml import artefact
    from toolkit.ml.model import CACHE
    from toolkit.ml.study import study

    p = artefact.require_ml(cfg)
    art = artefact.load(args.model or artefact.default_dir(cfg), p)
    bars, _ = artefact.load_bars(cfg)
    CACHE.fits = CACHE.hits = 0
    res = backtest(bars, cfg.strategy, cfg.params, cfg.engine, cfg.weights, cfg.risk)
    served, refit = CACHE.hits, CACHE.fits
    metrics = res.metrics()
    out: dict[str, Any] = {
        "artefact": str(art.path),
        "feature_hash": art.feature_hash,
        "models_served": served,
        "models_refit": refit,
        "metrics": {k: metrics[k] for k in ("total_return", "cagr", "sharpe", "max_drawdown")},
        "orders": len(res.orders),
        "commission": float(res.orders["commission"].sum()) if len(res.orders) else 0.0,
    }
    if not args.no_study:
        out["study"] = study(cfg).summary()
    if args.json:
        from toolkit.app.tables import plain

        print(json.dumps(plain(out), indent=2, allow_nan=False))
        return 0
    from toolkit.app.tables import fmt

    rows: list[tuple[str, Any]] = [
        ("artefact", f"{art.path} (feature hash {art.feature_hash})"),
        ("models", f"{served} served from the artefact, {refit} refitted"),
        ("total return", fmt(metrics["total_return"], "pct")),
        ("CAGR", fmt(metrics["cagr"], "pct")),
        ("Sharpe", fmt(metrics["sharpe"], "num")),
        ("max drawdown", fmt(metrics["max_drawdown"], "pct")),
        ("orders / commission", f"{len(res.orders)} / {fmt(out['commission'], 'money')}"),
    ]
    if "study" in out:
        s = out["study"]
        chosen = {k: s["chosen"][k] for k in cfg.grid.axes} if cfg.grid else {}
        rows += [
            ("trials (grid + config)", str(s["trials"])),
            ("out-of-sample", f"{s['oos_start']} .. {s['oos_end']}"),
            ("best trial", fmt(chosen, "param") or "the config's"),
            ("best Sharpe", fmt(s["sharpe"], "num")),
            ("deflated Sharpe", f"{fmt(s['deflated_sharpe'], 'num')} (significant above 0.95)"),
            ("PBO", fmt(s["pbo"], "num")),
            ("buy & hold Sharpe", fmt(s["buy_and_hold_sharpe"], "num")),
            ("verdict", _verdict(s)),
        ]
    print(_rows(rows))
    return 0


def _verdict(s: dict[str, Any]) -> str:
    costs = "beats costs" if s["beats_costs"] else "does NOT beat costs"
    hold = "beats buy & hold" if s["beats_holding"] else "does not beat buy & hold"
    dsr = "significant" if s["deflated_sharpe"] > 0.95 else "not significant after deflation"
    return f"{costs}, {hold}, {dsr}"
