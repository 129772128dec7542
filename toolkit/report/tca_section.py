"""The transaction-cost section of a report: the implementation shortfall of every order summed
and split (Perold 1988: delay, execution, opportunity, fees; see :mod:`toolkit.execution.tca`)
as a table and a waterfall chart, and the costliest orders. Used by the backtest tear sheet
(:func:`add_tca_section`) and report notebook 12 (:func:`draw_waterfall`)."""

from __future__ import annotations

import html
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

PARTS = ("delay_cost", "execution_cost", "opportunity_cost", "fees")
_LABELS = ("delay", "execution", "opportunity", "fees")
_SLOT = "<!-- toolkit: tca -->"
_ORDER_COLUMNS = {
    "symbol": "symbol",
    "side": "side",
    "quantity": "quantity",
    "decision_time": "decision",
    "arrival_price": "arrival",
    "avg_fill_price": "avg fill",
    "slippage_bp": "slippage bp",
    "delay_cost": "delay",
    "execution_cost": "execution",
    "opportunity_cost": "opportunity",
    "fees": "fees",
    "total_cost": "shortfall",
    "total_bp": "shortfall bp",
    "vwap_slippage_bp": "vs VWAP bp",
    "close_slippage_bp": "vs close bp",
    "participation": "participation",
}


def cost_parts(tca: pd.DataFrame) -> pd.Series:
    """The orders' costs summed (currency, > 0 hurt): delay, execution, opportunity, fees and
    the shortfall, with the paper notional and the shortfall in bp of it."""
    total = {
        label: math.fsum(tca[c].astype(float)) for label, c in zip(_LABELS, PARTS, strict=True)
    }
    total["shortfall"] = math.fsum(tca["total_cost"].astype(float))
    notional = math.fsum(tca["notional"].astype(float))
    total["notional"] = notional
    total["shortfall_bp"] = total["shortfall"] / notional * 1e4 if notional else math.nan
    return pd.Series(total, name="cost")


def draw_waterfall(ax: Any, parts: pd.Series, title: str = "Implementation shortfall") -> None:
    """A waterfall of ``parts`` (:func:`cost_parts`) on matplotlib axes ``ax``: each component
    stacked from the previous, then the shortfall (costs up, savings down)."""
    values = [float(parts[label]) for label in _LABELS]
    start = 0.0
    for i, v in enumerate(values):
        color = "#d62728" if v > 0 else "#2ca02c"
        ax.bar(i, v, bottom=start, color=color, width=0.6)
        ax.annotate(
            f"{v:,.0f}", (i, start + v), ha="center", va="bottom" if v >= 0 else "top", fontsize=9
        )
        start += v
    total = float(parts["shortfall"])
    ax.bar(len(values), total, color="#1f77b4", width=0.6)
    ax.annotate(
        f"{total:,.0f}",
        (len(values), total),
        ha="center",
        va="bottom" if total >= 0 else "top",
        fontsize=9,
    )
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(range(len(values) + 1), [*_LABELS, "shortfall"])
    ax.set_title(f"{title} ({parts['shortfall_bp']:+.1f} bp of notional; > 0 = cost)")
    ax.set_ylabel("currency")


def waterfall_svg(parts: pd.Series) -> str:
    """:func:`draw_waterfall` as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    try:
        draw_waterfall(ax, parts)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg")
    finally:
        plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.find("<svg") :]


def tca_html(tca: pd.DataFrame, top: int = 20) -> str:
    """The TCA section as HTML: totals, the waterfall, and the ``top`` costliest orders."""
    if tca.empty:
        return f'<div id="tca">{_SLOT}<h3>Transaction costs</h3><p>No orders.</p></div>'
    parts = cost_parts(tca)
    rows = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{parts[label]:,.2f}</td>"
        f"<td>{parts[label] / parts['notional'] * 1e4:+.2f}</td></tr>"
        for label in (*_LABELS, "shortfall")
    )
    worst = tca.sort_values("total_cost", ascending=False).head(top)
    table = (
        worst[list(_ORDER_COLUMNS)]
        .rename(columns=_ORDER_COLUMNS)
        .to_html(
            index=False,
            float_format=lambda x: f"{x:,.2f}",
            na_rep="n/a",
            border=0,
            classes="tca-orders",
        )
    )
    return (
        f'<div id="tca">{_SLOT}<h3>Transaction costs</h3>'
        f"<p>{len(tca)} orders on {parts['notional']:,.0f} of paper notional (quantity x "
        "arrival price, the close the order was decided at). Implementation shortfall (Perold "
        "1988) = delay + execution + opportunity + fees; positive = it cost.</p>"
        "<table><thead><tr><th>component</th><th>currency</th><th>bp</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{waterfall_svg(parts)}"
        f"<h4>The {len(worst)} costliest orders</h4>{table}</div>"
    )


def add_tca_section(tearsheet: Path, tca: pd.DataFrame) -> None:
    """Append the TCA section to a written tear sheet (before ``</body>``; once)."""
    text = tearsheet.read_text(encoding="utf-8")
    if _SLOT in text:
        return
    at = text.rfind("</body>")
    if at < 0:
        raise RuntimeError(f"{tearsheet}: no </body> to put the TCA section before")
    tearsheet.write_text(text[:at] + tca_html(tca) + text[at:], encoding="utf-8")
