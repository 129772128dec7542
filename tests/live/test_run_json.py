"""``python -m toolkit.live run --json``: the final summary for machines on stdout -- the
JSON ``status --json`` gives for the session afterwards -- and the log lines on stderr."""

from __future__ import annotations

import json

from toolkit.app.live import main


def test_run_json_prints_the_status_json_of_the_session_and_logs_to_stderr(
    live_config, capsys
) -> None:
    cfg = live_config(
        simulator={"start": "2023-04-20 21:30", "end": "2023-05-19", "speed": 8_640_000.0}
    )
    assert main(["run", "--config", str(cfg.source), "--json"]) == 0
    out, err = capsys.readouterr()
    run = json.loads(out)  # stdout is the JSON alone
    assert "stopping: no new orders" in err and "Session " in err  # the log and its summary
    assert run["fills"] == 5 and run["ended"] is not None and not run["running"]
    assert len(run["trades"]) == 4 and len(run["parent_orders"]) == 5
    journal = str(cfg.session.journal)
    assert main(["status", run["session_id"], "--journal", journal, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == run
