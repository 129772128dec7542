"""Models and artefacts: deterministic fits, batch-independent predictions, the walk-forward
signal is causal, and an artefact serves every window (no refit) or is refused -- one line
naming both hashes -- when the feature code changed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import toolkit as tk
from toolkit.config import load_config
from toolkit.errors import ConfigError
from toolkit.ml import artefact
from toolkit.ml.model import CACHE, ModelSpec, fit
from toolkit.ml.strategy import ml_classifier, ml_params
from toolkit.ml.walkforward import walk_forward

REPO = Path(__file__).resolve().parents[2]
SMALL = {"train": 200, "every": 50, "horizon": 5, "trees": 10, "depth": 2}


def _spy() -> pd.DataFrame:
    return tk.load("SPY", start="2018-01-01", end="2020-12-31", adjust="none")


def _small_config(tmp_path: Path, model: int = 0) -> Path:
    text = (REPO / "research" / "configs" / "ml_spy.toml").read_text()
    text = re.sub(r"(?m)^start = .*$", 'start = "2018-01-01"\nend = "2020-12-31"', text, count=1)
    for k, v in {**SMALL, "model": model}.items():
        text = text.replace(f"\n{k} = ", f"\n{k} = {v}\n# was: ", 1)
    path = tmp_path / "ml_small.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("model", [0, 1])
def test_fits_are_deterministic_and_predictions_batch_independent(model: int) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 8))
    y = (x[:, 0] + rng.normal(size=150) > 0).astype(float)
    spec = ModelSpec(model=model, trees=10, depth=2)
    a = fit(x, y, spec, "h")
    CACHE.clear()
    b = fit(x, y, spec, "h")
    assert a is not b and a.key == b.key and CACHE.fits == 1
    rows = rng.normal(size=(20, 8))
    block = a.proba(rows)
    np.testing.assert_array_equal(block, b.proba(rows))
    one_by_one = np.array([b.proba(rows[i : i + 1])[0] for i in range(20)])
    np.testing.assert_array_equal(block, one_by_one)
    assert ((block > 0) & (block < 1)).all()


def test_ml_signal_is_causal_on_real_bars() -> None:
    report = tk.check_causal(ml_classifier, _spy(), SMALL, cuts=3, random_sets=0, seed=4)
    assert report.passed, str(report)


def test_artefact_serves_every_window_and_records_its_inputs(tmp_path: Path) -> None:
    cfg = load_config(_small_config(tmp_path))
    art = artefact.train(cfg, tmp_path / "model")
    m = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert m["feature_hash"] == ml_params(cfg.params).feature_hash and m["seed"] == 0
    assert m["data_files"][0]["symbol"] == "SPY" and len(m["data_files"][0]["sha256"]) == 64
    assert len(m["windows"]) == len(_spy()) // 50 and m["params"]["train"] == 200
    assert {w["key"] for w in m["windows"] if w["key"]} == set(art.models)
    CACHE.clear()
    artefact.load(tmp_path / "model", ml_params(cfg.params))
    bars = _spy()
    served = ml_classifier.signals(bars, **cfg.params)
    assert CACHE.fits == 0 and CACHE.hits == len(art.models) >= 10
    CACHE.clear()
    refit = ml_classifier.signals(bars, **cfg.params)
    assert CACHE.fits == len(art.models)
    np.testing.assert_array_equal(served.to_numpy(), refit.to_numpy())
    cols = [bars[f].to_numpy() for f in ("high", "low", "close", "volume")]
    prob, _ = walk_forward(*cols, ml_params(cfg.params))
    assert np.isfinite(prob[200:]).all() and 0.2 < np.nanmean(prob) < 0.8


def test_artefact_with_other_features_or_settings_is_refused(tmp_path: Path) -> None:
    cfg = load_config(_small_config(tmp_path))
    artefact.train(cfg, tmp_path / "model")
    manifest = tmp_path / "model" / "manifest.json"
    m = json.loads(manifest.read_text())
    ours = m["feature_hash"]
    manifest.write_text(json.dumps({**m, "feature_hash": "0123456789abcdef"}))
    with pytest.raises(ConfigError) as err:
        artefact.load(tmp_path / "model", ml_params(cfg.params))
    msg = str(err.value)
    assert "0123456789abcdef" in msg and ours in msg and "\n" not in msg
    manifest.write_text(json.dumps(m))
    with pytest.raises(ConfigError, match=r"other settings.*every"):
        artefact.load(tmp_path / "model", ml_params({**cfg.params, "every": 60}))
    with pytest.raises(ConfigError, match="feature hash"):  # other feature windows
        artefact.load(tmp_path / "model", ml_params({**cfg.params, "slow": 30}))
