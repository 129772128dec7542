"""One strategy, two drivers: the option backtest chooses the same put-credit vertical as the
live option session for live/options_paper.toml (short 0.20 delta, 25 wide, 14-50 days to
expiry, target 30) on the same quote date of the shipped SPXW file.

Delta sources. The live plan (toolkit.live._option_plan.select_spread) reads each option's
``modelGreeks``, which the gateway simulator computes with our pricer: BSM at the option's
mid-implied vol with the expiry's put-call-parity carry (toolkit.gateway.options). The
backtest reads, by default, the quote file's delta column (iVolatility's, ``delta_source =
"auto"``): one strike step (5 points) apart on 8 of the 20 days with an entry, as pinned;
with ``delta_source = "ours"`` (our BSM at the mid's implied vol and the day's parity
forward) the short strikes agree on every day.

The live side here is the session's own pure functions (expiries_by_preference,
select_spread) on the quotes and computations the gateway serves, filtered as the session
filters its chain (out-of-the-money puts within ``strike_band`` of the spot,
toolkit.live.option_session) -- without sockets, so it runs in a second or two.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tests.live.conftest import REPO
from toolkit.data import default_data_dir
from toolkit.data.options import load_option_quotes
from toolkit.engine.commissions import no_option_costs
from toolkit.gateway.options import OptionChains, quote_time
from toolkit.live._option_plan import (
    OptionQuote,
    expiries_by_preference,
    quoted_strikes,
    select_spread,
)
from toolkit.live.options_config import LegRules, load_option_config
from toolkit.options.backtest import (
    CreditSpread,
    DeltaSource,
    OptionSettings,
    StrikeRule,
    backtest_options,
)

SPXW = REPO / "data" / "options" / "SPXW_eod_2018-01-02_2018-02-28_2expiries.csv"
Choice = tuple[str, float, float] | None  # expiry YYYYMMDD, short strike, long strike

# quote date -> (live choice, backtest with the vendor's delta where it differs)
EXPECTED: dict[str, tuple[Choice, Choice]] = {
    "2018-01-02": (("20180131", 2635.0, 2610.0), None),
    "2018-01-10": (("20180131", 2705.0, 2680.0), ("20180131", 2700.0, 2675.0)),
    "2018-01-18": (None, None),  # 13 days to the January expiry, 41 to February's: none fits
    "2018-02-01": (("20180228", 2735.0, 2710.0), ("20180228", 2740.0, 2715.0)),
    "2018-02-08": (("20180228", 2410.0, 2385.0), ("20180228", 2405.0, 2380.0)),
    "2018-02-13": (("20180228", 2550.0, 2525.0), ("20180228", 2555.0, 2530.0)),
}


@pytest.fixture(scope="module")
def rules() -> LegRules:
    return load_option_config(REPO / "live" / "options_paper.toml").strategy.legs


@pytest.fixture(scope="module")
def chains() -> OptionChains:
    return OptionChains(default_data_dir())


@pytest.fixture(scope="module")
def quotes() -> pd.DataFrame:
    return load_option_quotes(SPXW)


def _live(chains: OptionChains, rules: LegRules, day: pd.Timestamp) -> Choice:
    """The live plan's put-credit vertical at 16:15 New York on ``day`` (its decide_at)."""
    now = quote_time(day) + pd.Timedelta(minutes=15)
    contracts = chains.chains("SPX", day)["SPXW"]
    expiries = sorted({c.last_trade for c in contracts})
    for expiry in expiries_by_preference(expiries, day.date(), rules):
        got: list[OptionQuote] = []
        for c in contracts:
            q = chains.quote(c, now) if c.last_trade == expiry and c.right == "P" else None
            if q is None or c.strike > q.underlying_price:
                continue
            if c.strike not in quoted_strikes([c.strike], q.underlying_price, rules):
                continue
            pricing = chains.pricing(c, q.quote_date, q.underlying_price)
            model = q.mid if q.two_sided else q.last  # the gateway's MODEL_OPTION tick
            delta = math.nan
            if pricing is not None and model > 0:
                delta = chains.computation(c, model, pricing).delta
            bid = q.bid if q.bid > 0 else -1.0  # ib_async's "no bid"
            ask = q.ask if q.ask > 0 else -1.0
            got.append(OptionQuote(c.con_id, c.local_symbol, "SPX", "P", c.strike, expiry,
                                   100.0, bid, ask, delta))  # fmt: skip
        spread = select_spread(got, "put_credit_vertical", rules)
        if not isinstance(spread, str):
            short, wing = spread.legs
            return expiry, short.quote.strike, wing.quote.strike
    return None


def _backtest(quotes: pd.DataFrame, rules: LegRules, day: pd.Timestamp, src: DeltaSource) -> Choice:
    """The backtest's entry on ``day`` with the live config's leg rules."""
    assert rules.dte_target is not None
    rule = CreditSpread(
        kind="put_credit", days=rules.dte_target, min_days=rules.dte_min,
        max_days=rules.dte_max, short=StrikeRule(delta=rules.short_delta, delta_source=src),
        width=rules.width, take_profit=None, stop_loss=None,
    )  # fmt: skip
    r = backtest_options(
        quotes[quotes["quote_date"] == day], rule, OptionSettings(commission=no_option_costs())
    )
    opened = r.fills[r.fills["reason"] == "open"]
    if opened.empty:
        return None
    short = opened[opened["quantity"] < 0].iloc[0]
    wing = opened[opened["quantity"] > 0].iloc[0]
    expiry = pd.Timestamp(short["expiry"]).strftime("%Y%m%d")
    return expiry, float(short["strike"]), float(wing["strike"])


@pytest.mark.parametrize("day", sorted(EXPECTED))
def test_backtest_chooses_the_live_plans_expiry_and_strikes(
    day: str, rules: LegRules, chains: OptionChains, quotes: pd.DataFrame
) -> None:
    d = pd.Timestamp(day)
    live, vendor = EXPECTED[day]
    assert _live(chains, rules, d) == live
    assert _backtest(quotes, rules, d, "ours") == live
    # the vendor's delta: the same where it is not pinned apart (one strike step off there)
    assert _backtest(quotes, rules, d, "auto") == (vendor if vendor is not None else live)


def test_a_spike_day_wing_is_quoted_beyond_the_strike_band(
    rules: LegRules, chains: OptionChains, quotes: pd.DataFrame
) -> None:
    # 2018-02-05 (spot 2648.98): both short the 2405 put, near the edge of the 10 % band
    # (>= 2384.08), and the 2390 put is 0/0 in the file. The session once quoted only the band,
    # took 2400 as the wing -- a 5-point spread for a 25-point rule -- while the backtest took
    # 2380 (bid 28.50 / ask 38.50). The session now quotes a width beyond the band and never
    # takes a wing more than half a width from the rule's strike: both choose 2405/2380.
    d = pd.Timestamp("2018-02-05")
    assert _live(chains, rules, d) == ("20180228", 2405.0, 2380.0)
    assert _backtest(quotes, rules, d, "ours") == ("20180228", 2405.0, 2380.0)


def test_a_wing_too_far_from_the_rule_is_refused() -> None:
    # only a 5-point wing is quoted under a 25-point rule: no spread, and the reason says so
    legs = LegRules(short_delta=0.2, width=25.0, dte_min=1, dte_max=60)
    short = OptionQuote(1, "S", "SPX", "P", 2405.0, "20180228", 100.0, 6.0, 6.5, -0.2)
    near = OptionQuote(2, "W", "SPX", "P", 2400.0, "20180228", 100.0, 5.0, 5.5, -0.18)
    got = select_spread([short, near], "put_credit_vertical", legs)
    assert isinstance(got, str) and "within half a width of 25" in got
