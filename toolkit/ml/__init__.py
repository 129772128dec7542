"""Train -> backtest -> trade: causal features, labels, purged cross-validation and model
artefacts that research, the backtest and a live session share (issue 21).

* :mod:`toolkit.ml.features`: the one causal numba feature function and its code hash
* :mod:`toolkit.ml.labels`: triple-barrier labels with the bar each became known (AFML ch. 3)
* :mod:`toolkit.ml.cv`: purged, embargoed K-fold and combinatorial purged CV (AFML ch. 7, 12)
* :mod:`toolkit.ml.model`: deterministic scikit-learn fits, cached by their training inputs
* :mod:`toolkit.ml.walkforward`: scheduled retraining and per-bar predictions
* :mod:`toolkit.ml.strategy`: ``ml_classifier``, the registered strategy (configs, live)
* :mod:`toolkit.ml.artefact`: saved models + manifest, refused when the features changed
* :mod:`toolkit.ml.study`: every trial backtested with costs; deflated Sharpe and PBO

Submodules load on use (``from toolkit.ml import artefact``): importing the package costs
nothing, so ``toolkit --help`` and a live session without a model stay light.
"""
