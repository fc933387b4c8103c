"""rows(): a query's result as a stream, fetched in batches from a server-side cursor.

Each driver gets one async generator that owns the cursor (and, for
PostgreSQL, the transaction the cursor lives in) and hands the engine one
``fetch(batch_size)`` at a time. The batches travel through the engine whole
(the node is ``batched``), so fused stages and terminal operations loop over
each batch without an ``await`` per row. The generator's ``finally`` closes
the cursor and ends the transaction, shielded from cancellation and within
the grace period, on every way out: the end of the rows, a consumer that
stops early, an error in a stage, cancellation.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .._core._callables import check_count
from .._core._lifecycle import close_within
from .._core._nodes import Source
from .._stream import Stream
from ._drivers import Driver, driver_of, require_asyncio

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

    import aiosqlite
    import psycopg

    from .._core._scope import Scope

__all__ = ["DEFAULT_BATCH_SIZE", "RowStream", "rows"]

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

#: Rows per fetch: where asyncpg, psycopg and aiosqlite all peaked (10,000 was slower).
DEFAULT_BATCH_SIZE = 1000

#: Characters of the query quoted in error notes and reprs.
_QUERY_SHOWN = 200

_cursor_ids = itertools.count(1)


def _shown(query: str) -> str:
    one_line = " ".join(query.split())
    if len(one_line) > _QUERY_SHOWN:
        one_line = one_line[: _QUERY_SHOWN - 3] + "..."
    return repr(one_line)


class _Rows(Source):
    """The node of a RowStream: one driver generator, opened once."""

    __slots__ = ("_batch_size", "_conn", "_driver", "_params", "_query", "columns")

    batched = True

    def __init__(
        self, driver: Driver, conn: Any, query: str, params: tuple[Any, ...], batch_size: int
    ) -> None:
        super().__init__()
        self._driver = driver
        self._conn = conn
        self._query = query
        self._params = params
        self._batch_size = batch_size
        self.columns: tuple[str, ...] | None = None

    def run(self, scope: Scope | None) -> AsyncGenerator[Sequence[Any], None]:
        run = {
            "aiosqlite": self._aiosqlite,
            "asyncpg": self._asyncpg,
            "asyncpg-pool": self._asyncpg,
            "psycopg": self._psycopg,
        }[self._driver]
        return run()

    def describe(self) -> str:
        return f"db.rows({self._driver}, {_shown(self._query)})"

    def _note(self, exc: BaseException) -> None:
        exc.add_note(f"sluiceway.db.rows(): while running the query {_shown(self._query)}")

    async def _end(
        self, finish: Callable[[], Awaitable[object]], leaving: BaseException | None
    ) -> None:
        """Run a cleanup step; if an error is already leaving, a failure here becomes its note."""
        try:
            await close_within(finish, self)
        except Exception as exc:
            if leaving is None:
                raise
            leaving.add_note(f"sluiceway.db.rows(): cleaning up also failed: {exc!r}")

    # -- aiosqlite ---------------------------------------------------------

    async def _aiosqlite(self) -> AsyncGenerator[Sequence[Any], None]:
        require_asyncio("rows")
        conn: aiosqlite.Connection = self._conn
        size = self._batch_size
        try:
            cursor = await conn.execute(self._query, self._params)
        except Exception as exc:
            self._note(exc)
            raise
        leaving: BaseException | None = None
        try:
            self.columns = tuple(d[0] for d in cursor.description or ())
            while True:
                try:
                    rows = await cursor.fetchmany(size)
                except Exception as exc:
                    self._note(exc)
                    raise
                # aiosqlite returns a list, typed as an Iterable: no copy then.
                batch = rows if isinstance(rows, list) else list(rows)
                if batch:
                    yield batch
                if len(batch) < size:
                    return
        except BaseException as exc:
            leaving = exc
            raise
        finally:
            await self._end(cursor.close, leaving)

    # -- asyncpg -----------------------------------------------------------

    async def _asyncpg(self) -> AsyncGenerator[Sequence[Any], None]:
        # No read-ahead: sending the next fetch before handing a batch on measured
        # 1.0-1.3x faster here, but would keep the connection busy while the
        # consumer runs, and a consumer may query it between rows (same transaction).
        # A portal (server-side cursor) lives only inside a transaction: ours,
        # or a savepoint when the caller already has one open. Committing
        # (releasing) or rolling it back closes the portal. A pool lends the
        # connection for the stream; it goes back after the transaction ended.
        require_asyncio("rows")
        pool = self._conn if self._driver == "asyncpg-pool" else None
        conn = self._conn if pool is None else await pool.acquire()
        size = self._batch_size
        finished = False
        leaving: BaseException | None = None
        try:
            transaction = conn.transaction()
            await transaction.start()
            try:
                try:
                    cursor = await conn.cursor(self._query, *self._params)
                    while True:
                        batch = await cursor.fetch(size)
                        if batch:
                            if self.columns is None:
                                self.columns = tuple(batch[0].keys())
                            yield batch
                        if len(batch) < size:
                            break
                except Exception as exc:
                    self._note(exc)
                    raise
                finished = True
            except BaseException as exc:
                leaving = exc
                raise
            finally:
                # Read to the end: commit (the query may have had effects).
                # Stopped early or failed: roll back, which closes the portal too.
                await self._end(transaction.commit if finished else transaction.rollback, leaving)
        except BaseException as exc:
            leaving = leaving or exc
            raise
        finally:
            if pool is not None:
                await self._end(lambda: pool.release(conn), leaving)

    # -- psycopg -----------------------------------------------------------

    async def _psycopg(self) -> AsyncGenerator[Sequence[Any], None]:
        require_asyncio("rows")
        conn: psycopg.AsyncConnection[Any] = self._conn
        size = self._batch_size
        # conn.transaction() begins one (autocommit or idle) or makes a
        # savepoint inside the caller's; a named (server-side) cursor needs it.
        transaction = conn.transaction()
        await transaction.__aenter__()
        leaving: BaseException | None = None
        cursor = conn.cursor(name=f"sluiceway_rows_{next(_cursor_ids)}")
        try:
            try:
                query: Any = self._query  # the caller's SQL text, not a LiteralString
                await cursor.execute(query, self._params or None)
                self.columns = tuple(c.name for c in cursor.description or ())
                while True:
                    batch = await cursor.fetchmany(size)
                    if batch:
                        yield batch
                    if len(batch) < size:
                        break
            except Exception as exc:
                self._note(exc)
                raise
        except BaseException as exc:
            leaving = exc
            raise
        finally:
            await self._end(cursor.close, leaving)
            if leaving is None:
                await self._end(lambda: transaction.__aexit__(None, None, None), None)
            else:
                failed = leaving  # rolls back: also when the consumer stopped early
                await self._end(
                    lambda: transaction.__aexit__(type(failed), failed, failed.__traceback__),
                    leaving,
                )


class RowStream(Stream[R_co]):
    """The Stream of rows :func:`rows` returns, with the result's column names.

    ``columns`` is None until the query has run: for aiosqlite and psycopg
    it is known after the first pull (even when there are no rows), for
    asyncpg once the first row has arrived.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: _Rows) -> None:
        super().__init__(rows)
        self._rows = rows

    @property
    def columns(self) -> tuple[str, ...] | None:
        return self._rows.columns


@overload
def rows(
    conn: psycopg.AsyncConnection[R],
    query: str,
    *params: Any,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RowStream[R]: ...
@overload
def rows(
    conn: object, query: str, *params: Any, batch_size: int = DEFAULT_BATCH_SIZE
) -> RowStream[Any]: ...
def rows(
    conn: object, query: str, *params: Any, batch_size: int = DEFAULT_BATCH_SIZE
) -> RowStream[Any]:
    """The rows of ``query``, read from a server-side cursor ``batch_size`` rows at a time.

    The driver is chosen from the type of ``conn``:

    - **aiosqlite** ``Connection``: ``execute`` then ``fetchmany(batch_size)``;
      rows are what the connection's ``row_factory`` makes (tuples by
      default, ``sqlite3.Row`` if set). Parameters use ``?``.
    - **asyncpg** ``Connection`` (or a pool's connection): a cursor
      (portal) inside a transaction, read with ``cursor.fetch(batch_size)``;
      rows are ``asyncpg.Record``. Parameters use ``$1``, ``$2``... An
      ``asyncpg.Pool`` is accepted too: a connection is acquired for the
      stream and released when it ends.
    - **psycopg 3** ``AsyncConnection``: a named (server-side) cursor inside
      a transaction, read with ``fetchmany(batch_size)``; rows are what the
      connection's ``row_factory`` makes (tuples by default). Parameters use
      ``%s``.

    For PostgreSQL the stream opens a transaction (a savepoint if one is
    already open), commits it when the rows were read to the end and rolls
    it back otherwise, which closes the cursor either way. Whatever ends the
    stream (the last row, ``take(n)``, a ``break`` inside ``async with``, an
    error in a stage, cancellation) closes the cursor and ends the
    transaction before control returns: the connection can be used again
    right after. Use one connection for one stream at a time; between rows
    the consumer may run other queries on it (for PostgreSQL they run inside
    the stream's transaction).

    The rows move through the stream in batches, so stages such as ``map``
    and ``filter`` and terminal operations (``count()``, ``reduce()``,
    ``to_list()``) pay no ``await`` per row. Errors from the driver (bad
    SQL, a lost connection) reach you as the driver raised them, with a note
    naming the query. The drivers run only on asyncio (uvloop too):
    iterating on trio raises ``UnsupportedBackendError`` (a ``RuntimeError``).

    Args:
        conn: an ``aiosqlite.Connection``, an ``asyncpg.Connection`` or
            ``asyncpg.Pool``, or a ``psycopg.AsyncConnection``.
        query: the SQL text, with the driver's own parameter placeholders.
        params: the query's parameters, in order.
        batch_size: rows per fetch (at least 1).

    Raises:
        TypeError: ``conn`` is none of the above (at the call).
        ValueError: ``batch_size`` is below 1 (at the call).
    """
    driver = driver_of(conn, "rows")
    if not isinstance(query, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"rows() expects the query as a str, got {type(query).__name__}")
    size = check_count(batch_size, "rows", "batch_size", minimum=1)
    return RowStream(_Rows(driver, conn, query, params, size))
