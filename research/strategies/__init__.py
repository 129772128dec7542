"""Example strategies of your own: each module defines its signal with ``@tk.strategy``.

Configs name them with ``[strategy] module = "research.strategies.<module>"`` and ``name``;
notebooks import them. ``leaky_example`` looks ahead on purpose (see ``tk.check_causal``).
"""
