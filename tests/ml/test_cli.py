"""``toolkit ml train|backtest``: the artefact written, served (no refit) and scored with
DSR/PBO; a changed feature hash refused in one line naming both hashes (exit 2), by the
command and by a live config's ``model = ...``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.live.conftest import write_live_config
from tests.ml.test_model import _small_config
from toolkit.app.cli import main
from toolkit.errors import ConfigError


def test_train_then_backtest_serves_the_artefact_and_reports_dsr_pbo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _small_config(tmp_path)
    model = tmp_path / "model"
    assert main(["ml", "train", "--config", str(config), "--out", str(model), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["models"] >= 10 and trained["feature_hash"] and (model / "models.pkl").is_file()
    assert main(["ml", "backtest", "--config", str(config), "--model", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["models_refit"] == 0 and out["models_served"] == trained["models"]
    s = out["study"]
    assert s["trials"] == 7  # the grid's 6 sets and the config's own: all count in the DSR
    assert 0.0 <= s["deflated_sharpe"] <= 1.0 and 0.0 <= s["pbo"] <= 1.0
    assert isinstance(s["beats_costs"], bool) and out["orders"] > 0
    assert (
        main(["ml", "backtest", "--config", str(config), "--model", str(model), "--no-study"]) == 0
    )
    text = capsys.readouterr().out
    assert "0 refitted" in text and "Sharpe" in text


def test_a_changed_feature_hash_is_refused_by_the_command_and_the_live_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _small_config(tmp_path)
    model = tmp_path / "model"
    assert main(["ml", "train", "--config", str(config), "--out", str(model), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)["feature_hash"]
    manifest = model / "manifest.json"
    manifest.write_text(manifest.read_text().replace(ours, "feedfacefeedface"))
    assert main(["ml", "backtest", "--config", str(config), "--model", str(model)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "feedfacefeedface" in err and ours in err
    with pytest.raises(ConfigError, match=r"strategies #1.*model.*feedfacefeedface.*" + ours):
        write_live_config(
            tmp_path,
            strategies=[{"config": str(config), "model": str(model), "capital": 100_000}],
        )
