"""The real PostgreSQL, with logical decoding through wal2json, for the change-stream tests.

asyncpg, like the other DB drivers, runs on asyncio only (it is built on
asyncio's protocols and transports), so these tests run on asyncio and on
asyncio with uvloop, not on trio.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from changes_support import sql

import services

BACKENDS: list[Any] = [pytest.param("asyncio", id="asyncio")]
if importlib.util.find_spec("uvloop") is not None:
    BACKENDS.append(pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"))


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


#: The database of these tests alone: a logical slot decodes only its own database, so
#: the other tests' writes (tests/db, on another worker) never pass through these slots.
DATABASE = "sluiceway_changes"
#: Held by the running change-stream test, whichever xdist worker runs it.
LOCK = Path(tempfile.gettempdir()) / "sluiceway-db-changes-tests.lock"


@pytest.fixture(autouse=True)
def one_at_a_time() -> Iterator[None]:
    """The change-stream tests run one at a time, across the workers of `make test`.

    A slot sees every transaction of its database, and a stream acknowledges
    past the ones its table filter skips: another change-stream test committing
    meanwhile would move the acknowledged position these tests check exactly.
    """
    with LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_checked: list[str] = []


@pytest.fixture
def dsn() -> str:
    """The change-stream tests' DSN, once logical decoding through wal2json is known to work."""
    base = services.postgres_dsn()
    dsn = base.rpartition("/")[0] + "/" + DATABASE
    if _checked:
        return dsn
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if found.fetchone() is None:
            taken = (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation)
            try:
                with contextlib.suppress(*taken):  # made by another worker meanwhile
                    conn.execute(f"CREATE DATABASE {DATABASE}")
            except psycopg.Error as exc:
                services.unavailable(f"cannot create database {DATABASE}: {exc}".splitlines()[0])
    with psycopg.connect(dsn, autocommit=True) as conn:
        level = conn.execute("SHOW wal_level").fetchone()
        if level is None or level[0] != "logical":
            found = level[0] if level else None
            services.unavailable(
                f"PostgreSQL has wal_level = {found}, not logical (run `make services`)"
            )
        try:
            # A temporary slot goes away with this session: nothing retains WAL.
            conn.execute(
                "SELECT pg_create_logical_replication_slot(%s, 'wal2json', true)",
                (f"sw_probe_{uuid.uuid4().hex[:8]}",),
            )
        except psycopg.Error as exc:
            services.unavailable(
                f"PostgreSQL cannot decode with wal2json (run `make services`): {exc}".splitlines()[
                    0
                ]
            )
    _checked.append(dsn)
    return dsn


@pytest.fixture
def slot(dsn: str) -> Iterator[str]:
    """A fresh slot name; the slot (if made) is dropped afterwards, so it retains no WAL."""
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    yield name
    sql(
        dsn,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        name,
    )


@pytest.fixture
def table(dsn: str) -> Iterator[str]:
    """A fresh table `public.chg_<random>` (id primary key, name, n), dropped afterwards."""
    name = f"chg_{uuid.uuid4().hex[:12]}"
    sql(dsn, f"CREATE TABLE {name} (id int PRIMARY KEY, name text, n numeric)")
    yield name
    sql(dsn, f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def other_table(dsn: str) -> Iterator[str]:
    name = f"chg_{uuid.uuid4().hex[:12]}"
    sql(dsn, f"CREATE TABLE {name} (id int PRIMARY KEY, name text)")
    yield name
    sql(dsn, f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[Any]:
    """An asyncpg connection to the test database."""
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()
