"""Which underlyings the shipped option chains have, without loading the chains.

Looking up a symbol or conId the market does not know asks whether it is a chain's underlying;
answering that from the full load (every quote file parsed and validated, ~5 s) made the first
unknown lookup of a session slow. Here each file's header tells its vendor format and only the
column that names the underlying (or, where a format has none, the OCC contract symbols whose
root is it) is read -- the same rule as :func:`toolkit.data.options.load_option_quotes`
(roots such as SPXW map to their index by ``INDEX_ROOTS``). Cached per file (path, size,
modification time). A file this cannot read returns None: the full load then reports it with
the loader's one-line error.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from toolkit.data.options import _OCC, INDEX_ROOTS, _detect
from toolkit.errors import ToolkitError

_CACHE: dict[tuple[str, int, int], frozenset[str]] = {}


def _of_file(path: Path) -> frozenset[str] | None:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    try:
        columns = list(pd.read_csv(path, nrows=0).columns)
        fields = _detect(path, columns).fields
        name = fields.get("underlying") or fields.get("symbol")
        if name is None:
            return None
        text = pd.read_csv(path, usecols=[name], dtype=str, keep_default_na=False)[name]
    except (ToolkitError, ValueError, OSError):
        return None
    values = pd.Series(text.str.strip().str.upper().unique())
    if fields.get("underlying") is None:  # the OCC roots name the underlying
        values = values.str.extract(_OCC)["root"].dropna()
    out = frozenset(INDEX_ROOTS.get(str(v), str(v)) for v in values.tolist() if v)
    _CACHE[key] = out
    return out


def chain_underlyings(data_dir: Path) -> frozenset[str] | None:
    """The underlyings of every option file in ``data_dir/options`` (None: a file could not be
    read this way -- load the chains to find out)."""
    out: set[str] = set()
    for path in sorted((data_dir / "options").glob("*.csv")):
        found = _of_file(path)
        if found is None:
            return None
        out |= found
    return frozenset(out)


__all__ = ["chain_underlyings"]
