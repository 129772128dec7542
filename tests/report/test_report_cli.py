"""python -m toolkit.report run / export from the user's side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolkit.report", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_run_writes_notebook_html_and_tearsheet(tmp_path: Path) -> None:
    done = _cli(
        "run",
        "11_performance_report",
        "-p",
        "period",
        "weekly",
        "-p",
        "periods_shown",
        "4",
        "--reports",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    (folder,) = list(tmp_path.glob("*/11_performance_report-*"))
    assert folder.parent.name == pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d")  # reports/<date>/
    nb = nbformat.read(folder / "11_performance_report.ipynb", as_version=4)
    assert any('period = "weekly"' in c.source for c in nb.cells)  # parameters injected
    html = (folder / "11_performance_report.html").read_text()
    assert "weekly report as of" in html and 'class="jp-CodeMirrorEditor' not in html  # no code
    assert (
        "Tear Sheet" in (folder / "tearsheet.html").read_text()
        or (folder / "tearsheet.html").stat().st_size > 50_000
    )
    # --show-code on a two-cell notebook given by path (the same CLI, papermill and HTML export;
    # a second run of the report above would only re-prove that it runs, at ~15 s of CPU)
    small = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("periods_shown = 4", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("print(f'showing {periods_shown} periods')"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nbformat.write(small, tmp_path / "shown.ipynb")
    shown = _cli(
        "run",
        str(tmp_path / "shown.ipynb"),
        "-p",
        "periods_shown",
        "2",
        "--show-code",
        "--reports",
        str(tmp_path / "code"),
    )
    assert shown.returncode == 0, shown.stderr
    (html2,) = list((tmp_path / "code").glob("*/*/shown.html"))
    assert 'class="jp-CodeMirrorEditor' in html2.read_text()
    assert "showing 2 periods" in html2.read_text()  # the parameter reached the kernel


def test_failing_report_is_an_error_with_the_cell(tmp_path: Path) -> None:
    done = _cli(
        "run", "11_performance_report", "-p", "source", "nowhere.csv", "--reports", str(tmp_path)
    )
    assert done.returncode == 2
    assert "report 11_performance_report failed in cell" in done.stderr
    assert "ValueError" in done.stderr and "Traceback" not in done.stderr
    unknown = _cli("run", "no_such_report")
    assert unknown.returncode == 2 and "notebooks: 01_quickstart" in unknown.stderr


def test_export_tax_files(tmp_path: Path) -> None:
    done = _cli("export", "--config", "research/configs/qqq_donchian.toml", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lots = pd.read_csv(tmp_path / "realized_lots.csv")
    assert {"term", "holding_days", "proceeds", "cost_basis", "commission", "gain"} <= set(
        lots.columns
    )
    assert set(lots["term"]) <= {"short", "long"} and len(lots) > 10
    assert (tmp_path / "realized_lots.json").is_file() and (
        tmp_path / "realized_by_year.csv"
    ).is_file()
