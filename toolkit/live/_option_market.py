"""The broker adapter's option side: an underlying's option chain through ib_async -- the
listed expiries and strikes (``reqSecDefOptParams``), the contracts (``reqContractDetails``
for OPT) and one snapshot of their quotes with IB's option computation
(``Ticker.modelGreeks``: delta, gamma, vega per vol point, theta per day), as
:class:`~toolkit.live._option_plan.OptionQuote` values -- and the underlying and combo (BAG)
contracts. With :mod:`toolkit.live._broker` the only modules that touch ib_async's client."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ib_async import IB, ComboLeg, Contract, Index, Option, Stock

from toolkit.live._broker import Broker
from toolkit.live._option_plan import OptionQuote, Spread
from toolkit.live.options_config import OptionStrategy


@dataclass(frozen=True)
class Chain:
    """The listed expiries (YYYYMMDD) and strikes of one trading class."""

    trading_class: str
    exchange: str
    multiplier: float
    expirations: tuple[str, ...]
    strikes: tuple[float, ...]


def _num(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) and v != -1.0 else math.nan


Combo = Contract  # a combo (BAG) contract, as the session hands it back to the broker


def underlying_contract(s: OptionStrategy) -> Contract:
    """The strategy's underlying as IB looks it up (an index on its exchange, CBOE unless
    given, or a stock)."""
    if s.sec_type == "IND":
        return Index(s.underlying, s.exchange if s.exchange != "SMART" else "CBOE", s.currency)
    return Stock(s.underlying, s.exchange, s.currency)


def combo_contract(s: OptionStrategy, legs: list[tuple[int, int, str]]) -> Combo:
    """The BAG contract of one combo unit: (conId, ratio, BUY|SELL) per leg."""
    return Contract(
        secType="BAG",
        symbol=s.underlying,
        currency=s.currency,
        exchange="SMART",
        comboLegs=[ComboLeg(conId=k, ratio=r, action=a, exchange="SMART") for k, r, a in legs],
    )


class OptionMarket:
    """The option chain of one strategy's underlying, read through ``ib``."""

    def __init__(self, ib: IB, underlying: Contract, strategy: OptionStrategy) -> None:
        self.ib = ib
        self.underlying = underlying
        self.strategy = strategy
        self._contracts: dict[int, Option] = {}

    @classmethod
    def of(cls, broker: Broker, strategy: OptionStrategy) -> OptionMarket:
        """The chain of ``strategy``'s underlying, once the broker has qualified it."""
        return cls(broker.ib, broker.contract(strategy.underlying), strategy)

    async def chain(self) -> Chain | None:
        """The chain of the configured trading class (the underlying's symbol when unset)."""
        u = self.underlying
        got = await self.ib.reqSecDefOptParamsAsync(u.symbol, "", u.secType, u.conId)
        want = self.strategy.trading_class or u.symbol
        pick = [c for c in got if c.tradingClass == want] or list(got)
        if not pick:
            return None
        c = pick[0]
        return Chain(
            c.tradingClass,
            c.exchange,
            _num(c.multiplier) if c.multiplier else 100.0,
            tuple(sorted(c.expirations)),
            tuple(sorted(float(k) for k in c.strikes)),
        )

    async def spot(self) -> float:
        """The underlying's last price (its close when no trade), NaN when unknown."""
        [t] = await self.ib.reqTickersAsync(self.underlying)
        for v in (t.last, t.close, t.marketPrice()):
            x = _num(v)
            if not math.isnan(x) and x > 0:
                return x
        return math.nan

    async def quotes(
        self, chain: Chain, expiry: str, rights: tuple[str, ...], strikes: list[float]
    ) -> list[OptionQuote]:
        """One snapshot of the listed options of ``expiry`` x ``rights`` x ``strikes``."""
        wanted = [
            Option(
                self.underlying.symbol,
                expiry,
                k,
                r,
                "SMART",
                tradingClass=chain.trading_class,
                currency=self.strategy.currency,
            )
            for r in rights
            for k in strikes
        ]
        got = [c for c in await self.ib.qualifyContractsAsync(*wanted) if c is not None]
        found = [c for c in got if isinstance(c, Contract) and c.conId]
        for c in found:
            self._contracts[c.conId] = c  # type: ignore[assignment]
        return await self.snapshot(found)

    async def requote(self, con_ids: list[int]) -> list[OptionQuote]:
        """A fresh snapshot of options seen before (by conId)."""
        known = [self._contracts[k] for k in con_ids if k in self._contracts]
        missing = [k for k in con_ids if k not in self._contracts]
        if missing:
            got = await self.ib.qualifyContractsAsync(*[Contract(conId=k) for k in missing])
            known += [c for c in got if isinstance(c, Contract) and c.conId]  # type: ignore[misc]
            for c in known:
                self._contracts[c.conId] = c
        return await self.snapshot(list(known))

    async def snapshot(self, contracts: list[Contract]) -> list[OptionQuote]:
        if not contracts:
            return []
        out = []
        for t in await self.ib.reqTickersAsync(*contracts):
            c = t.contract
            if c is None:
                continue
            g = t.modelGreeks
            out.append(
                OptionQuote(
                    con_id=int(c.conId),
                    symbol=str(c.localSymbol or c.symbol),
                    underlying=self.underlying.symbol,
                    right=str(c.right)[:1],
                    strike=float(c.strike),
                    expiry=str(c.lastTradeDateOrContractMonth)[:8],
                    multiplier=_num(c.multiplier) if c.multiplier else 100.0,
                    bid=_num(t.bid),
                    ask=_num(t.ask),
                    delta=_num(g.delta) if g is not None else math.nan,
                    gamma=_num(g.gamma) if g is not None else math.nan,
                    vega=_num(g.vega) if g is not None else math.nan,
                    theta=_num(g.theta) if g is not None else math.nan,
                    iv=_num(g.impliedVol) if g is not None else math.nan,
                )
            )
        return out

    def combo(self, spread: Spread) -> Combo:
        """The BAG contract of ``spread`` (one combo unit: each leg's ratio and side)."""
        return combo_contract(
            self.strategy, [(x.quote.con_id, x.ratio, x.action) for x in spread.legs]
        )
