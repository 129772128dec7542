"""Model artefacts: the walk-forward models of a config, saved with a manifest, and loaded by
a backtest or a live session instead of being refitted.

An artefact is a folder: ``models.pkl`` (pickle) (every window's fitted model, by key) and
``manifest.json`` (config, parameters, seed, the feature-code hash, the data files' sha256,
each retraining window's bars and key, the models file's sha256, library versions). Loading
refuses an artefact whose feature hash is not the running code's -- features computed another
way would feed the models inputs they were never trained on (training/serving skew) -- with a
one-line error naming both hashes; and one whose model settings differ from the config's.
Loaded models join :data:`toolkit.ml.model.CACHE`: a window whose training rows and settings
match is served from the artefact, so the backtest and the live session refit nothing.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from toolkit.config import RunConfig
from toolkit.errors import ConfigError
from toolkit.ml.features import FEATURE_NAMES
from toolkit.ml.model import CACHE, Fitted
from toolkit.ml.strategy import ml_params
from toolkit.ml.walkforward import MLParams, walk_forward

FORMAT = 1
MODELS = "models.pkl"
MANIFEST = "manifest.json"
STRATEGY = "ml_classifier"


@dataclass(frozen=True)
class Artefact:
    """A trained (or loaded) artefact: where it is, its manifest, and its models."""

    path: Path
    manifest: dict[str, Any]
    models: dict[str, Fitted]

    @property
    def feature_hash(self) -> str:
        return str(self.manifest["feature_hash"])


def default_dir(cfg: RunConfig) -> Path:
    """``reports/models/<config name>`` (generated output, like every report)."""
    return Path("reports") / "models" / cfg.name


def require_ml(cfg: RunConfig) -> MLParams:
    """The walk-forward settings of a config that runs ``ml_classifier``."""
    if cfg.strategy != STRATEGY:
        raise ConfigError(
            f"{cfg.source}: [strategy] name = {cfg.strategy!r}; the ML commands train "
            f'{STRATEGY!r} ([strategy] module = "toolkit.ml.strategy").'
        )
    return ml_params(cfg.params)


def load_bars(cfg: RunConfig) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The config's bars as a (field, symbol) panel and the files they came from (the
    backtest command's loader, so the artefact trains on exactly the bars it is tested on)."""
    from toolkit.data import load_many_sourced

    d = cfg.data
    loaded = load_many_sourced(
        list(d.symbols), d.start, d.end, data_dir=d.dir, repair=d.repair, adjust=d.adjust,
        jump_factor=d.jump_factor,
    )  # fmt: skip
    files = [{"symbol": s.symbol, "path": str(s.path), "sha256": s.sha256} for s in loaded.sources]
    return loaded.frame, files


def train(cfg: RunConfig, out: Path | None = None) -> Artefact:
    """Walk-forward train ``cfg``'s model on its bars (every symbol) and write the artefact."""
    p = require_ml(cfg)
    panel, files = load_bars(cfg)
    models: dict[str, Fitted] = {}
    windows: list[dict[str, Any]] = []
    for sym in panel["close"].columns:
        index = panel.index
        _, wins = walk_forward(*symbol_arrays(panel, sym), p)
        for w in wins:
            if w.model is not None:
                models[w.model.key] = w.model
            windows.append({
                "symbol": str(sym), "decides_from": str(index[w.bar]),
                "train_first": str(index[w.first]), "train_last": str(index[w.last]),
                "samples": w.n_samples, "key": None if w.model is None else w.model.key,
            })  # fmt: skip
    path = Path(out) if out is not None else default_dir(cfg)
    path.mkdir(parents=True, exist_ok=True)
    import sklearn

    with (path / MODELS).open("wb") as fh:
        pickle.dump({k: replace(m, memo={}) for k, m in models.items()}, fh, protocol=5)
    manifest = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": str(cfg.source),
        "name": cfg.name,
        "strategy": STRATEGY,
        "params": dict(cfg.params),
        "model": p.spec.describe(),
        "seed": p.spec.seed,
        "ml": {**asdict(p), "spec": asdict(p.spec)},
        "feature_hash": p.feature_hash,
        "features": list(FEATURE_NAMES),
        "data_files": files,
        "bars": {"first": str(panel.index[0]), "last": str(panel.index[-1]), "n": len(panel)},
        "windows": windows,
        "models_sha256": _sha256(path / MODELS),
        "versions": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=1, default=_plain) + "\n")
    return Artefact(path, manifest, models)


def symbol_arrays(
    panel: pd.DataFrame, sym: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """High, low, close and volume of one symbol of a (field, symbol) panel."""
    h, lo, c, v = (
        np.ascontiguousarray(panel[f][sym].to_numpy(np.float64))
        for f in ("high", "low", "close", "volume")
    )
    return h, lo, c, v


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the artefact at ``path``; a ConfigError when there is none."""
    file = Path(path) / MANIFEST
    if not file.is_file():
        raise ConfigError(
            f"{path}: no model artefact here ({MANIFEST} missing); train one with "
            "`toolkit ml train --config <research config>`."
        )
    try:
        manifest: dict[str, Any] = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    return manifest


def check(manifest: dict[str, Any], p: MLParams, where: Path) -> None:
    """Refuse an artefact built with other features or other model settings."""
    theirs, ours = str(manifest.get("feature_hash")), p.feature_hash
    if theirs != ours:
        raise ConfigError(
            f"{where}: feature hash {theirs} of the artefact differs from the running code's "
            f"{ours}; the features changed since it was trained -- retrain it "
            "(`toolkit ml train`)."
        )
    want = {**asdict(p), "spec": asdict(p.spec)}
    got = manifest.get("ml")
    if got != want:
        diff = sorted(k for k in want if (got or {}).get(k) != want[k])
        raise ConfigError(
            f"{where}: the artefact was trained with other settings ({', '.join(diff)}); "
            "retrain it or use the config it was trained from."
        )


def load(path: Path, p: MLParams) -> Artefact:
    """Check and load the artefact at ``path``; its models join the model cache."""
    path = Path(path)
    manifest = read_manifest(path)
    check(manifest, p, path)
    file = path / MODELS
    if not file.is_file() or _sha256(file) != manifest.get("models_sha256"):
        raise ConfigError(
            f"{file}: missing or not the file the manifest describes (sha256 differs); "
            "retrain the artefact."
        )
    with file.open("rb") as fh:  # the manifest's sha256 vouches for these bytes
        models: dict[str, Fitted] = pickle.load(fh)
    for m in models.values():
        CACHE.put(m)
    return Artefact(path, manifest, models)


def attach(run: RunConfig, path: Path, where: str) -> Artefact:
    """A live session's ``model = "..."``: check the artefact against the research config it
    trades and load its models (a ConfigError names ``where`` and what to do)."""
    try:
        return load(path, require_ml(run))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
