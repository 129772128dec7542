"""Run a parameterised notebook with papermill, export it to HTML, add a tear sheet.

A report notebook that declares ``output_dir`` in its parameters cell receives its report
folder there (one that does not is not handed an unknown parameter). If it writes
``returns.csv`` there (columns: timestamp, strategy and optionally one benchmark column,
named by the benchmark, e.g. ``SPY``), a quantstats tear sheet is written beside the HTML;
with a ``tca.csv`` of its orders (:func:`toolkit.execution.engine_tca`'s columns) the tear
sheet gets their "Transaction costs" section.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from toolkit.errors import ConfigError, ToolkitError
from toolkit.report.tca_section import add_tca_section
from toolkit.report.tearsheet import write_tearsheet

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


class ReportFailed(ToolkitError):
    """A report notebook raised while executing; the partial notebook is kept for reading."""


@dataclass(frozen=True)
class ReportFiles:
    """What one report run produced."""

    notebook: Path
    html: Path
    tearsheet: Path | None
    folder: Path


def resolve_notebook(name: str | Path) -> Path:
    """A notebook in notebooks/ by name (with or without .ipynb), or an explicit path."""
    path = Path(name)
    if path.suffix != ".ipynb":
        path = path.with_suffix(".ipynb")
    candidates = [path, NOTEBOOKS / path.name]
    for c in candidates:
        if c.is_file():
            return c
    known = ", ".join(sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
    raise ConfigError(f"notebook {str(name)!r} not found; notebooks: {known}.")


def parse_value(text: str) -> Any:
    """A ``-p key value`` value: JSON when it parses (numbers, lists, true/false), else text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


PLOTLY_MIME = "application/vnd.plotly.v1+json"


def embed_plotly(node: Any) -> int:
    """Give every plotly figure output that has only plotly's JSON (what ``fig.show()`` and a
    figure at the end of a cell give under plotly's default renderer in a kernel) an HTML
    rendering: the exported report keeps the interactive figure, offline, with plotly.js
    embedded once, before the first. Returns how many figures it rendered."""
    import plotly.io as pio

    done = 0
    for cell in node.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME not in data or "text/html" in data:
                continue
            data["text/html"] = pio.to_html(
                data[PLOTLY_MIME], include_plotlyjs=done == 0, full_html=False
            )
            done += 1
    return done


def export_html(notebook: Path, html: Path, *, hide_code: bool = True) -> Path:
    """Render an executed notebook to HTML; code cells' input hidden unless asked; plotly
    figures stay interactive (:func:`embed_plotly`)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        exclude_input=hide_code, exclude_input_prompt=True, exclude_output_prompt=True
    )
    node = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    embed_plotly(node)
    body, _ = exporter.from_notebook_node(node)
    html.write_text(body)
    return html


def declared_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's cell tagged ``parameters`` (papermill's convention)."""
    node = json.loads(notebook.read_text())
    for cell in node.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code" or "parameters" not in tags:
            continue
        source = cell.get("source", "")
        tree = ast.parse(source if isinstance(source, str) else "".join(source))
        names: set[str] = set()
        for stmt in tree.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            if isinstance(stmt, ast.AnnAssign):
                targets = [stmt.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        return names
    return set()


def kernel_config() -> Any:
    """The kernel manager's settings for report runs: the kernel's sockets encrypted with
    CurveZMQ keys the manager provisions (jupyter_client's ``transport_encryption = "auto"``,
    for kernelspecs that declare Curve support, as ipykernel 7's does), or else local IPC
    sockets on POSIX -- ipykernel 7 warns "Kernel is running over TCP without encryption"
    on every run otherwise."""
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    config = Config()
    if KernelManager.class_traits().get("transport_encryption") and zmq.has("curve"):
        config.KernelManager.transport_encryption = "auto"
    elif os.name == "posix":
        config.KernelManager.transport = "ipc"
    return config


def run_report(
    name: str | Path,
    params: Mapping[str, Any] | None = None,
    *,
    reports_root: Path = Path("reports"),
    hide_code: bool = True,
    when: datetime | None = None,
    kernel: str = "python3",
    progress: Callable[[str], None] | None = None,
) -> ReportFiles:
    """Execute ``name`` into ``reports/<date>/<name>.ipynb``, export HTML, add a tear sheet;
    with ``progress``, each stage is told to it and papermill's cell bar goes to stderr."""
    import papermill as pm

    say = progress or (lambda _message: None)

    source = resolve_notebook(name)
    stamp = (when or datetime.now(UTC)).astimezone(UTC)
    folder = reports_root / stamp.strftime("%Y-%m-%d") / f"{source.stem}-{stamp:%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{source.stem}.ipynb"
    values = dict(params or {})
    if "output_dir" in declared_parameters(source):
        values["output_dir"] = str(folder.resolve())
    say(f"executing {source.name} into {folder}/ (a fresh kernel: tens of seconds)")
    try:
        pm.execute_notebook(
            str(source),
            str(out),
            parameters=values,
            kernel_name=kernel,
            language="python",  # a notebook saved without kernelspec metadata runs too
            cwd=str(NOTEBOOKS.parent),
            progress_bar={"desc": source.stem, "leave": False} if progress else False,
            config=kernel_config(),
        )
    except pm.PapermillExecutionError as exc:
        raise ReportFailed(
            f"report {source.stem} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}. "
            f"The partial notebook is {out}."
        ) from exc
    say("exporting HTML")
    html = export_html(out, folder / f"{source.stem}.html", hide_code=hide_code)
    tearsheet = None
    returns_file = folder / "returns.csv"
    if returns_file.is_file():
        say("writing the tear sheet (quantstats)")
        tearsheet = tearsheet_from_returns(returns_file, source.stem)
        if (folder / "tca.csv").is_file():
            add_tca_section(tearsheet, pd.read_csv(folder / "tca.csv"))
    return ReportFiles(out, html, tearsheet, folder)


def tearsheet_from_returns(returns_file: Path, title: str) -> Path:
    """``tearsheet.html`` beside a notebook's ``returns.csv``: its ``strategy`` column against
    its other column, if any, named as that column is (the benchmark's symbol)."""
    frame = pd.read_csv(returns_file, index_col=0, parse_dates=True)
    if "strategy" not in frame.columns:
        raise ConfigError(f"{returns_file}: needs a 'strategy' column of returns.")
    others = [c for c in frame.columns if c != "strategy"]
    if len(others) > 1:
        raise ConfigError(f"{returns_file}: one benchmark column at most, got {', '.join(others)}.")
    bench = frame[others[0]] if others else None
    return write_tearsheet(
        frame["strategy"], returns_file.parent / "tearsheet.html", benchmark=bench, title=title
    )
