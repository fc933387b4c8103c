"""sluiceway.db's types. Type-checked by mypy --strict and pyright strict, never run."""

from __future__ import annotations

from typing import Any, assert_type

import aiosqlite
import psycopg
from psycopg.rows import DictRow

from sluiceway import Stream
from sluiceway.db import Notification, RowStream, listen, rows


async def psycopg_rows(dicts: psycopg.AsyncConnection[DictRow]) -> None:
    # The row type follows the connection's row factory.
    assert_type(rows(dicts, "SELECT 1 AS a"), RowStream[DictRow])
    assert_type(await rows(dicts, "SELECT %s", 1).map(lambda r: r["a"]).to_list(), list[Any])
    assert_type(rows(dicts, "SELECT 1").columns, tuple[str, ...] | None)


async def sqlite_rows(conn: aiosqlite.Connection) -> None:
    assert_type(rows(conn, "SELECT ?", 1, batch_size=10), RowStream[Any])
    assert_type(await rows(conn, "SELECT 1").count(), int)


async def notifications(conn: psycopg.AsyncConnection[Any]) -> None:
    stream = listen(conn, "channel", buffer=10)
    assert_type(stream, Stream[Notification])
    async for note in stream:
        assert_type(note.payload, str)
        assert_type(note.pid, int)
