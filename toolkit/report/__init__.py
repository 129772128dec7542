"""Reports, written from results they are given: quantstats tear sheets, backtest and
robustness report folders, reproducibility manifests, tax exports, and the notebook runner
(with its scheduler). The commands that produce the results live in :mod:`toolkit.app`."""

from typing import TYPE_CHECKING

from toolkit._lazy import lazy_exports

# lazy (toolkit/_lazy.py): ``python -m toolkit.report --help`` need not load pandas
_EXPORTS = {
    "write_backtest_report": "toolkit.report.backtest_report:write_backtest_report",
    "build_manifest": "toolkit.report.manifest:build_manifest",
    "git_state": "toolkit.report.manifest:git_state",
    "package_versions": "toolkit.report.manifest:package_versions",
    "write_tearsheet": "toolkit.report.tearsheet:write_tearsheet",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
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
