"""Parameter sweeps: fused numba kernels over grids, in threads or on a dask cluster; a
portfolio sweep runs the engine per parameter set on several symbols traded as one book."""

from toolkit.sweep._kernels import METRICS
from toolkit.sweep.grid import ParamGrid, make_grid
from toolkit.sweep.plots import heatmap, heatmap_table, parallel_coordinates, scatter
from toolkit.sweep.portfolio import sweep_portfolio
from toolkit.sweep.runner import evaluate_block, sweep

__all__ = [
    "METRICS",
    "ParamGrid",
    "evaluate_block",
    "heatmap",
    "heatmap_table",
    "make_grid",
    "parallel_coordinates",
    "scatter",
    "sweep",
    "sweep_portfolio",
]
