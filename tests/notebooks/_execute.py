"""Run a notebook from notebooks/ with papermill and collect what it showed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Executed:
    """The outputs of an executed notebook: all of them, the errors, figures and the text."""

    outputs: list[dict[str, Any]]

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


def execute(name: str, params: dict[str, Any], out_dir: Path) -> Executed:
    """Execute notebooks/<name> with ``params`` into ``out_dir`` (working directory: the repo)."""
    out = out_dir / name
    pm.execute_notebook(
        str(REPO / "notebooks" / name),
        str(out),
        parameters=params,
        cwd=str(REPO),
        kernel_name="python3",
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    return Executed([o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])])
