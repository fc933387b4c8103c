"""sluiceway.db.listen() against the real PostgreSQL, over asyncpg and psycopg."""

from __future__ import annotations

import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sluiceway.db import Notification, listen
from sluiceway.errors import (
    ListenDisconnectedError,
    ListenError,
    ListenOverflowError,
    UnsupportedBackendError,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sluiceway import Stream


@pytest.fixture
async def sender(pg_dsn: str) -> AsyncIterator[Any]:
    """A second connection: it sends the notifications and watches the listener."""
    import asyncpg

    conn = await asyncpg.connect(pg_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(params=["asyncpg", "psycopg"])
async def listener(
    request: pytest.FixtureRequest, asyncpg_conn: Any, psycopg_conn: Any
) -> tuple[Any, int]:
    """A listening connection of each driver, and its server process id."""
    if request.param == "asyncpg":
        return asyncpg_conn, asyncpg_conn.get_server_pid()
    return psycopg_conn, psycopg_conn.info.backend_pid


def fresh(name: str) -> str:
    """A channel name of the test's own: channels are server-wide, and tests may run in parallel."""
    return f"{name}_{uuid.uuid4().hex[:8]}"


async def until_listening(sender: Any, pid: int, channel: str) -> None:
    """Wait until the session ``pid`` has run its LISTEN and waits (the stream started)."""
    # Polled: the listener's state is on the server, nothing here can signal it.
    with anyio.fail_after(10):
        while not await sender.fetchval(  # noqa: ASYNC110
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'idle' "
            "AND query ILIKE 'LISTEN%' AND position(replace($2, '\"', '\"\"') in query) > 0",
            pid,
            channel,
        ):
            await anyio.sleep(0.01)


async def channels_of(sender: Any, pid: int) -> str:
    """The last statement the session ran (to see its UNLISTEN)."""
    query: str = await sender.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
    return query


async def collect(
    stream: Stream[Notification], n: int, sender: Any, pid: int, channel: str, *payloads: str
) -> list[Notification]:
    """Pull ``n`` notifications while ``payloads`` are sent once the listener is ready."""
    got: list[Notification] = []

    async def consume() -> None:
        async with stream:
            async for item in stream:
                got.append(item)
                if len(got) == n:
                    return

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await until_listening(sender, pid, channel)
            for payload in payloads:
                await sender.execute("SELECT pg_notify($1, $2)", channel, payload)
    return got


class TestDelivery:
    async def test_in_order_with_channel_payload_and_pid(
        self, listener: tuple[Any, int], sender: Any
    ) -> None:
        """Each NOTIFY arrives once, in order, with its channel, payload and sender's pid."""
        conn, pid = listener
        channel = fresh("sw_orders")
        got = await collect(listen(conn, channel), 3, sender, pid, channel, "a", "", "c")
        me = sender.get_server_pid()
        assert got == [
            Notification(channel, "a", me),
            Notification(channel, "", me),
            Notification(channel, "c", me),
        ]

    async def test_only_its_channel(self, listener: tuple[Any, int], sender: Any) -> None:
        """Notifications on other channels are not delivered."""
        conn, pid = listener
        mine, other = fresh("sw_mine"), fresh("sw_other")
        stream = listen(conn, mine)
        got: list[Notification] = []

        async def consume() -> None:
            async with stream:
                async for item in stream:
                    got.append(item)
                    return

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await until_listening(sender, pid, mine)
                await sender.execute("SELECT pg_notify($1, 'no')", other)
                await sender.execute("SELECT pg_notify($1, 'yes')", mine)
        assert [n.payload for n in got] == ["yes"]

    async def test_channel_name_is_quoted(self, listener: tuple[Any, int], sender: Any) -> None:
        """A channel name with spaces, quotes and capitals is one identifier."""
        conn, pid = listener
        channel = fresh('Mixed "Case" chan')
        got = await collect(listen(conn, channel), 1, sender, pid, channel, "x")
        assert [(n.channel, n.payload) for n in got] == [(channel, "x")]

    async def test_largest_payload(self, listener: tuple[Any, int], sender: Any) -> None:
        """A 7999-byte payload arrives whole; the server refuses 8000 bytes."""
        import asyncpg

        conn, pid = listener
        big = "x" * 7999
        channel = fresh("sw_big")
        got = await collect(listen(conn, channel), 1, sender, pid, channel, big)
        assert got[0].payload == big
        with pytest.raises(asyncpg.InvalidParameterValueError, match="payload string too long"):
            await sender.execute("SELECT pg_notify($1, $2)", channel, "x" * 8000)

    async def test_unlisten_on_close(self, listener: tuple[Any, int], sender: Any) -> None:
        """Closing the stream runs UNLISTEN; the connection works after."""
        conn, pid = listener
        channel = fresh("sw_bye")
        await collect(listen(conn, channel), 1, sender, pid, channel, "x")
        assert (await channels_of(sender, pid)).startswith("UNLISTEN")
        if hasattr(conn, "fetchval"):
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
        else:
            cursor = await conn.execute("SELECT count(*) FROM pg_listening_channels()")
            assert await cursor.fetchone() == (0,)

    async def test_cancelled_while_waiting(self, listener: tuple[Any, int], sender: Any) -> None:
        """Cancelled while waiting for a notification: UNLISTEN still runs, the connection works."""
        conn, pid = listener
        channel = fresh("sw_quiet")

        async def wait_for_one() -> None:
            async with listen(conn, channel) as stream:
                async for _ in stream:
                    pass

        with anyio.fail_after(10), anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(wait_for_one)
                await until_listening(sender, pid, channel)
                scope.cancel()
        assert scope.cancelled_caught
        assert (await channels_of(sender, pid)).startswith("UNLISTEN")
        if hasattr(conn, "fetchval"):
            assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0
        else:
            cursor = await conn.execute("SELECT count(*) FROM pg_listening_channels()")
            assert await cursor.fetchone() == (0,)

    async def test_sent_before_the_stream_started_is_lost(
        self, listener: tuple[Any, int], sender: Any
    ) -> None:
        """NOTIFY keeps nothing for a session not yet listening: only later ones arrive."""
        conn, pid = listener
        channel = fresh("sw_late")
        await sender.execute("SELECT pg_notify($1, 'before')", channel)
        got = await collect(listen(conn, channel), 1, sender, pid, channel, "after")
        assert [n.payload for n in got] == ["after"]


class TestAsyncpgBuffer:
    async def test_overflow_after_the_buffered_ones(self, asyncpg_conn: Any, sender: Any) -> None:
        """A consumer more than `buffer` behind gets the buffered ones, then ListenOverflowError."""
        pid = asyncpg_conn.get_server_pid()
        channel = fresh("sw_flood")
        stream = listen(asyncpg_conn, channel, buffer=3)
        got: list[str] = []
        with anyio.fail_after(10):
            async with stream:
                first: Notification | None = None

                async def wait_first() -> None:
                    nonlocal first
                    first = await anext(stream)

                async with anyio.create_task_group() as tg:
                    tg.start_soon(wait_first)
                    await until_listening(sender, pid, channel)
                    await sender.execute("SELECT pg_notify($1, '0')", channel)
                assert first is not None
                # The consumer is busy: 8 more arrive (and a round trip makes sure they did).
                for i in range(1, 9):
                    await sender.execute("SELECT pg_notify($1, $2)", channel, str(i))
                await asyncpg_conn.fetchval("SELECT 1")
                with pytest.raises(ListenOverflowError) as info:
                    async for item in stream:
                        got.append(item.payload)
        assert got == ["1", "2", "3"]
        assert info.value.buffer == 3
        assert info.value.dropped == 5
        assert info.value.channel == channel
        assert isinstance(info.value, ListenError)
        assert await asyncpg_conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0

    async def test_lost_connection(self, asyncpg_conn: Any, sender: Any) -> None:
        """The listener's session is killed: ListenDisconnectedError after what had arrived.

        The session is killed once "last" has reached the consumer: killed
        sooner, the server may end before it has passed the notification on.
        """
        pid = asyncpg_conn.get_server_pid()
        channel = fresh("sw_gone")
        stream = listen(asyncpg_conn, channel)
        got: list[str] = []
        failed: list[BaseException] = []
        arrived = anyio.Event()

        async def consume() -> None:
            try:
                async with stream:
                    async for item in stream:
                        got.append(item.payload)
                        arrived.set()
            except ListenDisconnectedError as exc:
                failed.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await until_listening(sender, pid, channel)
                await sender.execute("SELECT pg_notify($1, 'last')", channel)
                await arrived.wait()
                await sender.execute("SELECT pg_terminate_backend($1)", pid)
        assert got == ["last"]
        assert len(failed) == 1
        assert channel in str(failed[0])


class TestPsycopg:
    async def test_lost_connection(self, psycopg_conn: Any, sender: Any) -> None:
        """psycopg: a killed session ends the stream with ListenDisconnectedError."""
        pid = psycopg_conn.info.backend_pid
        channel = fresh("sw_gone2")
        failed: list[BaseException] = []

        async def consume() -> None:
            try:
                async with listen(psycopg_conn, channel) as stream:
                    async for _ in stream:
                        pass
            except ListenDisconnectedError as exc:
                failed.append(exc)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await until_listening(sender, pid, channel)
                await sender.execute("SELECT pg_terminate_backend($1)", pid)
        assert len(failed) == 1
        assert failed[0].__cause__ is not None  # psycopg's own error, chained

    async def test_needs_autocommit(self, pg_dsn: str) -> None:
        """A psycopg connection in a transaction would only LISTEN at COMMIT: ValueError."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(pg_dsn) as conn:
            with pytest.raises(ValueError, match="autocommit"):
                listen(conn, "sw_x")


class TestArguments:
    def test_not_postgres(self) -> None:
        """A SQLite connection (or anything else) is a TypeError."""
        conn = sqlite3.connect(":memory:")
        try:
            with pytest.raises(TypeError):
                listen(conn, "x")
        finally:
            conn.close()

    async def test_bad_channel_and_buffer(self, asyncpg_conn: Any) -> None:
        """An empty channel is a TypeError, a buffer below 1 a ValueError."""
        with pytest.raises(TypeError, match="channel name"):
            listen(asyncpg_conn, "")
        with pytest.raises(ValueError, match="buffer >= 1"):
            listen(asyncpg_conn, "x", buffer=0)


def test_trio_is_refused_clearly() -> None:
    """On trio, iterating raises UnsupportedBackendError (a RuntimeError) naming listen(),
    before the connection is touched."""
    import asyncpg
    import trio

    class NeverConnected(asyncpg.Connection):
        def __del__(self) -> None:  # asyncpg's would look for a connection
            pass

    # Never connected: the refusal comes first, so nothing of it is used.
    conn = NeverConnected.__new__(NeverConnected)

    async def main() -> None:
        with pytest.raises(UnsupportedBackendError, match=r"listen\(\) runs only on asyncio"):
            await listen(conn, "jobs").to_list()

    trio.run(main)
