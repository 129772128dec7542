"""Statistics for pairs and stat-arb, checked against statsmodels and pykalman (test oracles,
never imported here): Engle-Granger cointegration with MacKinnon p-values, a whole-panel pair
screen with Benjamini-Hochberg false-discovery control, Johansen's rank test, and hedge
ratios from a Kalman filter or a rolling OLS.

* :func:`engle_granger` (one pair, :class:`EngleGranger`), :func:`coint_screen` (all pairs of
  a price panel, one row per pair with q-values), :func:`mackinnon_p`, :func:`mackinnon_crit`
* :func:`bh_qvalues`, :func:`bh_reject` (Benjamini & Hochberg 1995)
* :func:`johansen` (:class:`Johansen`: trace / max-eigen statistics, critical values, rank)
* :func:`kalman_hedge` (:class:`KalmanHedge`), :func:`rolling_beta` (:class:`RollingBeta`)
"""

from toolkit.stats.engle_granger import EngleGranger, engle_granger
from toolkit.stats.fdr import bh_qvalues, bh_reject
from toolkit.stats.johansen import Johansen, johansen
from toolkit.stats.kalman import KalmanHedge, kalman_hedge
from toolkit.stats.mackinnon import mackinnon_crit, mackinnon_p
from toolkit.stats.rolling import RollingBeta, rolling_beta
from toolkit.stats.screen import coint_screen

__all__ = [
    "EngleGranger",
    "Johansen",
    "KalmanHedge",
    "RollingBeta",
    "bh_qvalues",
    "bh_reject",
    "coint_screen",
    "engle_granger",
    "johansen",
    "kalman_hedge",
    "mackinnon_crit",
    "mackinnon_p",
    "rolling_beta",
]
