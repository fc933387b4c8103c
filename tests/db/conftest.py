"""Fixtures for the database tests: SQLite files and the real PostgreSQL.

Each driver is asked the same things through a :class:`Db`: a query giving
the rows ``(1, 'r1') .. (n, 'rn')``, and what the server says about open
cursors and transactions, so one test runs against all three drivers.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import pytest
from db_support import SQLITE_BETWEEN, SQLITE_SERIES, Db, make_sqlite_file, sqlite_write_blocked

import services

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param(
            ("asyncio", {"use_uvloop": True}),
            id="uvloop",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
            ),
        ),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """asyncio and uvloop only: aiosqlite, asyncpg and psycopg's async connections run
    on asyncio alone, so these tests cannot run on trio (rows() and listen() there
    raise UnsupportedBackendError, tested on its own in test_rows.py and test_listen.py)."""
    return request.param


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return make_sqlite_file(tmp_path / "numbers.db")


async def _sqlite_db(path: Path) -> AsyncIterator[Db]:
    import aiosqlite

    async with aiosqlite.connect(path) as conn:

        async def open_cursors() -> list[str]:
            return ["read lock held"] if sqlite_write_blocked(path) else []

        async def in_transaction() -> bool:
            return conn.in_transaction

        async def ping() -> object:
            async with conn.execute("SELECT 42") as cursor:
                row = await cursor.fetchone()
            return None if row is None else row[0]

        yield Db(
            "aiosqlite", conn, SQLITE_SERIES, SQLITE_BETWEEN, open_cursors, in_transaction, ping
        )


# -- PostgreSQL ---------------------------------------------------------------------------

PG_CURSORS = "SELECT name FROM pg_cursors WHERE name <> '' ORDER BY name"


async def _asyncpg_db(dsn: str) -> AsyncIterator[Db]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:

        async def open_cursors() -> list[str]:
            return [r["name"] for r in await conn.fetch(PG_CURSORS)]

        async def in_transaction() -> bool:
            return bool(conn.is_in_transaction())

        async def ping() -> object:
            return await conn.fetchval("SELECT 42")

        yield Db(
            "asyncpg",
            conn,
            "SELECT g, 'r' || g FROM generate_series(1, $1::int) AS g",
            "SELECT g, 'r' || g FROM generate_series($1::int, $2::int) AS g",
            open_cursors,
            in_transaction,
            ping,
        )
    finally:
        await conn.close()


async def _psycopg_db(dsn: str) -> AsyncIterator[Db]:
    import psycopg

    conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:

        async def open_cursors() -> list[str]:
            cursor = await conn.execute(PG_CURSORS)
            return [row[0] for row in await cursor.fetchall()]

        async def in_transaction() -> bool:
            return conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

        async def ping() -> object:
            cursor = await conn.execute("SELECT 42")
            row = await cursor.fetchone()
            return None if row is None else row[0]

        yield Db(
            "psycopg",
            conn,
            "SELECT g, 'r' || g FROM generate_series(1, %s::int) AS g",
            "SELECT g, 'r' || g FROM generate_series(%s::int, %s::int) AS g",
            open_cursors,
            in_transaction,
            ping,
        )
    finally:
        await conn.close()


@pytest.fixture
def pg_dsn() -> str:
    """The test PostgreSQL (skipped with a reason on a laptop without one, failed in CI)."""
    return services.postgres_dsn()


@pytest.fixture(params=["aiosqlite", "asyncpg", "psycopg"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    """Each driver in turn, connected."""
    if request.param == "aiosqlite":
        gen = _sqlite_db(make_sqlite_file(tmp_path / "numbers.db"))
    else:
        dsn = services.postgres_dsn()
        gen = _asyncpg_db(dsn) if request.param == "asyncpg" else _psycopg_db(dsn)
    async for value in gen:
        yield value


@pytest.fixture
async def asyncpg_conn(pg_dsn: str) -> AsyncIterator[Any]:
    async for db in _asyncpg_db(pg_dsn):
        yield db.conn


@pytest.fixture
async def psycopg_conn(pg_dsn: str) -> AsyncIterator[Any]:
    async for db in _psycopg_db(pg_dsn):
        yield db.conn
