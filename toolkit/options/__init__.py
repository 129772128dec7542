"""Options: pricing and Greeks, implied vol, chains and surfaces, spread templates, payoffs
and scenarios (issue 16). Each module's owner adds its exports here."""

from toolkit.options.black import (
    Greeks,
    black76_greeks,
    black76_price,
    bsm_greeks,
    bsm_price,
)
from toolkit.options.implied import IVReason, chain_implied_vols, implied_vol
from toolkit.options.parity import ParityFit, implied_forward
from toolkit.options.templates import Leg, Spread, SpreadError

__all__ = [
    "Greeks",
    "IVReason",
    "Leg",
    "ParityFit",
    "Spread",
    "SpreadError",
    "black76_greeks",
    "black76_price",
    "bsm_greeks",
    "bsm_price",
    "chain_implied_vols",
    "implied_forward",
    "implied_vol",
]
