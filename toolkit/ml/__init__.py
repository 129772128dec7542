"""Train -> backtest -> trade: causal features, labels, purged cross-validation and model
artefacts that research, the backtest and a live session share (issue 21)."""
