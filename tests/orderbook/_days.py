"""LOBSTER days the order-book tests share, read once per process."""

from __future__ import annotations

from functools import cache

from toolkit.data.lobster import LobsterDay, read_lobster


@cache
def goog10() -> LobsterDay:
    """GOOG 2012-06-21, 10 levels (147,916 events): the shipped sample with real depth."""
    return read_lobster("LOBSTER_SampleFile_GOOG_2012-06-21_10.zip")
