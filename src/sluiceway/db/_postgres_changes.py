"""postgres_changes(): a durable PostgreSQL change stream over logical decoding.

Reading and acknowledging are plain SQL over asyncpg (no replication
protocol): ``pg_logical_slot_peek_changes`` reads a replication slot without
consuming it, decoded by the wal2json output plugin (format 2), and
``pg_replication_slot_advance`` moves the slot on once the consumer has
processed the changes. A crash before the advance means the changes are read
again: delivery is at least once.

The granularity is the transaction. PostgreSQL decodes a transaction whole,
at its commit, and a slot advanced to anywhere before the end of a commit
record delivers that whole transaction again (checked on PostgreSQL 15 with
``pg_replication_slot_advance``). So the slot is advanced to a transaction's
end only once every change of it has been processed; after a crash the
changes redelivered are exactly those of the transactions not fully processed
at the last advance. Within one process nothing is delivered twice, and each
change carries a ``checkpoint`` that ``after=`` accepts, for callers that keep
their own per-change position.

This module is the asyncpg adapter: :class:`_SlotReadLoop` reads, waits and
acknowledges, and :func:`postgres_changes` checks the arguments. Beside it,
without I/O and without a driver: ``_wal2json`` turns wal2json rows into
:class:`Change` values and ``_ledger`` keeps the book of what may be
acknowledged. ``_slot_errors`` tells asyncpg's errors apart by SQLSTATE, and
``_wakeup`` holds the trigger that wakes an idle stream.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from .._core._callables import check_count, check_seconds
from .._core._nodes import Source
from .._stream import Stream
from ..errors import ChangeStreamError, HistoryLost
from ._ledger import Ledger
from ._wakeup import DEFAULT_CHANNEL
from ._wal2json import Change, format_lsn, parse_checkpoint, parse_lsn, parse_transactions

try:
    import asyncpg
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sluiceway.db.postgres_changes needs asyncpg: pip install 'sluiceway[postgres]'"
    ) from None

# After the check above: it imports asyncpg as well.
from ._slot_errors import DRIVER_ERRORS, slot_error

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence

    from .._core._scope import Scope
    from ._wal2json import Transaction

__all__ = ["ChangeStream", "postgres_changes"]

_SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")


@dataclass(frozen=True, slots=True)
class _Options:
    """postgres_changes()'s arguments, checked."""

    slot: str
    #: wal2json's add-tables value (names escaped, comma-separated), or None for every table
    tables: str | None
    create_slot: bool
    after: str | None
    auto_ack: bool
    ack_interval: float
    batch_size: int
    poll_interval: float
    channel: str | None
    heartbeat: float


_PEEK = """
SELECT lsn::text, data FROM pg_logical_slot_peek_changes(
    $1, $2::text::pg_lsn, $3,
    'format-version', '2', 'include-xids', '1', 'include-timestamp', '1', 'include-lsn', '1'
    {tables}
)
"""

_SLOT = """
SELECT slot_type, plugin, database, wal_status, confirmed_flush_lsn::text,
       current_database() AS here
FROM pg_replication_slots WHERE slot_name = $1
"""


class _SlotReadLoop(Source):
    """The read-wait-acknowledge loop, as the node of a ChangeStream."""

    __slots__ = (
        "_advanced_at",
        "_confirmed",
        "_ledger",
        "_opts",
        "_own_conn",
        "_target",
        "_wake",
        "checkpoint",
        "clean_exit",
        "confirmed_lsn",
    )

    def __init__(self, target: str | asyncpg.Connection, options: _Options) -> None:
        super().__init__()
        self._target = target
        self._opts = options
        self._own_conn = isinstance(target, str)
        self._ledger: Ledger | None = None
        self._wake = anyio.Event()
        self._advanced_at = 0.0
        #: The checkpoint of the last change known to be processed.
        self.checkpoint: str | None = options.after
        #: The slot's acknowledged position (``X/Y``), once known.
        self.confirmed_lsn: str | None = None
        self._confirmed = 0  # the same, as an int
        self.clean_exit: bool = False

    @property
    def where(self) -> str:
        return f"replication slot {self._opts.slot!r}"

    @property
    def slot(self) -> str:
        return self._opts.slot

    def describe(self) -> str:
        return f"postgres_changes(slot={self._opts.slot!r})"

    def on_leave(self, leaving: BaseException | None) -> None:
        # Leaving `async with` (or a terminal operation) without an error means
        # the consumer is done with the last change it was given.
        if leaving is None:
            self.clean_exit = True

    def run(self, scope: Scope | None) -> AsyncGenerator[Change, None]:
        return self._changes()

    # -- acknowledging ---------------------------------------------------

    def ack(self, change: Change) -> None:
        ledger = self._ledger
        if ledger is not None and ledger.processed(change.checkpoint):
            self.checkpoint = change.checkpoint
            self._wake.set()  # an idle loop sends the acknowledgement now
            return
        done = self.checkpoint
        if done is None or parse_checkpoint(change.checkpoint) > parse_checkpoint(done):
            raise ValueError(f"ack(): change {change.checkpoint} was not delivered by this stream")
        # an earlier change: already covered

    async def _flush(self, conn: asyncpg.Connection) -> None:
        """Advance the slot to what the ledger says is safe, if that moved."""
        assert self._ledger is not None
        safe = self._ledger.safe
        if safe <= self._confirmed:
            return
        try:
            # The server moves no further than the WAL it has flushed: keep its answer.
            moved = await conn.fetchval(
                "SELECT end_lsn::text FROM pg_replication_slot_advance($1, $2::text::pg_lsn)",
                self._opts.slot,
                format_lsn(safe),
            )
        except DRIVER_ERRORS as exc:
            raise slot_error(exc, self.where) from exc
        self.confirmed_lsn = str(moved)
        self._confirmed = parse_lsn(self.confirmed_lsn)
        self._advanced_at = time.monotonic()

    # -- the loop --------------------------------------------------------

    async def _changes(self) -> AsyncGenerator[Change, None]:
        opts = self._opts
        conn: asyncpg.Connection | None = None
        listening = False
        failing = False
        try:
            conn = await self._connect()
            await self._prepare(conn)
            channel: str | None = opts.channel
            if channel is not None:
                await conn.add_listener(channel, self._notified)
                listening = True
            async for change in self._loop(conn):
                yield change
        except BaseException as exc:
            failing = not isinstance(exc, GeneratorExit)
            raise
        finally:
            if conn is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    await self._finish(conn, listening, failing)

    async def _finish(self, conn: asyncpg.Connection, listening: bool, failing: bool) -> None:
        """Send what is processed (always: it is), then stop listening and close."""
        try:
            if self._ledger is not None and not conn.is_closed():
                if self.clean_exit and self._opts.auto_ack:
                    last = self._ledger.last_delivered()
                    if last is not None:
                        self._ledger.processed(last)
                        self.checkpoint = last
                try:
                    await self._flush(conn)
                except (ChangeStreamError, asyncpg.InterfaceError, OSError):
                    if not failing:
                        raise  # else the error already on its way out says more
        finally:
            try:
                channel = self._opts.channel
                if listening and channel is not None and not conn.is_closed():
                    await conn.remove_listener(channel, self._notified)
            finally:
                if self._own_conn:
                    await conn.close()

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def _loop(self, conn: asyncpg.Connection) -> AsyncIterator[Change]:
        opts = self._opts
        ledger = self._ledger
        assert ledger is not None
        auto = opts.auto_ack
        interval = opts.ack_interval
        after = parse_checkpoint(opts.after) if opts.after is not None else None
        seen = self._confirmed  # transactions delivered end by here
        in_flight: deque[tuple[int, int]] = deque()  # (end, rows) delivered, not yet confirmed
        idle_since = time.monotonic()
        while True:
            self._wake = anyio.Event()  # before the read, so a notify during it is not missed
            await self._flush(conn)
            confirmed = self._confirmed
            while in_flight and in_flight[0][0] <= confirmed:
                in_flight.popleft()
            # Unconfirmed transactions come back first in every read: read past them.
            limit = opts.batch_size + sum(rows for _end, rows in in_flight)
            transactions = await self._peek(conn, None, limit)
            fresh = [t for t in transactions if t.end > seen]
            if not fresh:
                if ledger.idle and time.monotonic() - idle_since >= opts.heartbeat:
                    await self._heartbeat(conn)
                    idle_since = time.monotonic()
                with anyio.move_on_after(opts.poll_interval):
                    await self._wake.wait()
                continue
            idle_since = time.monotonic()
            for transaction in fresh:
                seen = transaction.end
                changes = transaction.changes
                if after is not None and transaction.end <= after[0]:
                    keep = after[1] if transaction.end == after[0] else len(changes)
                    changes = changes[keep:]
                if not changes:
                    ledger.skipped(transaction.end)
                    continue
                in_flight.append((transaction.end, transaction.rows))
                for change in changes:
                    ledger.delivered(change, transaction.end)
                    yield change
                    # The consumer asked for the next item: it is done with this one.
                    if auto:
                        ledger.processed(change.checkpoint)
                        self.checkpoint = change.checkpoint
                    if ledger.safe > self._confirmed and (
                        interval == 0 or time.monotonic() - self._advanced_at >= interval
                    ):
                        await self._flush(conn)

    async def _heartbeat(self, conn: asyncpg.Connection) -> None:
        """Advance an idle slot to the current WAL position, so it retains no old WAL.

        The position is taken first; a read up to it that finds nothing
        proves no transaction committed before it is still to come, so the
        advance cannot skip one that commits meanwhile.
        """
        here = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
        assert isinstance(here, str)
        assert self._ledger is not None
        if parse_lsn(here) <= self._confirmed:
            return
        if await self._peek(conn, here, 1):
            return  # something arrived: the loop reads it
        self._ledger.skipped(parse_lsn(here))
        await self._flush(conn)

    # -- SQL -------------------------------------------------------------

    async def _connect(self) -> asyncpg.Connection:
        target = self._target
        if isinstance(target, str):
            try:
                conn: asyncpg.Connection = await asyncpg.connect(
                    target,
                    server_settings={"application_name": f"sluiceway changes {self._opts.slot}"},
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise ChangeStreamError(
                    f"cannot connect to PostgreSQL for {self.where}: {exc}", source=self.where
                ) from exc
            return conn
        return target

    async def _prepare(self, conn: asyncpg.Connection) -> None:
        """Check the server and the slot (creating it if asked); read the acknowledged position."""
        opts = self._opts
        slot = opts.slot
        level = await conn.fetchval("SHOW wal_level")
        if level != "logical":
            raise ChangeStreamError(
                f"PostgreSQL has wal_level = {level}; change streams need wal_level = logical "
                "(ALTER SYSTEM SET wal_level = logical, then restart the server; "
                "`make services` does it on a development machine)",
                source=self.where,
            )
        row = await conn.fetchrow(_SLOT, slot)
        if row is None:
            if not opts.create_slot:
                raise HistoryLost(
                    f"{self.where} does not exist: the changes since it was dropped (if it "
                    "ever existed) are lost; create it with create_slot=True to start from "
                    "the current position",
                    source=self.where,
                )
            try:
                await conn.execute(
                    "SELECT pg_create_logical_replication_slot($1, 'wal2json')", slot
                )
            except asyncpg.DuplicateObjectError:
                pass  # created meanwhile by another process: use it
            except asyncpg.PostgresError as exc:
                raise slot_error(exc, self.where) from exc
            row = await conn.fetchrow(_SLOT, slot)
            assert row is not None
        if row["slot_type"] != "logical" or row["plugin"] != "wal2json":
            raise ChangeStreamError(
                f"{self.where} is a {row['slot_type']} slot with plugin {row['plugin']!r}; "
                "postgres_changes() needs a logical slot that uses wal2json",
                source=self.where,
            )
        if row["database"] != row["here"]:
            raise ChangeStreamError(
                f"{self.where} belongs to database {row['database']!r}, not {row['here']!r}: "
                "connect to that database",
                source=self.where,
            )
        if row["wal_status"] == "lost" or row["confirmed_flush_lsn"] is None:
            raise HistoryLost(
                f"{self.where} was invalidated (wal_status = {row['wal_status']!r}): the WAL it "
                "needed was removed, so changes are lost (see max_slot_wal_keep_size); drop it "
                "with pg_drop_replication_slot() and start over from a snapshot",
                source=self.where,
            )
        self.confirmed_lsn = row["confirmed_flush_lsn"]
        self._confirmed = parse_lsn(row["confirmed_flush_lsn"])
        self._ledger = Ledger(self._confirmed)
        self._advanced_at = time.monotonic()  # ack_interval counts from the start

    async def _peek(
        self, conn: asyncpg.Connection, upto: str | None, limit: int
    ) -> list[Transaction]:
        opts = self._opts
        args: list[Any] = [opts.slot, upto, limit]
        tables = ""
        if opts.tables is not None:
            tables = ", 'add-tables', $4"
            args.append(opts.tables)
        try:
            rows: Sequence[Any] = await conn.fetch(_PEEK.format(tables=tables), *args)
        except DRIVER_ERRORS as exc:
            raise slot_error(exc, self.where) from exc
        return parse_transactions((row[0], row[1]) for row in rows)


class ChangeStream(Stream[Change]):
    """The Stream of changes :func:`postgres_changes` returns, with its position.

    ``checkpoint`` is the checkpoint of the last change known to be processed
    (None before the first), ``confirmed_lsn`` the slot's acknowledged
    position on the server (``X/Y``; None until the stream has started).
    """

    __slots__ = ("_source",)

    def __init__(self, source: _SlotReadLoop) -> None:
        super().__init__(source)
        self._source = source

    @property
    def slot(self) -> str:
        """The replication slot's name."""
        return self._source.slot

    @property
    def checkpoint(self) -> str | None:
        return self._source.checkpoint

    @property
    def confirmed_lsn(self) -> str | None:
        return self._source.confirmed_lsn

    def ack(self, change: Change) -> None:
        """Mark ``change``, and every change delivered before it, as processed.

        Needed only with ``auto_ack=False``; with the default, asking for the
        next change acknowledges the previous one. The slot advances (at
        transaction ends) at the stream's next read, idle wake-up or close.

        Raises:
            ValueError: ``change`` was not delivered by this stream yet.
        """
        self._source.ack(change)


def _quote_table(name: str) -> str:
    """A wal2json add-tables entry: ``schema.table`` as given, a bare name in any schema."""
    name = name.strip()
    if not name:
        raise ValueError("postgres_changes() tables= has an empty name")
    escaped = name.replace("\\", "\\\\").replace(",", "\\,")
    return escaped if "." in name else f"*.{escaped}"


def _check_tables(tables: str | Iterable[str] | None) -> str | None:
    if tables is None:
        return None
    names: list[object] = [tables] if isinstance(tables, str) else list(tables)
    quoted: list[str] = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                f"postgres_changes() expects tables= as table names (str), got {name!r}"
            )
        quoted.append(_quote_table(name))
    if not quoted:
        raise ValueError("postgres_changes() tables= names no table")
    return ",".join(quoted)


def _check_interval(value: object) -> float:
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return check_seconds(value, "postgres_changes", "ack_interval")


def _is_connection_or_dsn(value: object) -> bool:
    return isinstance(value, str | asyncpg.Connection)


def _is_slot_name(value: object) -> bool:
    return isinstance(value, str) and _SLOT_NAME.fullmatch(value) is not None


def postgres_changes(
    conn_or_dsn: str | asyncpg.Connection,
    *,
    slot: str,
    tables: str | Iterable[str] | None = None,
    create_slot: bool = True,
    after: str | None = None,
    auto_ack: bool = True,
    ack_interval: float = 0.0,
    batch_size: int = 1000,
    poll_interval: float = 0.5,
    channel: str | None = DEFAULT_CHANNEL,
    heartbeat: float = 10.0,
) -> ChangeStream:
    """A durable, resumable stream of the row changes committed in a PostgreSQL database.

    Reads the logical replication slot ``slot`` through the wal2json output
    plugin (the server needs ``wal_level = logical`` and wal2json installed)
    with plain SQL over asyncpg. Changes come in commit order, each
    transaction's changes together. The slot is advanced, on the server, only
    past transactions whose every change has been processed: after a crash
    the next stream starts with the first transaction not fully processed, so
    nothing is lost and only changes after the last acknowledgement repeat.

    A change counts as processed when the consumer asks for the next one, or
    when ``async with stream:`` (or a terminal operation on this stream) ends
    without an exception. With ``auto_ack=False`` nothing counts until
    :meth:`ChangeStream.ack`: use it when an operator reads ahead of your
    processing (``prefetch``, ``batch``, ``map(concurrency=n)``).

    While there is nothing to read, the stream waits for a ``NOTIFY`` on
    ``channel`` (a hint: see :func:`add_wakeup_trigger`) or ``poll_interval``
    seconds, whichever comes first. A slot keeps the server's WAL until it is
    advanced, so an abandoned slot fills the disk (unless
    ``max_slot_wal_keep_size`` is set, which invalidates it instead): drop
    slots you no longer read with ``pg_drop_replication_slot``.

    Args:
        conn_or_dsn: an asyncpg connection used by this stream alone while it
            runs, or a DSN (the stream then opens and closes its own).
        slot: the replication slot's name (lower-case letters, digits, ``_``).
        tables: only changes of these tables (``"schema.table"``, or a bare
            name for that table in any schema; ``*`` is a wildcard).
        create_slot: create a missing slot at the current WAL position;
            with False a missing slot raises HistoryLost.
        after: a ``Change.checkpoint`` already processed: changes up to it
            are skipped (for callers that store their own per-change position).
        auto_ack: acknowledge a change when the next one is asked for.
        ack_interval: 0 (the default) advances the slot as soon as a
            transaction is processed: a crash then repeats at most the
            transaction in hand. Each advance is a round trip that decodes
            WAL on the server (about 0.3 ms here), which caps the stream at a
            few thousand transactions a second; with ``ack_interval=1.0`` the
            slot advances at most once a second (and always before waiting
            and at close), so a crash may repeat up to a second of changes.
        batch_size: at most this many wal2json rows per read (a transaction
            is always read whole, so one read may hold more).
        poll_interval: seconds between reads while no notification comes.
        channel: the LISTEN channel that wakes an idle stream (None: poll only).
        heartbeat: seconds of idleness after which the slot is advanced to the
            current WAL position, so a quiet database retains no WAL.

    Raises:
        HistoryLost: while iterating, when the slot is missing (and not to be
            created), dropped, or invalidated.
        ChangeStreamError: when the server is not set up for logical decoding
            (wal_level, wal2json), the slot is of another kind or database, or
            another consumer uses the slot.
    """
    if not _is_connection_or_dsn(conn_or_dsn):
        raise TypeError(
            "postgres_changes() expects an asyncpg connection or a DSN string, got "
            f"{type(conn_or_dsn).__name__}"
        )
    if not _is_slot_name(slot):
        raise ValueError(
            f"postgres_changes() expects slot= as 1-63 lower-case letters, digits or '_', "
            f"got {slot!r}"
        )
    if after is not None:
        parse_checkpoint(after)
    options = _Options(
        slot=slot,
        tables=_check_tables(tables),
        create_slot=bool(create_slot),
        after=after,
        auto_ack=bool(auto_ack),
        ack_interval=_check_interval(ack_interval),
        batch_size=check_count(batch_size, "postgres_changes", "batch_size", minimum=1),
        poll_interval=check_seconds(poll_interval, "postgres_changes", "poll_interval"),
        channel=channel,
        heartbeat=check_seconds(heartbeat, "postgres_changes", "heartbeat"),
    )
    return ChangeStream(_SlotReadLoop(conn_or_dsn, options))
