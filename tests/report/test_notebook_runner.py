"""The report runner: a run prints no kernel-transport warning and hands ``output_dir`` only
to a notebook that declares it (papermill warned "Passed unknown parameter: output_dir"
for report 12 and ipykernel 7 "Kernel is running over TCP without encryption" for all)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from toolkit.report.notebook_runner import declared_parameters

REPO = Path(__file__).resolve().parents[2]


def _notebook(path: Path, parameters: str) -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    body = "print('folder', globals().get('output_dir'), 'n', n)"
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)
    return path


def test_declared_parameters_are_the_tagged_cells_names(tmp_path: Path) -> None:
    nb = _notebook(
        tmp_path / "a.ipynb", "n = 1  # a count\nlabel: str = 'x'\nx, y = 1, 2\nimport os"
    )
    assert declared_parameters(nb) == {"n", "label"}
    assert declared_parameters(_notebook(tmp_path / "b.ipynb", "")) == set()


def test_a_run_is_quiet_and_output_dir_goes_where_declared(tmp_path: Path) -> None:
    plain = _notebook(tmp_path / "plain.ipynb", "n = 1")
    with_dir = _notebook(tmp_path / "with_dir.ipynb", "n = 1\noutput_dir = ''")
    for nb, expect_dir in ((plain, False), (with_dir, True)):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "toolkit.report",
                "run",
                str(nb),
                "-p",
                "n",
                "7",
                "--reports",
                str(tmp_path / "reports"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "without encryption" not in done.stderr + done.stdout
        assert "unknown parameter" not in done.stderr + done.stdout
        (out,) = (tmp_path / "reports").glob(f"*/{nb.stem}-*/{nb.stem}.ipynb")
        printed = nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"]
        assert "n 7" in printed
        assert (str(out.parent.resolve()) in printed) == expect_dir
