"""Option views: a spread's P&L at expiry (exact) and before it (model), the implied-vol
smile of a fitted surface with the market's quotes, and the surface itself in 3D."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

from toolkit.charts._style import MONEY, PALETTE, layout
from toolkit.errors import ConfigError
from toolkit.options.payoff import breakevens, expiry_pnl
from toolkit.options.scenarios import Vols, scenario_grid
from toolkit.options.surface import Surface
from toolkit.options.templates import Spread


def payoff_figure(
    spread: Spread,
    *,
    spot: float,
    as_of: dt.date | None = None,
    vols: Vols | None = None,
    rate: float = 0.0,
    div: float = 0.0,
    prices: npt.ArrayLike | None = None,
    days: Sequence[int] = (),
    title: str | None = None,
) -> go.Figure:
    """P&L of the position (dollars) by underlying price: at expiry, exactly
    (:func:`toolkit.options.expiry_pnl`), and -- given ``as_of`` and ``vols`` -- now and
    ``days`` calendar days forward at the model (:func:`toolkit.options.scenario_grid`).
    Breakevens at expiry and the spot are marked. ``prices`` default to spot +- 10 %."""
    px = (
        np.linspace(0.9 * spot, 1.1 * spot, 241)
        if prices is None
        else np.asarray(prices, dtype=np.float64)
    )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=px,
            y=expiry_pnl(spread, px),
            name="at expiry",
            line={"color": "black", "width": 1.8},
            hovertemplate=f"at expiry: %{{y:{MONEY}}}<extra></extra>",
        )
    )
    if (as_of is None) != (vols is None):
        raise ConfigError("give both as_of and vols for the P&L before expiry, or neither.")
    if as_of is not None and vols is not None:
        forward = [0, *(int(d) for d in days)]
        grid = scenario_grid(
            spread, spot=spot, as_of=as_of, vols=vols, prices=px, days=forward, rate=rate, div=div
        )
        for j, d in enumerate(forward):
            label = "now (model)" if d == 0 else f"in {d} days (model)"
            fig.add_trace(
                go.Scatter(
                    x=px,
                    y=grid.pnl[:, j, 0],
                    name=label,
                    line={"width": 1.4, "dash": "solid" if d == 0 else "dash"},
                    hovertemplate=f"{label}: %{{y:{MONEY}}}<extra></extra>",
                )
            )
    for b in breakevens(spread):
        fig.add_vline(x=b, line={"color": "grey", "dash": "dot", "width": 1})
    fig.add_vline(
        x=spot, line={"color": "#1f77b4", "width": 1}, annotation_text=f"spot {spot:,.2f}"
    )
    fig.add_hline(y=0.0, line={"color": "grey", "width": 0.8})
    fig.update_xaxes(title_text=f"{spread.underlying} price", tickformat=",.0f")
    fig.update_yaxes(title_text="P&L", tickformat=",.0f")
    head = title or f"{spread.name or spread.kind}: P&L by {spread.underlying} price"
    return layout(fig, head, 440, hovermode="x unified")


def _pick(surface: Surface, days: Sequence[float] | None) -> list[int]:
    if not surface.slices:
        raise ConfigError(f"the surface of {surface.quote_date.date()} has no fitted slice.")
    if days is None:
        return list(range(len(surface.slices)))
    picked = {
        min(range(len(surface.slices)), key=lambda i: abs(surface.slices[i].days - d)) for d in days
    }
    return sorted(picked)


def smile_figure(
    surface: Surface, *, days: Sequence[float] | None = None, title: str | None = None
) -> go.Figure:
    """Implied vol by strike for each fitted expiry (or those nearest ``days``): the SVI fit
    as a line, the market's out-of-the-money quotes as points with their bid-ask vol range."""
    smile = surface.smile
    fig = go.Figure()
    for n, i in enumerate(_pick(surface, days)):
        s = surface.slices[i]
        colour = PALETTE[n % len(PALETTE)]
        k = s.grid()
        tag = f"{s.expiry:%Y-%m-%d} ({s.days:.0f}d)"
        fig.add_trace(
            go.Scatter(
                x=s.forward * np.exp(k),
                y=s.params.implied_vol(k, s.T),
                name=f"SVI {tag}",
                mode="lines",
                legendgroup=tag,
                line={"color": colour},
                hovertemplate=f"SVI {tag}<br>strike %{{x:,.2f}}: %{{y:.2%}}<extra></extra>",
            )
        )
        pts = smile[(smile["expiry"] == s.expiry) & (smile["root"] == s.root)]
        iv = pts["iv"].to_numpy(dtype=np.float64)
        fig.add_trace(
            go.Scatter(
                x=pts["strike"].to_numpy(),
                y=iv,
                name=f"market {tag}",
                mode="markers",
                legendgroup=tag,
                marker={"size": 4, "color": colour},
                opacity=0.7,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": np.nan_to_num(pts["iv_ask"].to_numpy(dtype=np.float64) - iv),
                    "arrayminus": np.nan_to_num(iv - pts["iv_bid"].to_numpy(dtype=np.float64)),
                    "thickness": 0.6,
                    "width": 0,
                },
                hovertemplate=f"market {tag}<br>strike %{{x:,.2f}}: %{{y:.2%}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="strike", tickformat=",.0f")
    fig.update_yaxes(title_text="implied vol", tickformat=".0%")
    head = title or (
        f"{surface.underlying} implied vol smiles on {surface.quote_date:%Y-%m-%d} "
        f"(spot {surface.underlying_price:,.2f})"
    )
    return layout(fig, head, 460)


def surface_figure(surface: Surface, *, points: int = 41, title: str | None = None) -> go.Figure:
    """The fitted surface in 3D: implied vol over log-moneyness ln(K/F) and days to expiry
    (:meth:`toolkit.options.Surface.vol_grid`), one row per fitted slice."""
    grid = surface.vol_grid(points)
    if grid.empty:
        raise ConfigError(f"the surface of {surface.quote_date.date()} has no fitted slice.")
    shape = (len(surface.slices), points)  # vol_grid stacks the slices, `points` rows each
    z, k, d = (grid[c].to_numpy(dtype=np.float64).reshape(shape) for c in ("iv", "k", "days"))
    fig = go.Figure(
        go.Surface(
            x=k,
            y=d,
            z=z,
            colorscale="Viridis",
            colorbar={"title": {"text": "IV"}, "tickformat": ".0%"},
            hovertemplate="ln(K/F) %{x:.3f}<br>%{y:.0f} days<br>IV %{z:.2%}<extra></extra>",
        )
    )
    head = title or f"{surface.underlying} implied vol surface on {surface.quote_date:%Y-%m-%d}"
    return layout(
        fig,
        head,
        560,
        scene={
            "xaxis_title": "ln(K/F)",
            "yaxis_title": "days to expiry",
            "zaxis": {"title": {"text": "implied vol"}, "tickformat": ".0%"},
        },
    )
