"""The dashboard's order book panel (issue 18.5): for each symbol whose depth the session
subscribes (``[session] depth_levels``), the bids and asks with their sizes, the spread (in
money and basis points of the mid), the depth imbalance over the shown levels and a bar of it.

:func:`book_view` snapshots ib_async's depth (``Ticker.domBids`` / ``domAsks``, kept by the
client from IB's updateMktDepth operations) into a plain :class:`BookView`; :func:`book_panel`
renders views; :func:`fit_book` gives the panel with as many levels as fit a short terminal
(the dashboard hides it only when even the touch does not fit).

Depth imbalance is (bid size - ask size) / (bid size + ask size) summed over the shown levels,
in [-1, 1], positive when the bids outweigh the asks (hftbacktest's and Cont, Kukanov and
Stoikov's "order book imbalance" summed over N levels; not order-flow imbalance).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

BAR_CELLS = 20  # width of the imbalance bar


@dataclass(frozen=True)
class BookView:
    """One symbol's book as the client holds it: (price, size) per level, best first."""

    symbol: str
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]

    @property
    def spread(self) -> float:
        """Best ask - best bid (NaN with a side empty)."""
        return self.asks[0][0] - self.bids[0][0] if self.bids and self.asks else math.nan

    @property
    def mid(self) -> float:
        return (self.asks[0][0] + self.bids[0][0]) / 2 if self.bids and self.asks else math.nan

    def imbalance(self, levels: int | None = None) -> float:
        """Depth imbalance over the first ``levels`` levels (all: None); NaN with no size."""
        bid = sum(s for _, s in self.bids[:levels])
        ask = sum(s for _, s in self.asks[:levels])
        return (bid - ask) / (bid + ask) if bid + ask > 0 else math.nan

    def top(self, levels: int) -> BookView:
        return BookView(self.symbol, self.bids[:levels], self.asks[:levels])


def book_view(symbol: str, ticker: Any, rows: int) -> BookView:
    """A snapshot of an ib_async Ticker's depth (``domBids``/``domAsks``), ``rows`` a side."""
    return BookView(
        symbol,
        tuple((float(lv.price), float(lv.size)) for lv in list(ticker.domBids)[:rows]),
        tuple((float(lv.price), float(lv.size)) for lv in list(ticker.domAsks)[:rows]),
    )


def book_views(tickers: Mapping[str, Any], rows: int) -> list[BookView]:
    """Views of every subscribed symbol, in symbol order."""
    return [book_view(s, tickers[s], rows) for s in sorted(tickers)]


def _size(x: float) -> str:
    return f"{x:,.0f}"


def _imbalance_bar(share: float) -> Text:
    """``bid ██████░░░░ ask``: the bids' share of the shown size, green against red."""
    if math.isnan(share):
        return Text("bid " + "·" * BAR_CELLS + " ask", style="dim")
    cells = round((share + 1) / 2 * BAR_CELLS)
    return Text.assemble("bid ", ("█" * cells, "green"), ("█" * (BAR_CELLS - cells), "red"), " ask")


def _one(view: BookView, levels: int) -> Table:
    shown = view.top(levels)
    spread, mid, imb = shown.spread, shown.mid, shown.imbalance()
    # a side empty (NaN), or zero/negative prices IB can send for a level: no spread in bp
    bp = f" ({spread / mid * 1e4:.1f} bp)" if mid > 0 else ""
    shown_spread = "-" if math.isnan(spread) else f"{spread:,.2f}{bp}"
    shown_imb = "-" if math.isnan(imb) else f"{imb:+.2f}"
    head = f"Book {view.symbol}  spread {shown_spread}  imbalance {shown_imb}"
    t = Table(
        title=head,
        title_justify="left",
        title_style="bold",
        expand=True,
        show_edge=False,
        pad_edge=False,
        caption=_imbalance_bar(imb),
        caption_justify="left",
    )
    for c in ("bid size", "bid", "ask", "ask size"):
        t.add_column(c, justify="right", no_wrap=True, overflow="ellipsis")
    for k in range(max(len(shown.bids), len(shown.asks), 1)):
        bid = shown.bids[k] if k < len(shown.bids) else None
        ask = shown.asks[k] if k < len(shown.asks) else None
        t.add_row(
            "" if bid is None else _size(bid[1]),
            Text("-" if bid is None else f"{bid[0]:,.2f}", style="green"),
            Text("-" if ask is None else f"{ask[0]:,.2f}", style="red"),
            "" if ask is None else _size(ask[1]),
        )
    return t


def book_panel(views: Sequence[BookView], levels: int | None = None) -> RenderableType:
    """Every book, ``levels`` levels a side (all the views hold: None)."""
    most = max((max(len(v.bids), len(v.asks)) for v in views), default=1)
    n = most if levels is None else levels
    return Group(*[_one(v, max(n, 1)) for v in views])


def fit_book(
    views: Sequence[BookView], room: int, height: Callable[[RenderableType], int]
) -> tuple[RenderableType, int]:
    """The panel with the most levels whose ``height`` fits ``room`` lines (fewer levels
    before none); the one-level panel and its height when nothing fits."""
    most = max((max(len(v.bids), len(v.asks)) for v in views), default=1)
    panel: RenderableType = book_panel(views, 1)
    need = height(panel)
    for levels in range(max(most, 1), 0, -1):
        panel = book_panel(views, levels)
        need = height(panel)
        if need <= room:
            break
    return panel, need


__all__ = ["BookView", "book_panel", "book_view", "book_views", "fit_book"]
