"""What expiry does to an option position: the one copy of the rule, numba.

ARCHITECTURE invariant 7: option expiry is a rule of the step, written once; the option driver
(toolkit.options.backtest) calls it, booking through the engine's average-cost booking
(:func:`toolkit.engine._step.book_units_nb`).

* **Cash-settled** (index options: SPX, SPXW, XSP): the position closes at its intrinsic
  value against the settlement price. SPXW are PM-settled: the settlement price is the index's
  close on expiry day, which is what an end-of-day file gives (AM-settled SPX monthlies settle
  at the special opening quotation, which such a file does not hold: the driver must be given it).
* **Early exercise** of American options (:func:`early_exercise_nb`): a call just before an
  ex-date whose dividend beats its time value, a put with no time value left; it is booked
  like a physical exercise at the close (:func:`settle_expiry_nb` with the close as ``S``).
* **Physically settled** (stock and ETF options, American): OCC's exercise by exception
  (OCC Rule 805: an expiring option in the money by USD 0.01 or more is exercised unless the
  holder instructs otherwise; IBKR follows it). A long holder's exercise at expiry is optimal
  exactly when the option is in the money, so the rule is the holder's optimal exercise; the
  short side is assigned on the same rule. Exercise delivers ``multiplier`` units of the
  underlying per contract at the strike: long call / short put receive, long put / short call
  deliver.

Booking: an exercised or assigned option closes at its intrinsic value ``|S - K|`` and the
underlying is booked at the settlement price ``S``: together the cash moves by exactly
``strike x units`` (the strike paid or received), while the option's P&L (premium against
intrinsic) and the stock's (from ``S``) stay apart. An option out of the money by less than
the threshold expires at 0. Exercise and assignment carry no IBKR commission for US stock
and index options (toolkit.engine.commissions); a stock position delivered is later traded
with the stock schedule.
"""

from __future__ import annotations

from numba import njit

from toolkit.engine._step import book_units_nb

# OCC exercise by exception: in the money by at least this much (USD per share) at expiry.
AUTO_EXERCISE_THRESHOLD = 0.01


@njit(cache=True, inline="always")
def intrinsic_nb(is_call: bool, strike: float, settle: float) -> float:
    """Intrinsic value per share: max(S - K, 0) for a call, max(K - S, 0) for a put."""
    return max(settle - strike, 0.0) if is_call else max(strike - settle, 0.0)


@njit(cache=True)
def early_exercise_nb(
    is_call: bool, strike: float, spot: float, value: float, dividend: float, threshold: float
) -> bool:
    """True when the holder of an American option should exercise it at this close rather
    than hold it (and a short one is then assigned on the same rule), given its value
    ``value`` per share (the mark) and the cash ``dividend`` going ex at the next open:

    * a call, just before an ex-date, when the dividend exceeds its time value (value -
      intrinsic): exercising collects the dividend, holding keeps the time value (Merton 1973:
      never otherwise early; Hull, *Options, Futures, and Other Derivatives*, ch. 15/21,
      "early exercise just before the ex-dividend date");
    * a put when it is worth no more than its intrinsic value (no time value left: deep in
      the money, the interest on the strike beats the optionality).

    Only in the money by ``threshold`` or more."""
    intrinsic = intrinsic_nb(is_call, strike, spot)
    if intrinsic < threshold:
        return False
    time_value = value - intrinsic
    if is_call:
        return dividend > 0.0 and dividend > time_value
    return time_value <= 0.0


@njit(cache=True)
def expiry_outcome_nb(
    pos: float, is_call: bool, strike: float, settle: float, physical: bool, threshold: float
) -> tuple[float, float]:
    """What expiry at settlement price ``settle`` does to ``pos`` contracts (signed): the
    price per share the option position closes at (its intrinsic value when it is exercised
    or assigned, else 0), and the signed underlying units delivered per contract held
    (physical settlement only; 0 for cash settlement or when it expires worthless)."""
    value = intrinsic_nb(is_call, strike, settle)
    if value < threshold:
        return 0.0, 0.0
    if not physical:
        return value, 0.0
    per_contract = 1.0 if is_call else -1.0  # a long call receives, a long put delivers
    return value, per_contract if pos > 0.0 else -per_contract


@njit(cache=True)
def settle_expiry_nb(
    pos: float,
    avg: float,
    cash: float,
    is_call: bool,
    strike: float,
    settle: float,
    multiplier: float,
    physical: bool,
    threshold: float,
    upos: float,
    uavg: float,
) -> tuple[float, float, float, float, float, float, float]:
    """Settle ``pos`` contracts (average price ``avg``) at expiry against ``settle``.

    The option closes at its expiry value (:func:`expiry_outcome_nb`); a physical exercise
    or assignment books ``pos x multiplier`` units of the underlying (position ``upos`` at
    average ``uavg``) at ``settle``. Returns (cash, the option's realised P&L, its closing
    price, underlying position, underlying average, the underlying's realised P&L, units
    delivered)."""
    px, per_contract = expiry_outcome_nb(pos, is_call, strike, settle, physical, threshold)
    _, _, cash, realized = book_units_nb(pos, avg, cash, -pos, px, multiplier, 0.0)
    units = abs(pos) * per_contract * multiplier
    u_realized = 0.0
    if units != 0.0:
        upos, uavg, cash, u_realized = book_units_nb(upos, uavg, cash, units, settle, 1.0, 0.0)
    return cash, realized, px, upos, uavg, u_realized, units
