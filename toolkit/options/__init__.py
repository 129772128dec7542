"""Options: pricing and Greeks, implied vol, chains and surfaces, spread templates, payoffs
and scenarios (issue 16). Each module's owner adds its exports here."""

from toolkit.options.templates import Leg, Spread, SpreadError

__all__ = ["Leg", "Spread", "SpreadError"]
