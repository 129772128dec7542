"""Run a notebook from notebooks/ the way reports are made (papermill, then HTML with code
hidden) and collect what it showed, in the notebook and in the HTML."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from toolkit.report.notebook_runner import run_report

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Executed:
    """Outputs of an executed notebook and its HTML export."""

    outputs: list[dict[str, Any]]
    html: str

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o.get("output_type") == "error"]

    @property
    def figures(self) -> int:
        return sum("image/png" in o.get("data", {}) for o in self.outputs)

    @property
    def text(self) -> str:
        parts = []
        for o in self.outputs:
            data = o.get("data", {})
            parts.append(str(data.get("text/plain", "")) + str(data.get("text/html", "")))
            parts.append(str(o.get("text", "")))
        return "\n".join(parts)

    @property
    def html_sections(self) -> list[str]:
        """Markdown headings as rendered in the HTML."""
        return [
            html.unescape(re.sub(r"<[^>]+>", "", h)).replace("¶", "").strip()
            for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", self.html, flags=re.S)
        ]

    @property
    def html_figures(self) -> int:
        return self.html.count("data:image/png")

    @property
    def plotly(self) -> list[dict[str, Any]]:
        """The plotly figures the notebook showed (their JSON: data and layout)."""
        mime = "application/vnd.plotly.v1+json"
        return [o["data"][mime] for o in self.outputs if mime in o.get("data", {})]


def plotly_values(array: Any) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array (dtype + base64 bytes, plotly >= 6)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    return np.asarray(array)


def execute(name: str, params: dict[str, Any], out_dir: Path) -> Executed:
    """Execute notebooks/<name> with ``params`` via the report runner into ``out_dir``; the
    runner tells its stages (``report run`` prints them on stderr)."""
    stages: list[str] = []
    files = run_report(name, params, reports_root=out_dir, hide_code=True, progress=stages.append)
    assert stages[0].startswith(f"executing {Path(name).stem}") and "exporting HTML" in stages
    nb = nbformat.read(files.notebook, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    return Executed(outputs, files.html.read_text())


def check_html(run: Executed, sections: list[str], figures: int) -> None:
    """The HTML holds every expected section, the figures, and no code."""
    missing = [s for s in sections if s not in run.html_sections]
    assert not missing, f"missing sections {missing}; found {run.html_sections}"
    assert run.html_figures >= figures
    assert 'class="jp-CodeMirrorEditor' not in run.html  # code cells hidden in reports
