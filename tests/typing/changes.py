"""Change-stream types. Type-checked by mypy --strict and pyright strict, never run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, assert_type

from sluiceway.db import Change, ChangeStream, MongoChangeStream, mongo_changes, postgres_changes


async def postgres() -> None:
    changes = postgres_changes("postgresql://127.0.0.1/test", slot="orders", tables=["orders"])
    assert_type(changes, ChangeStream)
    assert_type(changes.checkpoint, str | None)
    assert_type(changes.confirmed_lsn, str | None)
    async with changes:
        async for change in changes:
            assert_type(change, Change)
            assert_type(change.new, dict[str, Any] | None)
            assert_type(change.commit_time, datetime | None)
            changes.ack(change)
    tables = postgres_changes("postgresql://127.0.0.1/test", slot="s").map(lambda c: c.table)
    assert_type(await tables.to_list(), list[str])


async def mongo(collection: Any) -> None:
    changes = mongo_changes(collection, resume_after={"_data": "00"})
    assert_type(changes, MongoChangeStream)
    assert_type(changes.resume_token, Mapping[str, Any] | None)
    assert_type(await changes.first(), Mapping[str, Any])
