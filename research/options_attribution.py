"""How much of the SPXW backtests' daily P&L the Greeks explain, before and after the
second-order cross terms (vanna, volga) and the carry term.

    python -m research.options_attribution

For each SPXW config in research/configs/: the residual of the attribution with delta, gamma,
theta and vega only ("before": the residual plus the vanna, volga and carry columns -- the
first-order columns do not change) and with all of them ("after"), as the month's sum, the
sum of its daily absolute values and the two spike days (2018-02-05 and 2018-02-08); then
the residual split by full BSM revaluation (``higher_order``: the model's own repricing
minus the Greeks; ``unexplained``: the marks minus the model).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.app.options import load_option_config, run_option_config

CONFIGS = ("options_spxw_straddle", "options_spxw_condor", "options_spxw_put_credit")
SPIKE = ("2018-02-05", "2018-02-08")
ROOT = Path(__file__).resolve().parent / "configs"


def residual_table() -> pd.DataFrame:
    rows = []
    for name in CONFIGS:
        r = run_option_config(load_option_config(ROOT / f"{name}.toml"))
        a, rv = r.attribution, r.revaluation
        before = a["residual"] + a["vanna"] + a["volga"] + a["carry"]
        after = a["residual"]
        rows.append({
            "config": name, "total": a["total"].sum(),
            "vanna": a["vanna"].sum(), "volga": a["volga"].sum(), "carry": a["carry"].sum(),
            "residual before": before.sum(), "residual after": after.sum(),
            "sum |daily| before": before.abs().sum(), "sum |daily| after": after.abs().sum(),
            **{f"{d} before": before.get(pd.Timestamp(d), 0.0) for d in SPIKE},
            **{f"{d} after": after.get(pd.Timestamp(d), 0.0) for d in SPIKE},
            "higher order": rv["higher_order"].sum(), "unexplained": rv["unexplained"].sum(),
            "sum |daily| higher order": rv["higher_order"].abs().sum(),
            "sum |daily| unexplained": rv["unexplained"].abs().sum(),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("config").T


def main() -> None:
    fmt = "{:,.2f}".format
    with pd.option_context(
        "display.width", 200, "display.max_columns", 10, "display.float_format", fmt
    ):
        print("P&L attribution residual (USD), SPXW 2018-01-02..2018-02-28, real quotes")
        print(residual_table())


if __name__ == "__main__":
    main()
