"""The application layer: every command a user runs, above the libraries.

One module per command group, each holding its argument parser, the orchestration (load,
run the libraries, hand the results to :mod:`toolkit.report` to write) and what it prints:

* :mod:`toolkit.app.cli` -- ``toolkit`` (the console script; ``python -m toolkit``): one
  parser for every command below, the groups with parsers of their own delegated to them;
  :mod:`toolkit.app.tables` renders what a command prints as a table or as JSON (``--json``)
* :mod:`toolkit.app.research` -- backtest, sweep (:mod:`toolkit.app.sweep`), walkforward,
  montecarlo, sensitivity, check (check-causal), options-backtest, strategies, data;
  :mod:`toolkit.app.backtest` and :mod:`toolkit.app.robustness` run them,
  :mod:`toolkit.app.summaries` says what they print
* :mod:`toolkit.app.reports` -- ``python -m toolkit.report`` (run, schedule, export,
  alert-test); :mod:`toolkit.app.tax_inputs` gathers an export's fills
* :mod:`toolkit.app.live` -- ``python -m toolkit.live`` (run, status, cancel-all)
* :mod:`toolkit.app.gateway` -- ``python -m toolkit.gateway`` (serve the simulator)

The packages' ``__main__`` modules only call these. Nothing below imports this package
(the import contracts in pyproject.toml say so and tests/test_architecture.py checks them).
Every command ends through :func:`toolkit._entry.run_command`; heavy libraries are imported
inside the commands, so ``--help`` answers at once.
"""
