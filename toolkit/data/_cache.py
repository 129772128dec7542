"""Parsed-bar cache: validated frames stored as Parquet, keyed by the source file's content.

Each entry also stores what validation did to the file (the repair counts), so a load from
the cache reports the same repairs as the load that parsed the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# Bump when parsing or validation changes so stale cache entries are ignored.
CACHE_VERSION = "3"
_META_KEY = b"toolkit.validation"


def content_key(file_sha256: str, *parts: str) -> str:
    """Digest of the file's hash plus the options that shaped the parsed frame."""
    h = hashlib.sha256(file_sha256.encode())
    for part in (CACHE_VERSION, *parts):
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:24]


def cache_path(cache_dir: Path, source: Path, key: str) -> Path:
    return cache_dir / f"{source.stem}-{key}.parquet"


def read(path: Path) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The cached frame and its validation record, or None when absent, unreadable or
    written without a record (the caller re-parses)."""
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
        meta = (table.schema.metadata or {}).get(_META_KEY)
        if meta is None:
            return None
        record = json.loads(meta)
        return table.to_pandas(), record
    except (OSError, ValueError, pa.ArrowException):
        return None


def write(path: Path, frame: pd.DataFrame, record: dict[str, Any]) -> None:
    """Write atomically; a read-only or full disk only costs the cache, never the load."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(frame)
        meta = {**(table.schema.metadata or {}), _META_KEY: json.dumps(record).encode()}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        pq.write_table(table.replace_schema_metadata(meta), tmp)
        os.replace(tmp, path)
    except OSError:
        return
