"""listen(): PostgreSQL LISTEN/NOTIFY as a stream of notifications.

NOTIFY is fire-and-forget: the server hands a notification to the sessions
listening at that moment and keeps nothing for one that is disconnected. So
this is a wake-up hint, never a log: notifications sent while the listening
connection is down are lost, and a payload must be under 8000 bytes (the
server refuses longer ones with ``payload string too long``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._core._callables import check_count
from .._core._lifecycle import close_within
from .._core._nodes import Source
from .._stream import Stream
from ..errors import ListenDisconnectedError, ListenOverflowError
from ._drivers import driver_of, require_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    import psycopg

    from .._core._scope import Scope

__all__ = ["DEFAULT_LISTEN_BUFFER", "Notification", "listen"]

#: Notifications an asyncpg listener holds while the consumer is busy.
DEFAULT_LISTEN_BUFFER = 1024


@dataclass(frozen=True, slots=True)
class Notification:
    """One NOTIFY as the listening session received it.

    Attributes:
        channel: the channel it was sent on.
        payload: its text (``""`` when NOTIFY had none).
        pid: the process id of the server session that sent it.
    """

    channel: str
    payload: str
    pid: int


class _Listen(Source):
    """The node of a listen() stream: LISTEN when opened, UNLISTEN when closed."""

    __slots__ = ("_buffer", "_channel", "_conn", "_driver")

    def __init__(self, driver: str, conn: Any, channel: str, buffer: int) -> None:
        super().__init__()
        self._driver = driver
        self._conn = conn
        self._channel = channel
        self._buffer = buffer

    def run(self, scope: Scope | None) -> AsyncGenerator[Notification, None]:
        return self._asyncpg() if self._driver == "asyncpg" else self._psycopg()

    def describe(self) -> str:
        return f"db.listen({self._driver}, {self._channel!r})"

    async def _asyncpg(self) -> AsyncGenerator[Notification, None]:
        # asyncpg calls the listener from its protocol as notifications
        # arrive, whatever the consumer is doing: they wait in a bounded
        # buffer. A full buffer stops taking them (the rest are counted as
        # dropped) and the stream fails once the buffered ones are delivered.
        require_asyncio("listen")
        import asyncio

        conn = self._conn
        channel, limit = self._channel, self._buffer
        pending: deque[Notification] = deque()
        wake = asyncio.Event()
        dropped = 0
        closed = False

        def on_notify(_conn: object, pid: int, name: str, payload: str) -> None:
            nonlocal dropped
            if dropped or len(pending) >= limit:
                dropped += 1
            else:
                pending.append(Notification(name, payload, pid))
            wake.set()

        def on_close(_conn: object) -> None:
            nonlocal closed
            closed = True
            wake.set()

        await conn.add_listener(channel, on_notify)
        conn.add_termination_listener(on_close)
        try:
            while True:
                while pending:
                    yield pending.popleft()
                if dropped:
                    raise ListenOverflowError(channel, limit, dropped)
                if closed:
                    raise ListenDisconnectedError(channel)
                wake.clear()
                await wake.wait()
        finally:
            conn.remove_termination_listener(on_close)
            if not conn.is_closed():
                # Sends UNLISTEN once no other callback listens on the channel.
                await close_within(lambda: conn.remove_listener(channel, on_notify), self)

    async def _psycopg(self) -> AsyncGenerator[Notification, None]:
        # psycopg reads notifications only while its notifies() generator
        # waits, so a busy consumer leaves them with the server: that is the
        # backpressure, and there is no buffer of ours to overflow.
        require_asyncio("listen")
        import psycopg
        from psycopg import sql

        conn: psycopg.AsyncConnection[Any] = self._conn
        channel = self._channel
        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        received = conn.notifies()
        try:
            try:
                async for notify in received:
                    if notify.channel == channel:
                        yield Notification(notify.channel, notify.payload, notify.pid)
            except psycopg.OperationalError as exc:
                raise ListenDisconnectedError(channel) from exc
            raise ListenDisconnectedError(channel)  # notifies() ended: the connection closed
        finally:
            await received.aclose()
            if not conn.closed:

                async def unlisten() -> None:
                    await conn.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(channel)))

                await close_within(unlisten, self)


def listen(
    conn: object, channel: str, *, buffer: int = DEFAULT_LISTEN_BUFFER
) -> Stream[Notification]:
    """The notifications sent to ``channel`` (``NOTIFY channel, 'payload'``), as they arrive.

    The stream runs ``LISTEN channel`` when it starts and ``UNLISTEN
    channel`` when it is closed; it never ends by itself. NOTIFY is lossy:
    notifications sent while this connection is not listening (before the
    stream starts, after it ends, while the connection is down) are never
    delivered, and payloads must be under 8000 bytes. Use it as a wake-up
    hint, with the data itself in a table.

    Backpressure: with **asyncpg** the driver takes notifications off the
    socket as they come, so they wait in a buffer of at most ``buffer``; if
    the consumer falls that far behind, later ones are dropped and, once
    the buffered ones are delivered, the stream raises
    :class:`~sluiceway.errors.ListenOverflowError` with the count. With
    **psycopg** (an autocommit ``AsyncConnection``) notifications are read
    only when the consumer asks, so they wait on the server instead, and the
    connection is busy (locked by psycopg) while the stream is open.

    A lost connection ends the stream with
    :class:`~sluiceway.errors.ListenDisconnectedError` (after the
    notifications already received). asyncio only (uvloop too), like the
    drivers: iterating on trio raises
    :class:`~sluiceway.errors.UnsupportedBackendError`.

    Args:
        conn: an ``asyncpg.Connection`` or an autocommit ``psycopg.AsyncConnection``.
        channel: the channel name (an identifier; quoted for you).
        buffer: notifications held for a slow consumer (asyncpg), at least 1.

    Raises:
        TypeError: ``conn`` is not one of those (at the call).
        ValueError: a psycopg connection not in autocommit mode (its LISTEN
            would wait for a commit), or ``buffer`` below 1 (at the call).
    """
    driver = driver_of(conn, "listen")
    if driver not in ("asyncpg", "psycopg"):
        raise TypeError(
            f"listen() needs a PostgreSQL connection (asyncpg.Connection or "
            f"psycopg.AsyncConnection), got {type(conn).__module__}.{type(conn).__qualname__}"
        )
    if not isinstance(channel, str) or not channel:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"listen() expects a channel name (a non-empty str), got {channel!r}")
    size = check_count(buffer, "listen", "buffer", minimum=1)
    if driver == "psycopg" and not getattr(conn, "autocommit", False):
        raise ValueError(
            "listen() needs a psycopg connection in autocommit mode (LISTEN inside a "
            "transaction only starts at COMMIT): connect with autocommit=True"
        )
    return Stream(_Listen(driver, conn, channel, size))
