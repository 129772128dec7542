"""Parsed-bar cache: validated frames stored as Parquet, keyed by the source file's content."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pandas as pd

# Bump when parsing or validation changes so stale cache entries are ignored.
CACHE_VERSION = "1"


def content_key(file_sha256: str, *parts: str) -> str:
    """Digest of the file's hash plus the options that shaped the parsed frame."""
    h = hashlib.sha256(file_sha256.encode())
    for part in (CACHE_VERSION, *parts):
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:24]


def cache_path(cache_dir: Path, source: Path, key: str) -> Path:
    return cache_dir / f"{source.stem}-{key}.parquet"


def read(path: Path) -> pd.DataFrame | None:
    """The cached frame, or None when absent or unreadable (the caller re-parses)."""
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError):
        return None


def write(path: Path, frame: pd.DataFrame) -> None:
    """Write atomically; a read-only or full disk only costs the cache, never the load."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        frame.to_parquet(tmp)
        os.replace(tmp, path)
    except OSError:
        return
