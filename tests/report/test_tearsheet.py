"""The tear sheet of ``python -m toolkit backtest`` agrees with the summary it prints: same
period, same CAGR and total returns, the benchmark under its own name, and an EOY returns
chart whose year labels sit under their own bars (quantstats' own chart misplaces them past
ten years)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from tests._commands import run_command


class _Tables(HTMLParser):
    """Rows of every <table> (cell texts), the <dt> date range and the <h4> subtitle."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.dt = ""
        self.h4 = ""
        self._cell: list[str] | None = None
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        self._tag = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._tag == "dt":
            self.dt += data
        elif self._tag == "h4":
            self.h4 += data


def _summary(stdout: str) -> dict[str, list[str]]:
    rows = {}
    for line in stdout.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 2:
            rows[parts[0]] = parts[1:]
    return rows


def _eoy_svg(html: str) -> str:
    start = html.index('<div id="eoy_returns">')
    return html[start : html.index("</svg>", start)]


def _ticks(svg: str) -> list[tuple[float, str]]:
    """(x, label) of every labelled x tick of a matplotlib SVG."""
    out = []
    for m in re.finditer(
        r'<g id="xtick_\d+">(.*?)(?=<g id="xtick_|<g id="matplotlib.axis_2")', svg, re.S
    ):
        x = re.search(r'd="M ([\d.]+) ', m.group(1)) or re.search(r' x="([\d.]+)"', m.group(1))
        label = re.search(r"<!-- (.*?) -->", m.group(1))
        if x and label and label.group(1).strip():
            out.append((float(x.group(1)), label.group(1).strip()))
    return out


def _bar_centres(svg: str) -> list[float]:
    """Horizontal centres of the chart's bars: the rectangles standing on the zero line."""
    rects = []
    for m in re.finditer(r'<g id="patch_\d+">\s*<path d="([^"]*)"', svg):
        nums = [float(v) for v in re.findall(r"-?[\d.]+", m.group(1))]
        if len(nums) == 8:
            xs, ys = nums[0::2], nums[1::2]
            rects.append((min(xs), max(xs), min(ys), max(ys)))
    axes_width = max(r[1] - r[0] for r in rects)
    small = [r for r in rects if r[1] - r[0] < axes_width / 10]
    edges = pd.Series([y for r in small for y in (r[2], r[3])]).round(3)
    baseline = float(edges.mode().iloc[0])
    return [
        (r[0] + r[1]) / 2
        for r in small
        if abs(r[2] - baseline) < 1e-3 or abs(r[3] - baseline) < 1e-3
    ]


# one pytest-xdist worker runs `make run`'s backtest (the `make_run` fixture) once for all tests
pytestmark = pytest.mark.xdist_group("tearsheet_make_run")


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[str]], str]:
    """`make run`'s command: the printed summary and the tear sheet it wrote."""
    reports = tmp_path_factory.mktemp("reports")
    done = run_command(
        "toolkit",
        "backtest",
        "--config",
        "research/configs/spy_sma_cross.toml",
        "--reports",
        reports,
    )
    assert done.returncode == 0, done.stderr
    (sheet,) = reports.glob("*/tearsheet.html")
    return _summary(done.stdout), sheet.read_text(encoding="utf-8")


def test_tearsheet_period_and_numbers_are_the_summary(make_run) -> None:
    summary, html = make_run
    page = _Tables()
    page.feed(html)
    first, last = (pd.Timestamp(d) for d in summary["Period"][0].split(" .. "))
    shown = [pd.Timestamp(d.strip()) for d in page.dt.replace("(matched dates)", "").split(" - ")]
    assert shown == [first, last]  # not the strategy's first trade in October 2000
    assert "matched dates" not in page.dt
    metrics = {r[0]: r[1:] for r in page.rows if len(r) == 3}
    assert metrics["Metric"] == ["SPY", "sma_cross"]  # benchmark first, by its own name
    assert "Benchmark: SPY" in page.h4 and "BENCHMARK" not in html

    def pct(text: str) -> float:
        return float(text.rstrip("%"))

    strategy_total, bench_total = (pct(v) for v in summary["Total return"])
    strategy_cagr, bench_cagr = (pct(v) for v in summary["CAGR"])
    cagr = next(v for k, v in metrics.items() if k.startswith("CAGR"))
    assert pct(metrics["Cumulative Return"][1]) == pytest.approx(strategy_total, abs=0.006)
    assert pct(metrics["Cumulative Return"][0]) == pytest.approx(bench_total, abs=0.006)
    assert pct(cagr[1]) == pytest.approx(strategy_cagr, abs=0.006)
    assert pct(cagr[0]) == pytest.approx(bench_cagr, abs=0.006)
    # the EOY table covers every calendar year of the period
    years = [int(r[0]) for r in page.rows if len(r) == 5 and r[0].isdigit()]
    assert years == list(range(first.year, last.year + 1))


def test_eoy_chart_labels_every_year_under_its_own_bars(make_run) -> None:
    summary, html = make_run
    first, last = (pd.Timestamp(d) for d in summary["Period"][0].split(" .. "))
    svg = _eoy_svg(html)
    ticks = _ticks(svg)
    years = list(range(first.year, last.year + 1))
    assert len(years) > 10  # the case quantstats draws wrongly
    assert [label for _, label in ticks] == [str(y) for y in years]
    xs = [x for x, _ in ticks]
    slot = (xs[-1] - xs[0]) / (len(xs) - 1)
    centres = _bar_centres(svg)
    assert len(centres) >= 2 * len(years) - 2  # strategy and benchmark bars (a 0 may vanish)
    for x, label in ticks:
        near = [c for c in centres if abs(c - x) < slot / 2]
        assert near, f"no bar under the label {label}"
    assert all(min(abs(c - x) for x in xs) < slot / 2 for c in centres)


_DRAWN = (
    "eoy_returns",
    "monthly_dist",
    "rolling_beta",
    "rolling_vol",
    "rolling_sharpe",
    "dd_periods",
    "dd_plot",
    "monthly_heatmap",
)


def _chart(html: str, slot: str) -> str:
    start = html.index(f'<div id="{slot}">')
    return html[start : html.index("</div>", start)]


def test_tearsheet_draws_the_charts_it_shows_and_no_others(make_run) -> None:
    """The charts that repeat another one are neither drawn nor left as empty boxes; every
    other chart is there (quantstats' cumulative returns chart heads the left column)."""
    from toolkit.report.tearsheet import LEFT_OUT

    _, html = make_run
    for slot in LEFT_OUT:
        assert f'id="{slot}"' not in html, slot
    for slot in _DRAWN:
        assert "<svg" in _chart(html, slot), slot
    # + cumulative returns and the TCA waterfall (tca_section), nothing else drawn
    assert html.count("<svg") == len(_DRAWN) + 2


def test_tearsheet_says_what_it_is_doing_and_leaves_quantstats_as_it_was(tmp_path) -> None:
    import numpy as np
    import quantstats as qs

    from toolkit.report.tearsheet import write_tearsheet

    before = {name: getattr(qs.plots, name) for name in dir(qs.plots)}
    index = pd.bdate_range("2019-01-01", "2021-12-31")
    rng = np.random.default_rng(5)
    returns = pd.Series(rng.normal(4e-4, 0.01, len(index)), index=index)
    bench = pd.Series(rng.normal(3e-4, 0.012, len(index)), index=index, name="SPY")
    heard: list[str] = []
    write_tearsheet(returns, tmp_path / "t.html", benchmark=bench, progress=heard.append)
    assert heard == [
        "tear sheet: loading matplotlib and quantstats",
        "tear sheet: quantstats metrics, EOY and drawdown tables",
        "tear sheet: quantstats charts (returns, drawdowns, rolling, heatmap)",
        "tear sheet: EOY returns chart",
    ]
    assert {name: getattr(qs.plots, name) for name in dir(qs.plots)} == before
    html = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert all("<svg" in _chart(html, slot) for slot in _DRAWN)


def test_report_notebook_tearsheet_names_its_benchmark_and_keeps_its_period(tmp_path) -> None:
    """A report notebook's returns.csv (notebook 10 writes strategy and SPY): the tear sheet
    covers every row, starting flat, and names the benchmark by its column."""
    import numpy as np

    from toolkit.report.notebook_runner import tearsheet_from_returns

    index = pd.bdate_range("2010-01-04", "2022-12-30")
    rng = np.random.default_rng(3)
    strategy = rng.normal(3e-4, 0.01, len(index))
    strategy[:200] = 0.0  # flat until the first trade, as a strategy with a long warm-up
    frame = pd.DataFrame(
        {"strategy": strategy, "SPY": rng.normal(3e-4, 0.012, len(index))}, index=index
    )
    frame.to_csv(tmp_path / "returns.csv", index_label="timestamp")
    html = tearsheet_from_returns(tmp_path / "returns.csv", "10_strategy_tearsheet").read_text()
    page = _Tables()
    page.feed(html)
    assert [pd.Timestamp(d.strip()) for d in page.dt.split(" - ")] == [index[0], index[-1]]
    assert "Benchmark: SPY" in page.h4
    ticks = _ticks(_eoy_svg(html))
    assert [label for _, label in ticks] == [str(y) for y in range(2010, 2023)]


def test_tearsheet_has_the_orders_transaction_costs(make_run) -> None:
    """The "Transaction costs" section: the orders' shortfall split as toolkit.execution's
    engine_tca computes it for the same backtest, components adding up to the total."""
    from toolkit.app.backtest import load_run_bars
    from toolkit.config import load_config
    from toolkit.engine import backtest
    from toolkit.execution import engine_tca
    from toolkit.report.tca_section import cost_parts

    _, html = make_run
    section = html[html.index('<div id="tca">') :]
    page = _Tables()
    page.feed(section)
    shown = {r[0]: float(r[1].replace(",", "")) for r in page.rows[1:6]}
    assert list(shown) == ["delay", "execution", "opportunity", "fees", "shortfall"]
    from pathlib import Path

    cfg = load_config(Path(__file__).parents[2] / "research" / "configs" / "spy_sma_cross.toml")
    bars = load_run_bars(cfg).frame
    result = backtest(bars, cfg.strategy, cfg.params, cfg.engine, cfg.weights, cfg.risk)
    parts = cost_parts(engine_tca(result, bars))
    for name, value in shown.items():
        assert value == pytest.approx(parts[name], abs=0.006), name
    assert sum(shown[k] for k in ("delay", "execution", "opportunity", "fees")) == pytest.approx(
        shown["shortfall"], abs=0.03
    )
    assert f"{len(result.orders)} orders on" in section and "<svg" in section
