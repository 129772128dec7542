"""``python -m toolkit``: the ``toolkit`` command (toolkit.app.cli)."""

from toolkit.app.cli import console

console()
