"""European Greeks and implied-vol throughput: ours (numba) vs QuantLib and vollib, same process.

Contracts: F = S = 100, K = 100 e^U(-0.5, 0.5), T ~ U(1 day, 2 years), sigma ~ U(0.05, 1.0),
r = 3 %, q = 1 %, random rights. Each case runs ``REPEAT`` times; the table gives the min and
median wall time, the median CPU time (process time: on 2 busy cores the two differ), the
rate per second at the min and the accuracy against the true sigma (implied vols) or the
largest difference from our numbers (Greeks). QuantLib and vollib are timed on a subset (they
are per-option Python calls) and their rates scaled per option.

Run: ``python -m research.benchmarks.options_greeks``.
"""

from __future__ import annotations

import importlib
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from toolkit.options import _implied
from toolkit.options.black import black76_price, bsm_greeks
from toolkit.options.implied import implied_vol

REPEAT = 5
N_OURS = 1_000_000
N_QL = 20_000
N_VOLLIB = 20_000
R, Q = 0.03, 0.01
ql = importlib.import_module("QuantLib")  # dev extra: an oracle, never a runtime dependency


def _time(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[float, float, float, Any]:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), statistics.median(walls), statistics.median(cpus), out


def _row(name: str, n: int, timing: tuple[float, float, float, Any], accuracy: str) -> None:
    lo, med, cpu, _ = timing
    print(f"{name:<44} {n:>9,} {lo * 1e3:9.1f} {med * 1e3:9.1f} {cpu * 1e3:9.1f} "
          f"{n / lo / 1e6:9.3f} {n / cpu / 1e6:9.3f}  {accuracy}")


def _contracts(n: int, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "K": 100.0 * np.exp(rng.uniform(-0.5, 0.5, n)),
        "T": rng.uniform(1 / 365, 2.0, n),
        "sigma": rng.uniform(0.05, 1.0, n),
        "right": np.where(rng.uniform(size=n) < 0.5, "C", "P"),
    }


def _ql_greeks(c: dict[str, np.ndarray], n: int) -> np.ndarray:
    today = ql.Date(2, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    spot, vol = ql.SimpleQuote(100.0), ql.SimpleQuote(0.2)
    proc = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot), ql.YieldTermStructureHandle(ql.FlatForward(today, Q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol), dc)))
    engine = ql.AnalyticEuropeanEngine(proc)
    out = np.empty((7, n))
    days = np.maximum(np.round(c["T"][:n] * 365), 1).astype(int)
    for i in range(n):
        vol.setValue(float(c["sigma"][i]))
        opt = ql.EuropeanOption(
            ql.PlainVanillaPayoff(ql.Option.Call if c["right"][i] == "C" else ql.Option.Put,
                                  float(c["K"][i])),
            ql.EuropeanExercise(today + int(days[i])))
        opt.setPricingEngine(engine)
        out[:, i] = (opt.NPV(), opt.delta(), opt.gamma(), opt.vega(), opt.theta(), opt.rho(),
                     opt.dividendRho())
        del opt
    return out


def main() -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"numba threads {os.environ.get('NUMBA_NUM_THREADS', 'default')}")
    c = _contracts(N_OURS)
    days = np.maximum(np.round(c["T"] * 365), 1)
    T = days / 365.0  # whole days so QuantLib (Actual365Fixed) sees the same T
    bsm_greeks(c["right"][:10], 100.0, c["K"][:10], T[:10], R, Q, c["sigma"][:10])  # compile
    print(f"{'case':<44} {'options':>9} {'min ms':>9} {'med ms':>9} {'cpu ms':>9} "
          f"{'M opt/s':>9} {'M/cpu-s':>9}  accuracy")

    print("-- Greeks: price, delta, gamma, vega, theta, rho, dividend rho (BSM) --")
    ours = _time(lambda: bsm_greeks(c["right"], 100.0, c["K"], T, R, Q, c["sigma"]))
    _row("ours bsm_greeks (numba, all 7)", N_OURS, ours, "")
    cq = {k: v[:N_QL] for k, v in c.items()} | {"T": T[:N_QL]}
    ql_t = _time(lambda: _ql_greeks(cq, N_QL), 3)
    g = ours[3]
    mine = np.vstack([g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, g.dividend_rho])
    _row("QuantLib AnalyticEuropeanEngine (all 7)", N_QL, ql_t,
         f"max |ours - QL| {np.max(np.abs(mine[:, :N_QL] - ql_t[3])):.1e}")
    try:
        from vollib.black_scholes_merton import black_scholes_merton as vl_price
        from vollib.black_scholes_merton.greeks import analytical as vl

        flags = [r.lower() for r in c["right"][:N_VOLLIB]]
        args = list(zip(flags, c["K"][:N_VOLLIB], T[:N_VOLLIB], c["sigma"][:N_VOLLIB],
                        strict=True))

        def vollib_greeks() -> list[tuple[float, ...]]:
            return [(vl_price(f, 100.0, k, t, R, s, Q), vl.delta(f, 100.0, k, t, R, s, Q),
                     vl.gamma(f, 100.0, k, t, R, s, Q), vl.vega(f, 100.0, k, t, R, s, Q),
                     vl.theta(f, 100.0, k, t, R, s, Q), vl.rho(f, 100.0, k, t, R, s, Q))
                    for f, k, t, s in args]

        _row("vollib analytical (price + 5 Greeks)", N_VOLLIB, _time(vollib_greeks, 3),
             "vega/100, theta/365, rho/100 units")
    except ImportError:
        print("vollib not installed: skipped")

    print("-- implied vol: Black-76 prices, random rights (half in the money) --")
    F = 100.0 * np.exp((R - Q) * T)
    df = np.exp(-R * T)
    price = black76_price(c["right"], F, c["K"], T, df, c["sigma"])
    call = c["right"] == "C"
    iv = np.empty(N_OURS)
    why = np.empty(N_OURS, dtype=np.int8)

    def kernel() -> None:
        _implied.implied_vol_arr_nb(price, call, F, c["K"], T, df, iv, why)

    kernel()
    k_t = _time(kernel)
    ok = why == 0
    _row("ours implied_vol kernel (numba, parallel)", N_OURS, k_t,
         f"NaN+reason {int((~ok).sum())}, silent 0.0 {int((iv == 0.0).sum())}; "
         f"max |err| OTM {np.max(np.abs(iv - c['sigma'])[ok & _otm(c)]):.1e}")
    pub = _time(lambda: implied_vol(price, c["right"], F, c["K"], T, df))
    _row("ours implied_vol (public, 'C'/'P' strings)", N_OURS, pub, "")

    n = N_QL

    def ql_iv() -> np.ndarray:
        out = np.empty(n)
        for i in range(n):
            typ = ql.Option.Call if call[i] else ql.Option.Put
            try:
                sd = ql.blackFormulaImpliedStdDev(typ, float(c["K"][i]), float(F[i]),
                                                  float(price[i]), float(df[i]), 0.0,
                                                  ql.nullDouble(), 1e-12, 100)
                out[i] = sd / math.sqrt(T[i])
            except RuntimeError:
                out[i] = np.nan
        return out

    q_t = _time(ql_iv, 3)
    _row("QuantLib blackFormulaImpliedStdDev", n, q_t, _accuracy(q_t[3], c, n))
    try:
        from vollib.black.implied_volatility import implied_volatility as vl_iv

        flags = ["c" if x else "p" for x in call[:N_VOLLIB]]

        def vollib_iv() -> np.ndarray:
            out = np.empty(N_VOLLIB)
            for i in range(N_VOLLIB):
                try:
                    out[i] = vl_iv(price[i], F[i], c["K"][i], R, T[i], flags[i])
                except Exception:  # vollib raises its own exceptions below intrinsic
                    out[i] = np.nan
            return out

        v_t = _time(vollib_iv, 3)
        _row("vollib black implied_volatility (LBR)", N_VOLLIB, v_t,
             _accuracy(v_t[3], c, N_VOLLIB))
    except ImportError:
        print("vollib not installed: skipped")

    print("-- whole chains: carry per expiry + IV of every quote's mid (VXX: American model, "
          "de-Americanised parity rate; SPXW: Black-76 on the parity forward) --")
    from toolkit.data.options import load_option_quotes
    from toolkit.options.implied import chain_implied_vols

    for name in ("VXX_eod_2016-12.csv", "SPXW_eod_2018-01-02_2018-02-28_2expiries.csv"):
        chain = load_option_quotes(name)
        t = _time(lambda c=chain: chain_implied_vols(c), 3)
        groups = t[3].groupby(["quote_date", "expiry"]).ngroups
        model = "American" if (chain["style"] == "A").all() else "Black-76"
        _row(f"chain_implied_vols {name.split('_')[0]} {model} ({groups} expiry-days)",
             len(chain), t,
             f"OK {float((t[3]['iv_reason'] == 0).mean()):.3f} of quotes")


def _accuracy(iv: np.ndarray, c: dict[str, np.ndarray], n: int) -> str:
    """Raised/NaN count, silent zeros, and the worst error where a number came back (OTM)."""
    err = np.abs(iv - c["sigma"][:n])
    number = np.isfinite(iv) & (iv != 0.0)
    worst = np.max(err[number & _otm(c)[:n]], initial=0.0)
    return (f"NaN/raised {int((~np.isfinite(iv)).sum())}, silent 0.0 {int((iv == 0.0).sum())}; "
            f"max |err| OTM {worst:.1e}")


def _otm(c: dict[str, np.ndarray]) -> np.ndarray:
    return np.where(c["right"] == "C", c["K"] >= 100.0, c["K"] <= 100.0)


if __name__ == "__main__":
    main()
