"""Walk-forward optimisation: choose parameters in-sample, trade them out-of-sample, repeat.

Each fold optimises ``objective`` over the grid on its in-sample bars only, then runs the
chosen parameters on the following out-of-sample bars (signals may read earlier bars, which
is causal; the simulation starts flat with fresh capital). Out-of-sample returns are chained
into one equity curve. Walk-forward efficiency follows Pardo (2008, *The Evaluation and
Optimization of Trading Strategies*, ch. 11): annualised out-of-sample return over the
annualised in-sample return of the chosen parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from toolkit import strategies
from toolkit.engine import simulate, strategy_targets
from toolkit.engine._bars import as_panel, bar_arrays
from toolkit.engine.backtest import book_weights
from toolkit.engine.settings import EngineSettings
from toolkit.errors import ConfigError
from toolkit.metrics import cagr
from toolkit.risk import RiskLimits
from toolkit.strategies.spec import Strategy
from toolkit.sweep import ParamGrid, make_grid, sweep, sweep_portfolio

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from plotly.graph_objects import Figure

Objective = str | Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Fold:
    """Bar positions of one fold: in-sample [train_start, train_stop), out-of-sample
    [test_start, test_stop); ``test_start - train_stop`` is the purge gap."""

    number: int
    train_start: int
    train_stop: int
    test_start: int
    test_stop: int


_UNITS = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}


def _offset(size: str) -> pd.DateOffset:
    """'3Y', '6M', '2W', '90D' -> a calendar offset."""
    text = size.strip().upper()
    if len(text) < 2 or text[-1] not in _UNITS or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise ConfigError(f"window {size!r} is neither a bar count nor a span like '3Y', '6M'.")
    count = int(text[:-1])
    unit = _UNITS[text[-1]]
    if unit == "days":
        return pd.DateOffset(days=count)
    if unit == "weeks":
        return pd.DateOffset(weeks=count)
    if unit == "months":
        return pd.DateOffset(months=count)
    return pd.DateOffset(years=count)


def make_folds(
    index: pd.DatetimeIndex,
    *,
    n_folds: int | None = 10,
    train: int | str | None = None,
    test: int | str | None = None,
    anchored: bool = False,
    gap: int = 0,
) -> list[Fold]:
    """Rolling (or ``anchored``) walk-forward folds over ``index``.

    With ``train`` and ``test`` as bar counts, or as calendar spans like "3Y" and "6M"
    (measured on the calendar for every fold), test windows follow one another until the data
    ends (at most ``n_folds``). With only ``n_folds``, the data is cut so that each in-sample
    window is three test windows long. ``gap`` bars between in-sample and out-of-sample are used
    by neither (purge/embargo against leakage through indicators or labels that straddle the
    boundary); they are taken from the end of the in-sample side, so consecutive test windows
    always tile the out-of-sample span without holes.
    """
    n = len(index)
    if gap < 0:
        raise ConfigError("gap must be >= 0 bars.")
    if (train is None) != (test is None):
        raise ConfigError("give both train and test window sizes (or neither, with n_folds).")
    if train is None:
        if not n_folds or n_folds < 1:
            raise ConfigError("give n_folds, or train and test window sizes.")
        size = (n - gap) // (n_folds + 3)
        train, test = 3 * size, size
    folds: list[Fold] = []
    if isinstance(train, int) and isinstance(test, int):
        if train < 2 or test < 1:
            raise ConfigError(f"windows too small for {n} bars: train {train}, test {test}.")
        start = train + gap
        while start + test <= n and (n_folds is None or len(folds) < n_folds):
            stop = start - gap
            folds.append(
                Fold(len(folds), 0 if anchored else stop - train, stop, start, start + test)
            )
            start += test
    elif isinstance(train, str) and isinstance(test, str):
        train_off, test_off = _offset(train), _offset(test)
        anchor = index[0] + train_off  # test windows are [anchor + k span, anchor + (k+1) span)
        k = 0
        while n_folds is None or len(folds) < n_folds:
            lo, hi = anchor + k * test_off, anchor + (k + 1) * test_off
            if hi - pd.Timedelta(days=7) > index[-1]:
                break  # the window would be incomplete (a week of slack for holidays)
            # the gap comes off the training side (as with bar counts), so test windows
            # tile the out-of-sample span with no hole between them
            t_start = int(index.searchsorted(lo))
            t_end = min(int(index.searchsorted(hi)), n)
            if t_start >= t_end:
                break
            stop = t_start - gap
            if stop < 2:
                raise ConfigError(
                    f"gap {gap} leaves no in-sample bars before {index[t_start].date()}; "
                    "use a longer train span or a smaller gap."
                )
            begin = 0 if anchored else int(index.searchsorted(index[stop] - train_off))
            folds.append(Fold(len(folds), begin, stop, t_start, t_end))
            k += 1
    else:
        raise ConfigError("train and test must both be bar counts or both calendar spans.")
    if not folds:
        raise ConfigError(
            f"no complete fold fits in {n} bars (train {train}, test {test}, gap {gap})."
        )
    return folds


def _scores(rows: pd.DataFrame, objective: Objective) -> pd.Series:
    if callable(objective):
        return pd.Series(objective(rows), index=rows.index, dtype=float)
    if objective == "calmar":
        return rows["cagr"] / rows["max_drawdown"].abs().replace(0.0, np.nan)
    if objective not in rows.columns:
        raise ConfigError(
            f"objective {objective!r} is not a metric; use sharpe, sortino, cagr, "
            "total_return, calmar, or a function of the sweep rows."
        )
    return rows[objective].astype(float)


@dataclass(frozen=True)
class WalkForwardResult:
    """Folds with chosen parameters and IS/OOS metrics, the stitched OOS equity, diagnostics."""

    folds: pd.DataFrame
    oos_returns: pd.Series
    oos_equity: pd.Series
    param_names: tuple[str, ...]
    objective: str
    init_cash: float
    periods_per_year: float

    @property
    def efficiency(self) -> float:
        """Walk-forward efficiency: stitched OOS CAGR / mean in-sample CAGR of the chosen sets."""
        is_cagr = float(self.folds["is_cagr"].mean())
        oos = cagr(self.oos_returns, self.periods_per_year)
        return oos / is_cagr if is_cagr != 0 else float("nan")

    def stability(self) -> pd.DataFrame:
        """Per parameter: distinct values chosen, the modal value and its share, and the
        coefficient of variation across folds (0 = the same choice every time)."""
        out = {}
        for p in self.param_names:
            chosen = self.folds[p]
            mode = chosen.mode().iloc[0]
            mean = float(chosen.mean())
            out[p] = {
                "distinct": int(chosen.nunique()),
                "mode": mode,
                "mode_share": float((chosen == mode).mean()),
                "cv": float(chosen.std(ddof=0) / abs(mean)) if mean else float("nan"),
            }
        return pd.DataFrame(out).T

    def plot(self, bars: pd.DataFrame | None = None, *, title: str | None = None) -> Figure:
        """Interactive figure: the stitched out-of-sample equity (against buy and hold of
        ``bars``) over each fold's in-sample and out-of-sample span
        (:func:`toolkit.charts.walk_forward_figure`)."""
        from toolkit.charts import walk_forward_figure

        return walk_forward_figure(self, bars, title=title)

    def summary(self) -> dict[str, float]:
        r = self.oos_returns
        from toolkit import metrics as m

        return {
            "folds": float(len(self.folds)),
            "oos_cagr": m.cagr(r, self.periods_per_year),
            "oos_sharpe": m.sharpe(r, self.periods_per_year),
            "oos_max_drawdown": m.max_drawdown(r),
            "mean_is_objective": float(self.folds["is_objective"].mean()),
            "mean_oos_objective": float(self.folds["oos_objective"].mean()),
            "efficiency": self.efficiency,
        }


def walk_forward(
    bars: pd.DataFrame,
    strategy: str | Strategy,
    grid: ParamGrid | Mapping[str, Any],
    settings: EngineSettings | None = None,
    *,
    folds: list[Fold] | None = None,
    n_folds: int | None = 10,
    train: int | str | None = None,
    test: int | str | None = None,
    anchored: bool = False,
    gap: int = 0,
    objective: Objective = "sharpe",
    weights: Sequence[float] | None = None,
    risk: RiskLimits | None = None,
    on_fold: Callable[[int, int], None] | None = None,
) -> WalkForwardResult:
    """Walk-forward optimisation of ``strategy`` over ``grid`` on ``bars``.

    One symbol's bars are scored in-sample with the fused sweep; a (field, symbol) panel of
    several symbols is scored as one book (:func:`toolkit.sweep.sweep_portfolio` with
    ``weights``, default equal sleeves), and its out-of-sample runs trade the whole panel.
    The ``risk`` limits (and ``weights``) apply in-sample and out-of-sample alike, as in a
    backtest; each fold starts with fresh capital, peak and trading day. ``on_fold(done,
    total)`` is called after each fold (a progress bar).
    """
    panel = as_panel(bars)
    bar_arrays(panel)  # the engine's input gate, before any fold is cut
    several = panel["close"].shape[1] > 1
    s = settings or EngineSettings()
    spec = strategies.resolve(strategy)
    strategy = spec.name
    pgrid = grid if isinstance(grid, ParamGrid) else make_grid(spec, grid)
    index = pd.DatetimeIndex(bars.index)
    plan = folds or make_folds(
        index, n_folds=n_folds, train=train, test=test, anchored=anchored, gap=gap
    )
    records = []
    pieces = []
    for f in plan:
        in_sample = bars.iloc[f.train_start : f.train_stop]
        if several:
            rows = sweep_portfolio(in_sample, strategy, pgrid, s, weights, risk)
        else:
            rows = sweep(in_sample, strategy, pgrid, s, progress=False, risk=risk, weights=weights)
        score = _scores(rows, objective).replace([np.inf, -np.inf], np.nan)
        if score.notna().sum() == 0:
            raise ConfigError(f"fold {f.number}: no parameter set has a finite {objective}.")
        i_best = int(np.argmax(score.fillna(-np.inf).to_numpy()))
        best = rows.iloc[i_best]
        params = {p: best[p] for p in spec.param_names}
        history = bars.iloc[: f.test_stop]
        target = strategy_targets(history, spec, params).iloc[f.test_start :]
        book = book_weights(spec, weights, target.shape[1])
        oos = simulate(bars.iloc[f.test_start : f.test_stop], target, s, book, risk)
        oos_m = oos.metrics()
        oos_rows = pd.DataFrame([{**oos_m, "max_drawdown": oos_m["max_drawdown"]}])
        records.append(
            {
                "fold": f.number,
                "train_start": index[f.train_start],
                "train_end": index[f.train_stop - 1],
                "test_start": index[f.test_start],
                "test_end": index[f.test_stop - 1],
                **params,
                "is_objective": float(score.iloc[i_best]),
                "oos_objective": float(_scores(oos_rows, objective).iloc[0]),
                "is_cagr": float(best["cagr"]),
                "oos_cagr": oos_m["cagr"],
                "is_sharpe": float(best["sharpe"]),
                "oos_sharpe": oos_m["sharpe"],
                "oos_max_drawdown": oos_m["max_drawdown"],
                "oos_trades": oos_m["trades"],
            }
        )
        pieces.append(oos.returns)
        if on_fold is not None:
            on_fold(len(pieces), len(plan))
    returns = pd.concat(pieces)
    equity = s.init_cash * (1.0 + returns).cumprod()
    name = objective if isinstance(objective, str) else getattr(objective, "__name__", "custom")
    return WalkForwardResult(
        pd.DataFrame(records),
        returns.rename("oos_return"),
        equity.rename("oos_equity"),
        spec.param_names,
        name,
        s.init_cash,
        s.periods_per_year,
    )


def plot_walk_forward(
    result: WalkForwardResult, bars: pd.DataFrame | None = None, ax: Axes | None = None
) -> Axes:
    """Stitched out-of-sample equity with fold boundaries (and buy-and-hold if bars given)."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 5))
    ax.plot(result.oos_equity.index, result.oos_equity, label="walk-forward OOS")
    if bars is not None:
        close = pd.DataFrame(bars["close"]).reindex(result.oos_equity.index)
        # several symbols: equal-weight buy and hold
        hold = (close / close.iloc[0]).mean(axis=1)
        label = "buy & hold" if close.shape[1] == 1 else "equal-weight buy & hold"
        ax.plot(hold.index, result.init_cash * hold, alpha=0.6, label=label)
    for start in result.folds["test_start"]:
        ax.axvline(start, color="grey", linewidth=0.5, alpha=0.6)
    ax.set_yscale("log")
    ax.set_ylabel("equity")
    ax.set_title(
        f"Walk-forward ({len(result.folds)} folds, objective {result.objective}), "
        f"efficiency {result.efficiency:.2f}"
    )
    ax.legend()
    return ax
