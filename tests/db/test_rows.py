"""sluiceway.db.rows() against aiosqlite, asyncpg and psycopg on the real servers."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from db_support import Db, expected, make_sqlite_file, sqlite_write_blocked

import sluiceway as sw
from sluiceway.db import RowStream, rows
from sluiceway.errors import UnsupportedBackendError

if TYPE_CHECKING:
    from pathlib import Path


def values(items: list[Any]) -> list[tuple[Any, ...]]:
    """Driver rows (tuples, asyncpg Records, sqlite3.Row) as plain tuples."""
    return [tuple(row) for row in items]


class TestRowSequences:
    @pytest.mark.parametrize("batch_size", [1, 3, 7, 1000])
    async def test_every_row_in_order(self, db: Db, batch_size: int) -> None:
        """All rows arrive, in order, whatever the batch size."""
        got = await rows(db.conn, db.series, 25, batch_size=batch_size).to_list()
        assert values(got) == expected(25)

    @pytest.mark.parametrize("n", [4, 5, 6])
    async def test_result_at_a_batch_boundary(self, db: Db, n: int) -> None:
        """A result one short of, equal to and one past a multiple of the batch size."""
        assert values(await rows(db.conn, db.series, n, batch_size=5).to_list()) == expected(n)

    async def test_empty_result(self, db: Db) -> None:
        """No rows: an empty stream, and the connection is left as it was."""
        assert await rows(db.conn, db.series, 0).to_list() == []
        assert await db.open_cursors() == []
        assert not await db.in_transaction()

    async def test_several_parameters(self, db: Db) -> None:
        """Parameters are passed in order with the driver's own placeholders."""
        got = await rows(db.conn, db.between, 7, 11, batch_size=2).to_list()
        assert values(got) == [(i, f"r{i}") for i in range(7, 12)]

    async def test_async_for(self, db: Db) -> None:
        """A bare async for gives the same rows."""
        got = [tuple(row) async for row in rows(db.conn, db.series, 12, batch_size=5)]
        assert got == expected(12)

    async def test_batches_are_the_fetches(self, db: Db) -> None:
        """batches() shows the engine moves each fetch(batch_size) whole."""
        got = await rows(db.conn, db.series, 12, batch_size=5).batches().to_list()
        assert [len(batch) for batch in got] == [5, 5, 2]
        assert [tuple(row) for batch in got for row in batch] == expected(12)

    async def test_fused_stages_and_terminal_ops(self, db: Db) -> None:
        """map/filter fuse over the batches; count and reduce take them whole."""
        stream = rows(db.conn, db.series, 100, batch_size=9)
        total = (
            await stream.map(lambda r: r[0])
            .filter(lambda x: x % 2 == 0)
            .reduce(lambda a, b: a + b, 0)
        )
        assert total == sum(range(2, 101, 2))
        assert await rows(db.conn, db.series, 100, batch_size=9).count() == 100

    async def test_stream_can_be_reused_sequentially(self, db: Db) -> None:
        """One stream after another on the same connection."""
        for n in (3, 0, 4):
            assert values(await rows(db.conn, db.series, n).to_list()) == expected(n)

    async def test_columns(self, db: Db) -> None:
        """columns names the result's columns once rows have come."""
        stream = rows(db.conn, db.between, 1, 3)
        assert isinstance(stream, RowStream)
        assert stream.columns is None
        async with stream:
            first = await anext(stream)
            assert len(stream.columns or ()) == 2
        assert tuple(first) == (1, "r1")


class TestEarlyExitReleasesTheCursor:
    async def test_take(self, db: Db) -> None:
        """take(3) ends the stream; cursor and transaction are gone and the connection works."""
        got = await rows(db.conn, db.series, 5000, batch_size=100).take(3).to_list()
        assert values(got) == expected(3)
        assert await db.open_cursors() == []
        assert not await db.in_transaction()
        assert await db.ping() == 42

    async def test_cursor_is_open_while_reading(self, db: Db) -> None:
        """The check above can fail: mid-stream the cursor (and transaction) exist."""
        async with rows(db.conn, db.series, 5000, batch_size=100) as stream:
            async for _ in stream:
                if db.name == "aiosqlite":
                    assert await db.open_cursors() == ["read lock held"]
                else:
                    assert len(await db.open_cursors()) == 1
                    assert await db.in_transaction()
                break
        assert await db.open_cursors() == []
        assert not await db.in_transaction()

    async def test_queries_between_rows(self, db: Db) -> None:
        """The consumer may use the same connection between rows (one query at a time)."""
        pings = []
        async with rows(db.conn, db.series, 2500, batch_size=1000) as stream:
            async for row in stream:
                if row[0] % 500 == 0:
                    pings.append(await db.ping())
        assert pings == [42] * 5

    async def test_break_inside_async_with(self, db: Db) -> None:
        """Leaving async with after a break closes the cursor before the next line."""
        seen = []
        async with rows(db.conn, db.series, 5000, batch_size=64) as stream:
            async for row in stream:
                seen.append(tuple(row))
                if len(seen) == 70:
                    break
        assert seen == expected(70)
        assert await db.open_cursors() == []
        assert not await db.in_transaction()
        assert await db.ping() == 42

    async def test_first(self, db: Db) -> None:
        """first() closes the cursor too."""
        assert tuple(await rows(db.conn, db.series, 5000).first()) == (1, "r1")
        assert await db.open_cursors() == []
        assert not await db.in_transaction()

    async def test_error_in_a_stage(self, db: Db) -> None:
        """A stage's error reaches the consumer as it is, and the cursor is closed."""

        def boom(row: Any) -> Any:
            if row[0] == 150:
                raise ZeroDivisionError("stage failed")
            return row

        with pytest.raises(ZeroDivisionError, match="stage failed") as info:
            await rows(db.conn, db.series, 5000, batch_size=100).map(boom).to_list()
        assert not getattr(info.value, "__notes__", [])  # not the query's fault: no note
        assert await db.open_cursors() == []
        assert not await db.in_transaction()
        assert await db.ping() == 42

    async def test_error_in_the_consumer(self, db: Db) -> None:
        """An exception raised in the loop body leaves the same way."""
        with pytest.raises(KeyError):
            async with rows(db.conn, db.series, 5000) as stream:
                async for row in stream:
                    if row[0] == 10:
                        raise KeyError(row[0])
        assert await db.open_cursors() == []
        assert not await db.in_transaction()

    async def test_cancelled_between_rows(self, db: Db) -> None:
        """Cancelled while the consumer waits between rows: the cursor is closed."""
        seen = 0
        with anyio.CancelScope() as scope:
            async with rows(db.conn, db.series, 5000, batch_size=10) as stream:
                async for _ in stream:
                    seen += 1
                    if seen == 15:  # in the second batch
                        scope.cancel()
                    await anyio.sleep(0.001)  # the consumer's wait: cancelled here
        assert scope.cancelled_caught
        assert seen == 15
        assert await db.open_cursors() == []
        assert not await db.in_transaction()
        assert await db.ping() == 42

    async def test_never_iterated(self, db: Db) -> None:
        """A stream closed before it started opens nothing."""
        stream = rows(db.conn, db.series, 10)
        await stream.aclose()
        assert await db.open_cursors() == []
        assert not await db.in_transaction()


class TestBadSql:
    async def test_driver_error_with_the_query_in_a_note(self, db: Db) -> None:
        """Bad SQL raises the driver's own error, noting the query; the connection works after."""
        with pytest.raises(Exception, match=r"(?i)syntax error") as info:
            await rows(db.conn, "SELEC nothing FROM nowhere").to_list()
        assert type(info.value).__module__.split(".")[0] in {"sqlite3", "asyncpg", "psycopg"}
        assert any("SELEC nothing FROM nowhere" in note for note in info.value.__notes__)
        assert await db.open_cursors() == []
        assert not await db.in_transaction()
        assert await db.ping() == 42

    async def test_error_after_some_rows(self, db: Db) -> None:
        """A query that fails part way: its error, and the connection is usable."""
        query = {
            "aiosqlite": "SELECT n, json(CASE WHEN n < 150 THEN '1' ELSE s END) FROM numbers "
            "WHERE n < ?",
            "asyncpg": "SELECT g, 1 / (g - 150) FROM generate_series(1, $1::int) g",
            "psycopg": "SELECT g, 1 / (g - 150) FROM generate_series(1, %s::int) g",
        }[db.name]
        got: list[Any] = []
        with pytest.raises(Exception, match=r"(?i)division by zero|malformed JSON"):
            async with rows(db.conn, query, 300, batch_size=100) as stream:
                async for row in stream:
                    got.append(row)
        assert len(got) == 100  # the first batch arrived before the failing one
        assert not await db.in_transaction()
        assert await db.ping() == 42


class TestSqliteDetails:
    async def test_row_factory_is_kept(self, sqlite_path: Path) -> None:
        """Rows are what the connection's row_factory makes (sqlite3.Row here)."""
        import aiosqlite

        async with aiosqlite.connect(sqlite_path) as conn:
            conn.row_factory = sqlite3.Row
            got = await rows(conn, "SELECT n, s FROM numbers WHERE n <= 2").to_list()
        assert all(isinstance(row, sqlite3.Row) for row in got)
        assert [dict(row) for row in got] == [{"n": 1, "s": "r1"}, {"n": 2, "s": "r2"}]

    async def test_a_read_lock_is_released_after_take(self, tmp_path: Path) -> None:
        """Another process-level connection can write as soon as take() returns."""
        import aiosqlite

        path = make_sqlite_file(tmp_path / "lock.db")
        async with aiosqlite.connect(path) as conn:
            stream = rows(conn, "SELECT * FROM numbers", batch_size=10)
            async with stream:
                await anext(stream)
                assert sqlite_write_blocked(path)
            assert not sqlite_write_blocked(path)


class TestPostgresDetails:
    async def test_asyncpg_inside_a_transaction_uses_a_savepoint(self, asyncpg_conn: Any) -> None:
        """In the caller's transaction, an early stop leaves that transaction open and usable."""
        conn = asyncpg_conn
        async with conn.transaction():
            await conn.execute("CREATE TEMP TABLE sw_rows_tx (n int) ON COMMIT DROP")
            await conn.execute("INSERT INTO sw_rows_tx SELECT generate_series(1, 50)")
            got = (
                await rows(conn, "SELECT n FROM sw_rows_tx ORDER BY n", batch_size=7)
                .take(2)
                .to_list()
            )
            assert [r["n"] for r in got] == [1, 2]
            assert conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM sw_rows_tx") == 50
            names = await conn.fetch("SELECT name FROM pg_cursors WHERE name <> ''")
            assert names == []
        assert not conn.is_in_transaction()

    async def test_asyncpg_rows_are_records(self, asyncpg_conn: Any) -> None:
        """asyncpg rows are Records, by name and by index."""
        got = await rows(asyncpg_conn, "SELECT 1 AS a, 'x' AS b").to_list()
        assert got[0]["a"] == 1
        assert got[0][1] == "x"
        assert type(got[0]).__name__ == "Record"

    async def test_asyncpg_pool(self, pg_dsn: str) -> None:
        """A pool lends a connection for the stream and gets it back when it ends."""
        import asyncpg

        async with asyncpg.create_pool(pg_dsn, min_size=1, max_size=1) as pool:
            stream = rows(pool, "SELECT generate_series(1, 10)", batch_size=3)
            async with stream:
                assert (await anext(stream))[0] == 1
                assert pool.get_idle_size() == 0  # lent to the stream
            assert pool.get_idle_size() == 1  # back when the stream closed
            got = await rows(pool, "SELECT generate_series(1, 10)", batch_size=3).take(4).to_list()
            assert [r[0] for r in got] == [1, 2, 3, 4]
            assert pool.get_idle_size() == pool.get_size() == 1
            async with pool.acquire() as conn:
                assert not conn.is_in_transaction()
                assert await conn.fetch("SELECT name FROM pg_cursors WHERE name <> ''") == []

    async def test_asyncpg_cancelled_in_a_slow_query(self, asyncpg_conn: Any) -> None:
        """Cancelled while the server is still running the query: the connection works after."""
        with anyio.move_on_after(0.3) as scope:
            await rows(asyncpg_conn, "SELECT pg_sleep(5)").to_list()
        assert scope.cancelled_caught
        assert not asyncpg_conn.is_in_transaction()
        assert await asyncpg_conn.fetchval("SELECT 42") == 42

    async def test_asyncpg_connection_lost_mid_stream(self, asyncpg_conn: Any, pg_dsn: str) -> None:
        """The server ends the session mid-stream: the driver's error, with the query and the
        failed rollback as notes (the cleanup error does not hide the first one)."""
        import asyncpg

        killer = await asyncpg.connect(pg_dsn)
        try:
            seen = 0
            with pytest.raises(asyncpg.InterfaceError, match="connection is closed") as info:
                async with rows(
                    asyncpg_conn, "SELECT generate_series(1, 100000)", batch_size=10
                ) as s:
                    async for _ in s:
                        seen += 1
                        if seen == 5:
                            pid = asyncpg_conn.get_server_pid()
                            await killer.execute("SELECT pg_terminate_backend($1)", pid)
                            with anyio.fail_after(5):
                                while not asyncpg_conn.is_closed():  # noqa: ASYNC110  # no event for it
                                    await anyio.sleep(0.01)
        finally:
            await killer.close()
        assert seen == 10  # the batch in hand is delivered first
        notes = info.value.__notes__
        assert "generate_series(1, 100000)" in notes[0]
        assert "cleaning up also failed" in notes[1]

    async def test_asyncpg_completed_statement_is_committed(self, asyncpg_conn: Any) -> None:
        """Read to the end, the transaction is committed (an INSERT ... RETURNING stays)."""
        conn = asyncpg_conn
        await conn.execute("CREATE TEMP TABLE sw_rows_commit (n int)")
        got = await rows(
            conn, "INSERT INTO sw_rows_commit SELECT generate_series(1, 3) RETURNING n"
        ).to_list()
        assert [r[0] for r in got] == [1, 2, 3]
        assert await conn.fetchval("SELECT count(*) FROM sw_rows_commit") == 3

    async def test_psycopg_row_factory(self, psycopg_conn: Any) -> None:
        """psycopg rows follow the connection's row_factory (dict_row here)."""
        from psycopg.rows import dict_row

        psycopg_conn.row_factory = dict_row
        got = await rows(psycopg_conn, "SELECT 1 AS a, 'x' AS b").to_list()
        assert got == [{"a": 1, "b": "x"}]

    async def test_psycopg_not_autocommit(self, pg_dsn: str) -> None:
        """A non-autocommit psycopg connection: the rows, and no transaction left behind."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            got = await rows(conn, "SELECT generate_series(1, 20)", batch_size=6).take(8).to_list()
            assert [r[0] for r in got] == list(range(1, 9))
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    async def test_psycopg_percent_sign_without_params(self, psycopg_conn: Any) -> None:
        """Without parameters a % in the query is just a character."""
        got = await rows(psycopg_conn, "SELECT 'a%b' LIKE 'a%'").to_list()
        assert got == [(True,)]


class TestArguments:
    def test_unsupported_connection(self) -> None:
        """Anything but a supported connection is a TypeError naming what is supported."""
        with pytest.raises(TypeError, match=r"aiosqlite\.Connection.*got builtins\.object"):
            rows(object(), "SELECT 1")

    def test_sync_sqlite3_connection(self) -> None:
        """A sync sqlite3 connection gets a hint to use aiosqlite."""
        conn = sqlite3.connect(":memory:")
        try:
            with pytest.raises(TypeError, match=r"use aiosqlite\.connect"):
                rows(conn, "SELECT 1")
        finally:
            conn.close()

    def test_sync_psycopg_connection(self, pg_dsn: str) -> None:
        """A sync psycopg connection gets a hint to use AsyncConnection."""
        import psycopg

        with psycopg.connect(pg_dsn) as conn, pytest.raises(TypeError, match="AsyncConnection"):
            rows(conn, "SELECT 1")

    async def test_bad_batch_size_and_query(self, sqlite_path: Path) -> None:
        """batch_size below 1 is a ValueError, a query that is not a str a TypeError."""
        import aiosqlite

        async with aiosqlite.connect(sqlite_path) as conn:
            with pytest.raises(ValueError, match="batch_size >= 1"):
                rows(conn, "SELECT 1", batch_size=0)
            with pytest.raises(TypeError, match="query as a str"):
                rows(conn, b"SELECT 1")  # type: ignore[arg-type]


def test_trio_is_refused_clearly(sqlite_path: Path) -> None:
    """On trio, iterating raises UnsupportedBackendError (still a RuntimeError) that says
    the drivers are asyncio-only."""
    import aiosqlite
    import trio

    conn = aiosqlite.connect(sqlite_path)  # not started: no thread, nothing to close

    async def main() -> None:
        with pytest.raises(UnsupportedBackendError, match="only on asyncio") as info:
            await rows(conn, "SELECT 1").to_list()
        assert isinstance(info.value, RuntimeError)
        assert info.value.where == "rows"

    trio.run(main)


async def test_rows_is_a_stream(db: Db) -> None:
    """It is a sluiceway Stream: it composes with the other operators."""
    merged = sw.concat(rows(db.conn, db.series, 2), [(0, "x")])
    assert values(await merged.to_list()) == [*expected(2), (0, "x")]
