"""Option contracts and their quotes for the simulated gateway, from the shipped chains
(``data/options/*.csv`` through :func:`toolkit.data.options.load_option_quotes`).

Nothing here knows about sockets or the wire format: the session asks for contracts, quotes
and option computations; the exchange asks for the touch to match orders against.

* **Contracts.** One per OCC symbol in any shipped file (IB's ``localSymbol``); the IB symbol
  is the underlying (``SPX`` for SPXW), the trading class the OCC root, multiplier 100.
  Contract ids are stable: ``1_000_000_000 + blake2b(OCC symbol) mod 1e9``, a collision
  (none in the shipped files) probing upward in sorted OCC order.
* **Clock -> quote date.** The shipped quotes are end-of-day (or after-close snapshots), so the
  quotes of trading date *d* exist from *d*'s close (16:00 New York, 13:00 on an early close)
  on, like the daily bars (:func:`toolkit.gateway.market.daily_cutoff`): at simulated time
  ``now`` an underlying's quote date is its latest one whose session had closed by ``now``.
  They stay in force until the next quote date's close (a missing day keeps the previous
  quotes; the last-trade-time tick says how old they are) but never for more than
  :data:`STALE_AFTER` (5 days: a weekend plus a missing day), so a one-day snapshot (the SPY
  chains) is not served as live a month later. A contract not quoted on that date has no
  quote, and an expired contract (expiry before the New York date of ``now``) none. Before
  the first quote date's close there are no option quotes. To trade a chain, start the
  simulator inside its dates (e.g. ``Gateway(start="2018-01-10 22:00")`` for the SPXW file,
  ``"2026-02-11 21:30"`` for that SPY snapshot).
* **Computations.** IB's ``tickOptionComputation`` values come from our own pricer: per quote
  date and expiry the carry of :func:`toolkit.options.implied.chain_carry` (the toolkit's one
  rule: European chains by put-call parity, ``r = -ln(DF)/T``; American chains with the rate
  from de-Americanised parity on the long expiries and the forward near the money;
  ``q = r - ln(F/S)/T``), the implied vol of the bid, ask, last and mid by the Black inversion,
  and Black-Scholes-Merton Greeks. Time is ACT/365 from the quote date's close to
  the expiry date's. IB's units: vega per vol point (1%), theta per calendar day, pvDividend
  ``S (1 - e^{-qT})``. American chains (SPY, VXX) are inverted and priced with the American
  pricer (:mod:`toolkit.options.american`, QD+ fixed point) at that carry.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from toolkit.data import calendar
from toolkit.data.options import COLUMNS, load_option_quotes
from toolkit.gateway._chain_index import chain_underlyings
from toolkit.options.american import american_greeks, american_implied_vol
from toolkit.options.black import bsm_greeks
from toolkit.options.conventions import to_ib
from toolkit.options.implied import IVReason, chain_carry, implied_vol

DAYS_PER_YEAR = 365.0
_Carry = tuple[float, float, float, float]  # spot, forward, rate, dividend yield of an expiry
STALE_AFTER = pd.Timedelta(days=5)  # quotes older than this are not served (no quote at all)
INDEX_UNDERLYINGS = frozenset({"SPX", "NDX", "RUT", "VIX", "XSP", "DJX"})  # secType IND at IB
BAG_CON_ID = 28812380  # IB's contract id of every SMART combo (BAG) contract


@dataclass(frozen=True)
class OptionContract:
    """One listed option as IB describes it."""

    con_id: int
    symbol: str  # IB's symbol: the underlying (SPX for SPXW)
    trading_class: str  # the OCC root (SPXW)
    expiry: pd.Timestamp  # the expiry date (midnight, naive)
    right: str  # C or P
    strike: float
    local_symbol: str  # the padded 21-character OCC id
    style: str  # A (American) or E (European)
    multiplier: float = 100.0

    @property
    def last_trade(self) -> str:
        """lastTradeDateOrContractMonth, YYYYMMDD."""
        return self.expiry.strftime("%Y%m%d")

    @property
    def underlying_sec_type(self) -> str:
        return "IND" if self.symbol in INDEX_UNDERLYINGS else "STK"


@dataclass(frozen=True)
class OptionQuote:
    """One contract's quote on one quote date, with the underlying's price of that date."""

    quote_date: pd.Timestamp
    as_of: pd.Timestamp  # when these quotes came to exist: the quote date's close (UTC)
    bid: float  # NaN when there is no bid
    ask: float
    last: float
    volume: float
    open_interest: float
    underlying_price: float

    @property
    def two_sided(self) -> bool:
        return bool(0.0 < self.bid <= self.ask)

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask) if self.two_sided else math.nan


@dataclass(frozen=True)
class Computation:
    """IB's OptionComputation fields (NaN where not computable): implied vol, delta, option
    price, PV of dividends, gamma, vega (per vol point), theta (per day), underlying price."""

    iv: float
    delta: float
    price: float
    pv_dividend: float
    gamma: float
    vega: float
    theta: float
    und_price: float


@dataclass(frozen=True)
class Pricing:
    """What an expiry's Greeks need on one quote date: spot, time, rates from parity."""

    S: float
    T: float
    r: float
    q: float

    @property
    def forward(self) -> float:
        return self.S * math.exp((self.r - self.q) * self.T)

    @property
    def df(self) -> float:
        return math.exp(-self.r * self.T)


# the quote files read once per process (by path, size and modification time): simulators
# started one after another (tests, rehearsals) share them; the frame is never modified
_QUOTES: dict[tuple[tuple[str, int, int], ...], pd.DataFrame] = {}


def _shipped_quotes(data_dir: Path) -> pd.DataFrame:
    files = sorted((data_dir / "options").glob("*.csv"))
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    frame = _QUOTES.get(key)
    if frame is None:
        frames = [load_option_quotes(f) for f in files]
        frame = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
        )
        _QUOTES.clear()  # one set of files at a time: a changed file replaces the old frame
        _QUOTES[key] = frame
    return frame


MIN_CON_ID = 1_000_000_000  # option contract ids are in [1e9, 2e9); stocks' below (con_id_for)


def _con_id(local_symbol: str) -> int:
    digest = hashlib.blake2b(local_symbol.encode(), digest_size=8).digest()
    return MIN_CON_ID + int.from_bytes(digest, "big") % MIN_CON_ID


def quote_time(day: pd.Timestamp) -> pd.Timestamp:
    """When a quote date's end-of-day quotes exist: its session's close, in UTC."""
    return pd.Timestamp(calendar.session_close(day.date()))


def new_york_date(now: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(now.tz_convert(calendar.NEW_YORK).date())


@dataclass
class OptionChains:
    """Every shipped option contract and its quotes by date (loaded on first use)."""

    data_dir: Path
    _frame: pd.DataFrame | None = None
    contracts: dict[int, OptionContract] = field(default_factory=dict)
    by_local: dict[str, OptionContract] = field(default_factory=dict)
    _rows: dict[tuple[int, int], int] = field(default_factory=dict)  # (conId, day ns) -> row
    _dates: dict[str, np.ndarray] = field(default_factory=dict)  # underlying -> quote dates
    _pricing: dict[tuple[str, pd.Timestamp, pd.Timestamp], Pricing | None] = field(
        default_factory=dict
    )
    # (root, quote date) -> expiry -> (spot, forward, rate, dividend yield)
    _carry: dict[tuple[str, pd.Timestamp], dict[pd.Timestamp, _Carry]] = field(default_factory=dict)

    # -- loading -----------------------------------------------------------------------
    def _load(self) -> pd.DataFrame:
        if self._frame is not None:
            return self._frame
        frame = _shipped_quotes(self.data_dir)
        self._frame = frame
        if frame.empty:
            return frame  # no option files in this data folder: no contracts, no quotes
        taken: set[int] = set()
        first = frame.drop_duplicates("symbol").sort_values("symbol")
        expiries = pd.DatetimeIndex(first["expiry"])
        columns = zip(
            first["symbol"].tolist(),
            first["underlying"].tolist(),
            first["root"].tolist(),
            expiries,
            first["right"].tolist(),
            first["strike"].tolist(),
            first["style"].tolist(),
            first["multiplier"].tolist(),
            strict=True,
        )
        for symbol, und, root, expiry, right, strike, style, mult in columns:
            con_id = _con_id(symbol)
            while con_id in taken:
                con_id += 1
            taken.add(con_id)
            c = OptionContract(
                con_id, und, root, expiry, right, float(strike), symbol, style, float(mult)
            )
            self.contracts[con_id] = c
            self.by_local[symbol] = c
        ids = frame["symbol"].map({k: c.con_id for k, c in self.by_local.items()})
        days = pd.DatetimeIndex(frame["quote_date"]).asi8.tolist()
        self._rows = {key: k for k, key in enumerate(zip(ids.tolist(), days, strict=True))}
        for und, group in frame.groupby("underlying"):
            self._dates[str(und)] = np.sort(pd.DatetimeIndex(group["quote_date"].unique()).values)
        return frame

    def underlyings(self) -> dict[str, str]:
        """Underlying symbol -> its IB secType (IND or STK), for every shipped chain (before
        the chains are loaded, from the files' underlying columns: an unknown symbol is
        answered fast)."""
        names = chain_underlyings(self.data_dir) if self._frame is None else None
        if names is None:
            self._load()
            names = frozenset(self._dates)
        return {u: ("IND" if u in INDEX_UNDERLYINGS else "STK") for u in sorted(names)}

    # -- contracts -----------------------------------------------------------------------
    def find(
        self,
        *,
        con_id: int = 0,
        symbol: str = "",
        last_trade: str = "",
        strike: float = 0.0,
        right: str = "",
        trading_class: str = "",
        local_symbol: str = "",
        multiplier: str = "",
        as_of: pd.Timestamp | None = None,
    ) -> list[OptionContract]:
        """Contracts matching a request, IB's way: a contract id or OCC local symbol names one;
        otherwise the symbol (the underlying) with any of expiry (YYYYMMDD, or YYYYMM for the
        month), strike, right, trading class and multiplier narrowing it. Contracts expired
        by ``as_of`` (a New York date) are left out."""
        if 0 < con_id < MIN_CON_ID:
            return []  # not an option's id (_con_id): no need to load the chains
        self._load()
        if con_id:
            hit = self.contracts.get(con_id)
            found = [] if hit is None else [hit]
        elif local_symbol.strip():
            wanted = " ".join(local_symbol.split())
            found = [
                c for c in self.by_local.values() if " ".join(c.local_symbol.split()) == wanted
            ]
        else:
            # the cheap tests first: last_trade formats a date (a chain has thousands)
            found = [
                c
                for c in self.contracts.values()
                if c.symbol == symbol
                and (not strike or abs(c.strike - strike) < 1e-6)
                and (not right or c.right == right)
                and (not trading_class or c.trading_class == trading_class.upper())
                and (not last_trade or c.last_trade.startswith(last_trade))
            ]
        if multiplier:
            try:
                found = [c for c in found if float(multiplier) == c.multiplier]
            except ValueError:
                return []
        if as_of is not None:
            found = [c for c in found if c.expiry >= as_of]
        return sorted(found, key=lambda c: (c.expiry, c.right, c.strike, c.trading_class))

    def chains(self, symbol: str, as_of: pd.Timestamp | None) -> dict[str, list[OptionContract]]:
        """An underlying's unexpired contracts by trading class (reqSecDefOptParams)."""
        out: dict[str, list[OptionContract]] = {}
        for c in self.find(symbol=symbol, as_of=as_of):
            out.setdefault(c.trading_class, []).append(c)
        return out

    # -- quotes --------------------------------------------------------------------------
    def quote_date(self, underlying: str, now: pd.Timestamp) -> pd.Timestamp | None:
        """The underlying's latest quote date whose session had closed by ``now``."""
        self._load()
        dates = self._dates.get(underlying)
        if dates is None or len(dates) == 0:
            return None
        day = np.datetime64(new_york_date(now).to_datetime64())
        i = int(np.searchsorted(dates, day, side="right")) - 1
        while i >= 0:
            d = pd.Timestamp(dates[i])
            if quote_time(d) <= now:
                return d if now - quote_time(d) <= STALE_AFTER else None
            i -= 1
        return None

    def quote_range(self, underlying: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        self._load()
        dates = self._dates.get(underlying)
        if dates is None or len(dates) == 0:
            return None
        return pd.Timestamp(dates[0]), pd.Timestamp(dates[-1])

    def quote(self, c: OptionContract, now: pd.Timestamp) -> OptionQuote | None:
        """The contract's quote in force at ``now`` (None: none yet, not quoted that day, or
        expired)."""
        frame = self._load()
        if c.expiry < new_york_date(now):
            return None
        day = self.quote_date(c.symbol, now)
        if day is None:
            return None
        k = self._rows.get((c.con_id, day.value))
        if k is None:
            return None
        row = frame.iloc[k]
        return OptionQuote(
            day,
            quote_time(day),
            float(row["bid"]),
            float(row["ask"]),
            float(row["last"]),
            float(row["volume"]),
            float(row["open_interest"]),
            float(row["underlying_price"]),
        )

    def underlying_price(self, symbol: str, now: pd.Timestamp) -> float | None:
        """The underlying's price in the chain on the quote date in force (for underlyings
        without bars of their own, e.g. SPX)."""
        frame = self._load()
        day = self.quote_date(symbol, now)
        if day is None:
            return None
        rows = frame[(frame["underlying"] == symbol) & (frame["quote_date"] == day)]
        return float(rows["underlying_price"].iloc[0]) if len(rows) else None

    def underlying_on(self, symbol: str, day: pd.Timestamp) -> float | None:
        """The underlying's price quoted in the chain on exactly ``day`` (None: no quotes that
        day)."""
        frame = self._load()
        rows = frame[(frame["underlying"] == symbol) & (frame["quote_date"] == day)]
        return float(rows["underlying_price"].iloc[0]) if len(rows) else None

    def daily_bars(self, c: OptionContract) -> pd.DataFrame:
        """One daily bar per quote date of an option (labelled at midnight UTC, as the bar
        files): end-of-day quotes carry one price a day, so open = high = low = close = the
        mid (the last trade when the quote is not two-sided), with the day's volume."""
        frame = self._load()
        rows = frame[frame["symbol"] == c.local_symbol]
        bid, ask = rows["bid"].to_numpy(dtype=float), rows["ask"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            two_sided = (bid > 0) & (ask >= bid)
        price = np.where(two_sided, 0.5 * (bid + ask), rows["last"].to_numpy(dtype=float))
        return _bars(rows["quote_date"], price, rows["volume"].to_numpy(dtype=float))

    def underlying_bars(self, symbol: str) -> pd.DataFrame:
        """One daily bar per quote date of an underlying without bar files (SPX): its price
        in the chain (open = high = low = close), no volume."""
        frame = self._load()
        rows = frame[frame["underlying"] == symbol].drop_duplicates("quote_date")
        price = rows["underlying_price"].to_numpy(dtype=float)
        return _bars(rows["quote_date"], price, np.zeros(len(rows)))

    def mark(self, c: OptionContract, now: pd.Timestamp) -> float:
        """A price to value a position at: the mid, else the last trade, else the one side
        quoted, else 0 (a contract with no quote left, e.g. past its expiry)."""
        q = self.quote(c, now)
        if q is None:
            return 0.0
        for value in (q.mid, q.last, q.bid, q.ask):
            if math.isfinite(value) and value > 0:
                return value
        return 0.0

    # -- computations --------------------------------------------------------------------
    def pricing(
        self, c: OptionContract, day: pd.Timestamp, spot: float | None = None
    ) -> Pricing | None:
        """Spot, time and parity-implied rates of ``c``'s expiry on ``day`` (the rates fitted
        once per quote date and expiry against that date's underlying price; ``spot``
        overrides the underlying price, as calculateOptionPrice's underPrice does). None
        past the expiry or without an underlying price."""
        T = (c.expiry - day).days / DAYS_PER_YEAR
        if T <= 0.0:
            return None
        key = (c.trading_class, day, c.expiry)
        if key not in self._pricing:
            self._pricing[key] = self._fit(c, day, T)
        fit = self._pricing[key]
        if fit is None:
            return None if spot is None or not spot > 0.0 else Pricing(spot, T, 0.0, 0.0)
        if spot is None or not spot > 0.0:
            return fit
        return Pricing(spot, T, fit.r, fit.q)

    def _fit(self, c: OptionContract, day: pd.Timestamp, T: float) -> Pricing | None:
        # the toolkit's one carry rule (toolkit.options.implied.chain_carry), once per root and
        # quote date: parity for European chains; for American ones a rate from de-Americanised
        # parity on the long expiries and each expiry's forward near the money at that rate
        key = (c.trading_class, day)
        if key not in self._carry:
            frame = self._load()
            rows = frame[(frame["quote_date"] == day) & (frame["root"] == c.trading_class)]
            table = chain_carry(rows)
            self._carry[key] = {
                pd.Timestamp(e): (float(s), float(f), float(r), float(q))
                for e, s, f, r, q in zip(
                    table["expiry"],
                    table["spot"],
                    table["forward"],
                    table["rate"],
                    table["dividend_yield"],
                    strict=True,
                )
            }
        carry = self._carry[key].get(c.expiry)
        if carry is None:
            return None  # no quotes that day: the caller's spot, no carry
        spot, fwd, r, q = carry
        if not math.isfinite(fwd):
            return Pricing(spot, T, 0.0, 0.0)  # too few pairs: no carry (F = S, DF = 1)
        return Pricing(spot, T, r, q)

    def computation(
        self, c: OptionContract, price: float, p: Pricing, sigma: float | None = None
    ) -> Computation:
        """IB's option computation at ``price`` (its implied vol found), or at ``sigma``
        (the price computed): NaN fields when there is no valid vol. American contracts
        (style A: SPY, VXX) by the American pricer, European ones by Black-Scholes-Merton;
        an American one whose parity carry has two exercise boundaries (negative rates) falls
        back to the European model."""
        american = c.style == "A"
        if american and not _one_boundary(c.right == "C", p.r, p.q):
            american = False
        if sigma is None:
            if not (math.isfinite(price) and price > 0.0):
                return _nothing(p.S)
            if american:
                iv, why = american_implied_vol(price, c.right, p.S, c.strike, p.T, p.r, p.q)
            else:
                iv, why = implied_vol(price, c.right, p.forward, c.strike, p.T, p.df)
            sigma = float(iv)
            if int(why) != IVReason.OK or not math.isfinite(sigma):
                return _nothing(p.S, price)
        if not (math.isfinite(sigma) and sigma > 0.0):
            return _nothing(p.S)
        greeks = american_greeks if american else bsm_greeks
        g = greeks(c.right, p.S, c.strike, p.T, p.r, p.q, sigma)
        # IB's units (vega per vol point, theta per calendar day, pvDividend) from QuantLib's
        ib = to_ib(g, sigma, p.S, p.q, p.T)
        return Computation(
            iv=float(ib.implied_vol),
            delta=float(ib.delta),
            price=float(ib.opt_price),
            pv_dividend=float(ib.pv_dividend),
            gamma=float(ib.gamma),
            vega=float(ib.vega),
            theta=float(ib.theta),
            und_price=float(ib.und_price),
        )


def _one_boundary(is_call: bool, r: float, q: float) -> bool:
    """False where an American option has two exercise boundaries (a put with q < r < 0, a
    call with r < q < 0), which the American pricer does not handle."""
    pr, pq = (q, r) if is_call else (r, q)
    return not (pr < 0.0 and pq < pr)


def _bars(days: pd.Series, price: np.ndarray, volume: np.ndarray) -> pd.DataFrame:
    index = pd.DatetimeIndex(days).tz_localize("UTC")
    out = pd.DataFrame(
        {"open": price, "high": price, "low": price, "close": price, "volume": volume},
        index=index,
    ).sort_index()
    return out.iloc[np.flatnonzero(np.isfinite(out["close"].to_numpy()))]


def _nothing(spot: float, price: float = math.nan) -> Computation:
    nan = math.nan
    return Computation(nan, nan, price, nan, nan, nan, nan, spot)
