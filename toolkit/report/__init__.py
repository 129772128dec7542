"""Reports: quantstats tear sheets, backtest report folders and reproducibility manifests."""

from toolkit.report.backtest_report import write_backtest_report
from toolkit.report.manifest import build_manifest, git_state, package_versions
from toolkit.report.tearsheet import write_tearsheet

__all__ = [
    "build_manifest",
    "git_state",
    "package_versions",
    "write_backtest_report",
    "write_tearsheet",
]
