"""Execution ids never repeat across simulator instances, as IB's never do (issue 11, item 1):
a journal shared by several sessions keys fills on them."""

from __future__ import annotations

import re

import pandas as pd

from toolkit.gateway.orders import Book, SimOrder


def _order() -> SimOrder:
    return SimOrder(
        client_id=1, order_id=1, perm_id=1, symbol="SPY", con_id=1, action="BUY",
        quantity=10.0, order_type="MKT", lmt_price=None, aux_price=None, tif="DAY",
        order_ref="x", parent_id=0,
    )  # fmt: skip


def test_exec_ids_are_ib_shaped_and_unique_across_instances() -> None:
    when = pd.Timestamp("2024-03-14 14:30", tz="UTC")
    ids = []
    for _ in range(50):  # fifty gateway restarts, two executions each
        book = Book()
        for _ in range(2):
            ids.append(book.fill(_order(), 500.0, when, 5.0).exec_id)
    assert all(re.fullmatch(r"[0-9a-f]{8}\.[0-9a-f]{8}\.01\.01", i) for i in ids)
    assert len(set(ids)) == len(ids)
