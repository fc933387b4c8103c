"""A clean exit acknowledges what the consumer was given, with stages after the source too."""

from __future__ import annotations

from typing import Any

import pytest
from changes_support import confirmed_lsn, make_slot, sql

from sluiceway.db import Change, postgres_changes
from sluiceway.db._wal2json import parse_lsn


def ids(changes: list[Any]) -> list[object]:
    return [c.new and c.new["id"] for c in changes]


class TestLeavingWithStages:
    async def test_async_with_over_a_mapped_stream(self, dsn: str, slot: str, table: str) -> None:
        """`async with postgres_changes(...).map(f)`: leaving cleanly acknowledges the last one."""
        make_slot(dsn, slot)
        for i in range(1, 6):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        got: list[Change] = []
        async with postgres_changes(dsn, slot=slot, tables=[table]).map(lambda c: c) as stream:
            async for change in stream:
                got.append(change)
                if len(got) == 3:
                    break
        assert confirmed_lsn(dsn, slot) == parse_lsn(got[-1].commit_lsn)
        rest = await postgres_changes(dsn, slot=slot, tables=[table]).take(2).to_list()
        assert ids(got + rest) == [1, 2, 3, 4, 5]

    async def test_a_terminal_operation_after_a_filter(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """`.filter(...).take(n).to_list()` acknowledges through the nth change it returned."""
        make_slot(dsn, slot)
        for i in range(1, 7):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        stream = postgres_changes(dsn, slot=slot, tables=[table])
        odd = await stream.filter(lambda c: c.new["id"] % 2 == 1).take(2).to_list()
        assert ids(odd) == [1, 3]
        rest = await postgres_changes(dsn, slot=slot, tables=[table]).take(3).to_list()
        assert ids(rest) == [4, 5, 6]

    async def test_an_error_leaves_the_change_in_hand_unacknowledged(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """With stages after the source, a failing consumer still gets its change again."""
        make_slot(dsn, slot)
        for i in range(1, 4):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        with pytest.raises(LookupError):
            async with postgres_changes(dsn, slot=slot, tables=[table]).map(lambda c: c) as s:
                async for change in s:
                    if change.new["id"] == 2:
                        raise LookupError("handler failed")
        again = await postgres_changes(dsn, slot=slot, tables=[table]).take(2).to_list()
        assert ids(again) == [2, 3]
