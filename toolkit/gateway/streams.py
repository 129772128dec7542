"""Streams pushed as the simulated clock runs: keepUpToDate bars, quotes, depth and 5-second
real-time bars, each sent through its subscription's send callable; and lockstep, which
holds the clock at every new streamed bar so an in-process client acts on each one in time.
Nothing here knows about sockets or sessions: a stream is owned by an opaque key."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.gateway import messages as m
from toolkit.gateway.market import (
    HistoryError,
    Instrument,
    Market,
    SimClock,
    bar_fields,
    five_second_bars,
)
from toolkit.gateway.subscriptions import (
    BarSubscription,
    ChainQuoteSubscription,
    DepthSubscription,
    QuoteSubscription,
    RealtimeSubscription,
    depth_levels,
    quote,
)

if TYPE_CHECKING:
    from toolkit.gateway.depth_replay import DepthReplay

log = logging.getLogger("toolkit.gateway")
Key = tuple[int, int]  # (owner, request id)
OPTION_SIZE = 10.0  # contracts shown at the bid and ask: the EOD files carry no sizes


@dataclass
class Streams:
    """Every live subscription, by (owner, request id)."""

    market: Market
    clock: SimClock
    lockstep: bool = False  # pause the clock whenever a new streamed bar goes out
    released: bool = False  # lockstep: this tick sent a new bar (the clock stays held)
    held_bar: pd.Timestamp | None = None  # lockstep: the bar the clock is held for
    ceiling_at: pd.Timestamp | None = None  # lockstep: the next release the clock stops at
    bar_subs: dict[Key, BarSubscription] = field(default_factory=dict)
    quote_subs: dict[Key, QuoteSubscription] = field(default_factory=dict)
    depth_subs: dict[Key, DepthSubscription] = field(default_factory=dict)
    rt_subs: dict[Key, RealtimeSubscription] = field(default_factory=dict)
    chain_subs: dict[Key, ChainQuoteSubscription] = field(default_factory=dict)
    replay: DepthReplay | None = None  # one symbol's depth and ticks from a LOBSTER day

    def _current_bar(self, symbol: str) -> tuple[pd.Timestamp, pd.Series]:
        return self.market.current_bar(symbol, self.clock.now())

    # -- subscribing ---------------------------------------------------------------------
    def add_bars(self, key: Key, sub: BarSubscription) -> None:
        """keepUpToDate: later bars follow as historicalDataUpdate."""
        self.bar_subs[key] = sub
        if self.lockstep:
            self.hold_at_next_bar()  # the clock must not run past its next bar

    def add_quotes(self, key: Key, sub: QuoteSubscription, snapshot: bool) -> None:
        """The current quote at once; later ones as bars complete unless a snapshot."""
        self.send_quotes(sub)
        if not snapshot:
            self.quote_subs[key] = sub

    def add_chain_quotes(self, key: Key, sub: ChainQuoteSubscription, snapshot: bool) -> None:
        """The quote in force at once; each new quote date's later unless a snapshot."""
        self.send_chain_quotes(sub)
        if not snapshot:
            self.chain_subs[key] = sub

    def _quote_day(self, sub: ChainQuoteSubscription) -> pd.Timestamp | None:
        inst = sub.legs[0][0] if sub.legs else sub.instrument
        if inst is None:
            return None
        return self.market.options.quote_date(inst.wire_symbol, self.clock.now())

    def send_chain_quotes(self, sub: ChainQuoteSubscription) -> None:
        """An option's bid, ask, last, volume and quote time, then IB's option computations
        from our pricer: bid (10), ask (11), last (12) and model (13, at the mid) -- so a
        snapshot's Ticker has its Greeks. An underlying without bars gets its chain's price
        as last; a combo its net bid and ask from the legs' (bought legs at their bid/ask,
        sold legs at their ask/bid). No quote in force: IB's 354 once, naming the dates."""
        now = self.clock.now()
        chains = self.market.options
        sub.last_day = self._quote_day(sub)
        send, r = sub.send, sub.req_id
        if sub.legs:
            bid = ask = 0.0
            for inst, ratio, side in sub.legs:
                q = chains.quote(inst.option, now) if inst.option is not None else None
                if q is None or not q.two_sided:
                    self._no_quote(sub, inst)
                    return
                bid += ratio * (q.bid if side > 0 else -q.ask)
                ask += ratio * (q.ask if side > 0 else -q.bid)
            send(m.tick_price(r, m.BID, round(bid, 6), 1.0))
            send(m.tick_price(r, m.ASK, round(ask, 6), 1.0))
            return
        one = sub.instrument
        assert one is not None
        c = one.option
        inst = one
        if c is None:  # an underlying priced from its chain
            spot = chains.underlying_price(inst.symbol, now)
            if spot is None:
                self._no_quote(sub, inst)
                return
            send(m.tick_price(r, m.LAST, spot, 0.0))
            send(m.tick_price(r, m.CLOSE, spot, 0.0))
            return
        q = chains.quote(c, now)
        if q is None:
            self._no_quote(sub, inst)
            return
        for tick, price in ((m.BID, q.bid), (m.ASK, q.ask)):
            quoted = price == price and price > 0
            send(m.tick_price(r, tick, price if quoted else -1.0, OPTION_SIZE if quoted else 0.0))
        if q.last == q.last and q.last > 0:
            send(m.tick_price(r, m.LAST, q.last, 1.0))
        send(m.tick_size(r, m.VOLUME, q.volume if q.volume == q.volume else 0.0))
        send(m.tick_string(r, m.LAST_TIMESTAMP, str(int(q.as_of.timestamp()))))
        pricing = chains.pricing(c, q.quote_date, q.underlying_price)
        if pricing is None:
            return
        model = q.mid if q.two_sided else q.last
        ticks = (
            (m.BID_OPTION, q.bid),
            (m.ASK_OPTION, q.ask),
            (m.LAST_OPTION, q.last),
            (m.MODEL_OPTION, model),
        )
        for tick, price in ticks:
            if price == price and price > 0:
                comp = chains.computation(c, price, pricing)
                send(
                    m.tick_option_computation(
                        r, tick, comp.iv, comp.delta, comp.price, comp.pv_dividend,
                        comp.gamma, comp.vega, comp.theta, comp.und_price,
                    )
                )  # fmt: skip

    def _no_quote(self, sub: ChainQuoteSubscription, inst: Instrument) -> None:
        if sub.warned:
            return
        sub.warned = True
        under = inst.wire_symbol
        span = self.market.options.quote_range(under)
        where = (
            f"the shipped {under} quotes are end of day from {span[0]:%Y-%m-%d} to "
            f"{span[1]:%Y-%m-%d}, each in force from its close for at most 5 days"
            if span is not None
            else f"no shipped option chain for {under}"
        )
        sub.send(
            m.error(
                sub.req_id,
                m.NO_MARKET_DATA,
                f"No quote for {inst.symbol} at {self.clock.now():%Y-%m-%d %H:%M} UTC: {where} "
                "(start the gateway inside them; expired contracts have none)",
            )
        )

    def add_depth(self, key: Key, sub: DepthSubscription) -> None:
        self.send_depth(sub, insert=True)
        self.depth_subs[key] = sub

    def add_realtime(self, key: Key, sub: RealtimeSubscription) -> None:
        self.rt_subs[key] = sub

    def cancel(self, table: dict[Key, Any], key: Key) -> None:
        table.pop(key, None)

    def drop_owner(self, owner: int) -> None:
        """A closed connection's streams end (clients do not cancel on disconnect)."""
        tables: tuple[dict[Key, Any], ...] = (
            self.bar_subs,
            self.quote_subs,
            self.depth_subs,
            self.rt_subs,
            self.chain_subs,
        )
        for table in tables:
            for key in [k for k in table if k[0] == owner]:
                del table[key]
        if self.replay is not None:
            self.replay.drop_owner(owner)

    # -- pushing -------------------------------------------------------------------------
    def send_quotes(self, sub: QuoteSubscription) -> None:
        """Bid, ask, last, volume, close and last time from the current bar (IB's order)."""
        when, bar = self._current_bar(sub.symbol)
        sub.last_bar = when
        close, volume = float(bar["close"]), float(bar["volume"])
        bid, ask, bid_size, ask_size = quote(close, volume, sub.min_tick)
        daily = self.market.daily(sub.symbol)
        prior = daily[daily.index < when.normalize()]
        send, r = sub.send, sub.req_id
        send(m.tick_price(r, m.BID, bid, bid_size))
        send(m.tick_price(r, m.ASK, ask, ask_size))
        send(m.tick_price(r, m.LAST, close, 100.0))
        send(m.tick_size(r, m.VOLUME, volume))
        if not prior.empty:
            send(m.tick_price(r, m.CLOSE, float(prior["close"].iloc[-1]), 0.0))
        send(m.tick_string(r, m.LAST_TIMESTAMP, str(int(when.timestamp()))))

    def send_depth(self, sub: DepthSubscription, insert: bool = False) -> None:
        """The book from the depth model: rows inserted in ascending order once, then updated
        in place (the discipline that keeps ib_async's and ib_insync's books the same)."""
        when, bar = self._current_bar(sub.symbol)
        sub.last_bar = when
        close, volume = float(bar["close"]), float(bar["volume"])
        bid, ask, _, _ = quote(close, volume, sub.min_tick)
        op = m.DEPTH_INSERT if insert else m.DEPTH_UPDATE
        levels = depth_levels(bid, ask, volume, sub.rows, sub.min_tick)
        for k, (bp, bs, ap, asz) in enumerate(levels):
            sub.send(m.depth_update(sub.req_id, k, op, m.DEPTH_BID, bp, bs))
            sub.send(m.depth_update(sub.req_id, k, op, m.DEPTH_ASK, ap, asz))

    def send_realtime(self, sub: RealtimeSubscription) -> None:
        """Every 5-second bar completed since the last push (derived from the minutes)."""
        now = self.clock.now()
        minute = self.market.intraday(sub.symbol)
        if minute is None:
            return
        start = sub.last_time.floor("1min")
        window = minute[(minute.index >= start) & (minute.index <= now)]
        if window.empty:
            return
        bars = five_second_bars(window)
        idx = pd.DatetimeIndex(bars.index)
        done = bars[(idx >= sub.last_time) & (idx <= now - pd.Timedelta(seconds=5))]
        o, h, lo, c, v = (
            done[col].to_numpy(dtype=float) for col in ("open", "high", "low", "close", "volume")
        )
        for k in range(len(done)):
            ts = pd.Timestamp(done.index[k])
            wap = round((h[k] + lo[k] + c[k]) / 3.0, 6)
            sub.send(
                m.realtime_bar(
                    sub.req_id, int(ts.timestamp()), o[k], h[k], lo[k], c[k], v[k], wap, 0
                )
            )
            sub.last_time = ts + pd.Timedelta(seconds=5)

    def push(self) -> None:
        """New quotes for streaming reqMktData; new or changed bars for keepUpToDate."""
        for sub in list(self.quote_subs.values()):
            if self._current_bar(sub.symbol)[0] != sub.last_bar:
                self.send_quotes(sub)
        for chain in list(self.chain_subs.values()):
            if self._quote_day(chain) != chain.last_day:
                self.send_chain_quotes(chain)
        for rt in list(self.rt_subs.values()):
            self.send_realtime(rt)
        for depth in list(self.depth_subs.values()):
            if self._current_bar(depth.symbol)[0] != depth.last_bar:
                self.send_depth(depth)
        if self.replay is not None:  # a fast replay runs on while a lockstep clock is held
            paused = self.clock.paused_at is not None and not self.lockstep
            self.replay.push(self.clock.now(), paused)
        now = self.clock.now()
        for b in list(self.bar_subs.values()):
            try:
                bars = self.market.bars_between(
                    b.symbol,
                    b.last_label - pd.Timedelta(seconds=1),
                    now,
                    b.bar_size,
                    b.what,
                    b.use_rth,
                )
            except HistoryError as exc:  # no bars yet (e.g. outside the data): nothing to push
                log.debug(
                    "keepUpToDate %s %s (request %d): nothing to push: %s",
                    b.symbol,
                    b.bar_size,
                    b.req_id,
                    exc,
                )
                continue
            except Exception:  # one broken stream never stops the others
                log.exception(
                    "keepUpToDate %s %s (request %d) failed", b.symbol, b.bar_size, b.req_id
                )
                continue
            for i in range(len(bars)):
                label = pd.Timestamp(bars.index[i])
                values = tuple(float(x) for x in bars.iloc[i])
                if label < b.last_label or (label == b.last_label and values == b.last_values):
                    continue
                if self.lockstep and label > b.last_label:
                    # an in-process client (the live bridge's rehearsal) decides on this bar
                    # with the clock held, and resumes it when its orders are in
                    self.clock.pause()
                    self.released = True
                    self.held_bar = label
                fields = bar_fields(bars.iloc[i : i + 1], b.daily, b.format_date)
                date, o, h, lo, c, v, wap = fields[:7]
                b.send(
                    m.historical_update(
                        b.req_id,
                        str(date),
                        float(o),
                        float(h),
                        float(lo),
                        float(c),
                        float(wap),
                        float(v),
                    )
                )
                b.last_label, b.last_values = label, values

    def begin_tick(self) -> bool:
        """Lockstep, before orders are matched: hold the clock at this instant so orders
        are matched and bars released at the same simulated time (a fill always goes out
        before the bar that follows it). True when time may run on after the tick: it was
        running, or it stopped at its ceiling without a bar being held."""
        if not self.lockstep:
            return False
        clock = self.clock
        self.hold_at_next_bar()
        at_ceiling = (
            clock.paused_at is not None
            and clock.paused_at == self.ceiling_at
            and self.held_bar is None
        )
        run_on = clock.paused_at is None or at_ceiling
        clock.pause()
        self.released = False
        return run_on

    def end_tick(self, run_on: bool) -> None:
        """Lockstep, after the push: the next release is the new ceiling, and time runs on
        if no new bar went out at this instant."""
        if self.lockstep:
            self.hold_at_next_bar()
        if run_on and not self.released:
            self.clock.resume()

    def hold_at_next_bar(self) -> None:
        """Lockstep: the clock stops at the release of the next subscribed bar, so each one
        goes out (and is acted on) alone and time never runs ahead, at any speed."""
        release = None
        now = self.clock.now()
        for b in self.bar_subs.values():
            when = self.market.next_release(b.symbol, b.last_label, b.bar_size, b.use_rth, now)
            if when is not None:
                release = when if release is None else min(release, when)
        self.ceiling_at = release
        self.clock.hold_at(release)
