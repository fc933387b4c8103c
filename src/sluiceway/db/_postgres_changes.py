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

The sans-I/O part (:func:`parse_transactions`, :class:`Ledger`) turns wal2json
rows into :class:`Change` values and keeps the book of what may be
acknowledged; :class:`_Source` is the asyncpg adapter.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .._core._callables import check_count, check_seconds
from .._core._nodes import Source
from .._stream import Stream
from ..errors import ChangeStreamError, HistoryLost

try:
    import asyncpg
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sluiceway.db.postgres_changes needs asyncpg: pip install 'sluiceway[postgres]'"
    ) from None

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Sequence

    from .._core._scope import Scope

__all__ = [
    "DEFAULT_CHANNEL",
    "Change",
    "ChangeStream",
    "Ledger",
    "Transaction",
    "add_wakeup_trigger",
    "drop_wakeup_trigger",
    "format_lsn",
    "parse_lsn",
    "parse_transactions",
    "postgres_changes",
]

#: The LISTEN channel a stream wakes up on, and the one add_wakeup_trigger() notifies.
DEFAULT_CHANNEL = "sluiceway_changes"

Operation = Literal["insert", "update", "delete", "truncate"]

_OPERATIONS: dict[str, Operation] = {
    "I": "insert",
    "U": "update",
    "D": "delete",
    "T": "truncate",
}
#: One decoder for every row (json.loads(..., parse_float=) would build one per call).
_decode = json.JSONDecoder(parse_float=Decimal).decode
_FLOAT_TYPES = frozenset({"real", "double precision", "float4", "float8"})
_SLOT_NAME = re.compile(r"[a-z0-9_]{1,63}")
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_lsn(text: str) -> int:
    """A PostgreSQL LSN (``"16/B374D848"``) as an int; ValueError if malformed."""
    match = _LSN.fullmatch(text)
    if match is None:
        raise ValueError(f"not a PostgreSQL LSN: {text!r} (expected like '16/B374D848')")
    return int(match[1], 16) << 32 | int(match[2], 16)


def format_lsn(value: int) -> str:
    """An int LSN in PostgreSQL's ``X/Y`` form."""
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(frozen=True, slots=True)
class Change:
    """One row change decoded from the WAL (wal2json format 2).

    Attributes:
        table: the schema-qualified table, e.g. ``"public.orders"``.
        operation: ``"insert"``, ``"update"``, ``"delete"`` or ``"truncate"``.
        new: the row after an insert or update (column -> value), else None.
            Values are wal2json's: JSON numbers, booleans and nulls as such
            (``numeric`` as ``Decimal``), every other type as PostgreSQL's
            text form (timestamps, ``jsonb``, arrays are strings). An
            unchanged TOASTed column of an update is left out.
        old: the row's identity before an update or delete (column ->
            value), as the table's ``REPLICA IDENTITY`` says: the primary key
            columns by default, every column with ``FULL``; None for an
            insert, and with ``NOTHING``. A table without a primary key needs
            ``REPLICA IDENTITY FULL`` (or ``USING INDEX``) for its updates
            and deletes to carry an old row at all.
        xid: the transaction id.
        lsn: where this change is in the WAL (``X/Y``).
        commit_lsn: the end of the transaction's commit record (``X/Y``): the
            slot is advanced there once the whole transaction is processed.
        commit_time: when the transaction committed (timezone-aware), if known.
        checkpoint: an opaque, ordered position of this change (transaction
            and index in it), for ``postgres_changes(after=...)``.
        ends_transaction: whether this is the last change of its transaction
            that the stream delivers.
    """

    table: str
    operation: Operation
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    xid: int
    lsn: str
    commit_lsn: str
    commit_time: datetime | None
    checkpoint: str
    ends_transaction: bool = field(default=False, repr=False)


def _parse_checkpoint(text: str) -> tuple[int, int]:
    lsn, hash_, index = text.partition("#")
    if not hash_ or not index.isdigit():
        raise ValueError(f"not a change checkpoint: {text!r} (from Change.checkpoint)")
    return parse_lsn(lsn), int(index)


@dataclass(slots=True)
class Transaction:
    """The decoded rows of one committed transaction."""

    xid: int
    end: int  #: the end of the commit record: where the slot may be advanced to
    rows: int  #: wal2json rows it took (begin, changes, messages, commit)
    changes: list[Change]


def _values(items: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if items is None:
        return None
    values: dict[str, Any] = {}
    for item in items:
        value = item.get("value")
        kind = item.get("type", "")
        if isinstance(value, Decimal) and kind in _FLOAT_TYPES:
            value = float(value)
        elif type(value) is int and kind.startswith("numeric"):
            value = Decimal(value)  # numeric(10,2) = 2 came as a JSON integer
        values[item["name"]] = value
    return values


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_transactions(rows: Iterable[tuple[str, str]]) -> list[Transaction]:
    """Committed transactions from wal2json format-2 rows ``(lsn, data)``.

    Rows come as ``pg_logical_slot_peek_changes`` returns them: whole
    transactions, each from its begin (``B``) to its commit (``C``) row, whose
    ``lsn`` column is the end of the commit record. Messages (``M``) are
    skipped. Raises ChangeStreamError on rows that do not follow that shape.
    """
    done: list[Transaction] = []
    pending: list[dict[str, Any]] = []
    began = False
    count = 0
    for lsn, data in rows:
        record = _decode(data)
        action = record.get("action")
        count += 1
        if action == "B":
            began, pending, count = True, [], 1
        elif action == "C":
            if not began:
                raise ChangeStreamError(
                    f"wal2json output has a commit without a begin at {lsn}", source="wal2json"
                )
            end = parse_lsn(lsn)
            commit_lsn = format_lsn(end)
            commit_time = _time(record.get("timestamp"))
            xid = int(record.get("xid", 0))
            changes: list[Change] = []
            last = len(pending)
            for index, item in enumerate(pending, 1):
                changes.append(
                    Change(
                        f"{item['schema']}.{item['table']}",
                        _OPERATIONS[item["action"]],
                        _values(item.get("columns")),
                        _values(item.get("identity")),
                        xid,
                        item.get("lsn", lsn),
                        commit_lsn,
                        commit_time,
                        f"{commit_lsn}#{index}",
                        index == last,
                    )
                )
            done.append(Transaction(xid, end, count, changes))
            began, pending = False, []
        elif action in _OPERATIONS:
            pending.append(record)
        # "M" (pg_logical_emit_message) and anything newer: not a row change
    return done


class Ledger:
    """What was delivered, what was processed, and how far the slot may advance.

    Acknowledgements are cumulative: ``processed(checkpoint)`` covers every
    change delivered up to and including it. The slot may advance to the end
    of a transaction once all its changes are processed (``safe``).
    """

    __slots__ = ("_pending", "safe")

    def __init__(self, confirmed: int) -> None:
        #: (checkpoint or None for a transaction with nothing delivered, end, ends it)
        self._pending: deque[tuple[str | None, int, bool]] = deque()
        self.safe = confirmed

    def delivered(self, change: Change, end: int) -> None:
        """``change``, of the transaction ending at ``end``, was handed to the consumer."""
        self._pending.append((change.checkpoint, end, change.ends_transaction))

    def skipped(self, end: int) -> None:
        """A transaction ending at ``end`` had nothing to deliver (filtered, or before after=)."""
        if self._pending:
            self._pending.append((None, end, True))
        else:
            self.safe = max(self.safe, end)

    def processed(self, checkpoint: str) -> bool:
        """Everything delivered up to and including ``checkpoint`` is processed.

        Returns False (and changes nothing) when ``checkpoint`` is not waiting.
        """
        pending = self._pending
        if not pending:
            return False
        if pending[-1][0] == checkpoint:  # the usual case: everything delivered so far
            for _key, end, ends in reversed(pending):  # the last whole transaction in it
                if ends:
                    self.safe = max(self.safe, end)
                    break
            pending.clear()
            return True
        if not any(entry[0] == checkpoint for entry in pending):
            return False
        while pending:
            key, end, ends = pending.popleft()
            if ends:
                self.safe = max(self.safe, end)
            if key == checkpoint:
                break
        while pending and pending[0][0] is None:  # empty transactions right after it
            self.safe = max(self.safe, pending.popleft()[1])
        return True

    def last_delivered(self) -> str | None:
        """The checkpoint of the last change delivered and not yet processed."""
        for key, _end, _ends in reversed(self._pending):
            if key is not None:
                return key
        return None

    @property
    def idle(self) -> bool:
        """Nothing delivered is waiting to be processed."""
        return not self._pending


def _quote_table(name: str) -> str:
    """A wal2json add-tables entry: ``schema.table`` as given, a bare name in any schema."""
    name = name.strip()
    if not name:
        raise ValueError("postgres_changes() tables= has an empty name")
    escaped = name.replace("\\", "\\\\").replace(",", "\\,")
    return escaped if "." in name else f"*.{escaped}"


#: What a read or an acknowledgement may raise: translated at the boundary.
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
_CONNECTION_ERRORS = (
    asyncpg.InterfaceError,
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # terminated by an administrator, shutdown
)

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


class _Source(Source):
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

    def __init__(self, target: str | asyncpg.Connection, options: dict[str, Any]) -> None:
        super().__init__()
        self._target = target
        self._opts = options
        self._own_conn = isinstance(target, str)
        self._ledger: Ledger | None = None
        self._wake = anyio.Event()
        self._advanced_at = 0.0
        #: The checkpoint of the last change known to be processed.
        self.checkpoint: str | None = options["after"]
        #: The slot's acknowledged position (``X/Y``), once known.
        self.confirmed_lsn: str | None = None
        self._confirmed = 0  # the same, as an int
        self.clean_exit = False

    @property
    def where(self) -> str:
        return f"replication slot {self._opts['slot']!r}"

    @property
    def slot(self) -> str:
        return str(self._opts["slot"])

    def describe(self) -> str:
        return f"postgres_changes(slot={self._opts['slot']!r})"

    def on_leave(self, leaving: BaseException | None) -> None:
        # Leaving `async with` (or a terminal operation) without an error means
        # the consumer is done with the last change it was given.
        if leaving is None:
            self.clean_exit = True

    def run(self, scope: Scope | None) -> AsyncIterator[Change]:
        return self._changes()

    # -- acknowledging ---------------------------------------------------

    def ack(self, change: Change) -> None:
        ledger = self._ledger
        if ledger is not None and ledger.processed(change.checkpoint):
            self.checkpoint = change.checkpoint
            self._wake.set()  # an idle loop sends the acknowledgement now
            return
        done = self.checkpoint
        if done is None or _parse_checkpoint(change.checkpoint) > _parse_checkpoint(done):
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
                self._opts["slot"],
                format_lsn(safe),
            )
        except _DRIVER_ERRORS as exc:
            raise self._translate(exc) from exc
        self.confirmed_lsn = str(moved)
        self._confirmed = parse_lsn(self.confirmed_lsn)
        self._advanced_at = time.monotonic()

    # -- the loop --------------------------------------------------------

    async def _changes(self) -> AsyncIterator[Change]:
        opts = self._opts
        conn: asyncpg.Connection | None = None
        listening = False
        failing = False
        try:
            conn = await self._connect()
            await self._prepare(conn)
            channel: str | None = opts["channel"]
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
                if self.clean_exit and self._opts["auto_ack"]:
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
                if listening and not conn.is_closed():
                    await conn.remove_listener(self._opts["channel"], self._notified)
            finally:
                if self._own_conn:
                    await conn.close()

    def _notified(self, *_args: object) -> None:
        self._wake.set()

    async def _loop(self, conn: asyncpg.Connection) -> AsyncIterator[Change]:
        opts = self._opts
        ledger = self._ledger
        assert ledger is not None
        auto = opts["auto_ack"]
        interval = opts["ack_interval"]
        after = _parse_checkpoint(opts["after"]) if opts["after"] is not None else None
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
            limit = opts["batch_size"] + sum(rows for _end, rows in in_flight)
            transactions = await self._peek(conn, None, limit)
            fresh = [t for t in transactions if t.end > seen]
            if not fresh:
                if ledger.idle and time.monotonic() - idle_since >= opts["heartbeat"]:
                    await self._heartbeat(conn)
                    idle_since = time.monotonic()
                with anyio.move_on_after(opts["poll_interval"]):
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
                    server_settings={"application_name": f"sluiceway changes {self._opts['slot']}"},
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
        slot = opts["slot"]
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
            if not opts["create_slot"]:
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
                raise self._translate(exc) from exc
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
        args: list[Any] = [opts["slot"], upto, limit]
        tables = ""
        if opts["tables"] is not None:
            tables = ", 'add-tables', $4"
            args.append(opts["tables"])
        try:
            rows: Sequence[Any] = await conn.fetch(_PEEK.format(tables=tables), *args)
        except _DRIVER_ERRORS as exc:
            raise self._translate(exc) from exc
        return parse_transactions((row[0], row[1]) for row in rows)

    def _translate(self, exc: Exception) -> ChangeStreamError:
        """A driver error as the change-stream error that says what to do."""
        message = str(exc)
        where = self.where
        if isinstance(exc, _CONNECTION_ERRORS):
            return ChangeStreamError(
                f"{where}: the connection to PostgreSQL was lost ({type(exc).__name__}: "
                f"{message}); a new stream resumes after the last acknowledged transaction",
                source=where,
            )
        if isinstance(exc, asyncpg.UndefinedObjectError) and "replication slot" in message:
            return HistoryLost(
                f"{where} does not exist any more (dropped while in use?): {message}",
                source=where,
            )
        if "can no longer get changes" in message or "cannot be advanced" in message:
            return HistoryLost(
                f"{where} was invalidated: {message}; the changes since its last "
                "acknowledgement are lost (see max_slot_wal_keep_size)",
                source=where,
            )
        if "wal2json" in message and (
            "could not access file" in message or "No such file" in message
        ):
            return ChangeStreamError(
                f"{where}: the wal2json output plugin is not installed on the server ({message}); "
                "install it (Debian: apt-get install postgresql-<version>-wal2json; "
                "`make services` does it on a development machine)",
                source=where,
            )
        if "may not be used as an output plugin" in message:
            return ChangeStreamError(
                f"{where}: the server does not allow wal2json as an output plugin ({message}); "
                "add it to output_plugin_libraries and reload (`make services` does it)",
                source=where,
            )
        if "is active for PID" in message:
            return ChangeStreamError(
                f"{where} is in use by another process ({message}); one consumer per slot",
                source=where,
            )
        if "cannot advance replication slot" in message:
            return ChangeStreamError(
                f"{where} was moved by someone else ({message}); one consumer per slot",
                source=where,
            )
        return ChangeStreamError(f"{where}: {message}", source=where)


class ChangeStream(Stream[Change]):
    """The Stream of changes :func:`postgres_changes` returns, with its position.

    ``checkpoint`` is the checkpoint of the last change known to be processed
    (None before the first), ``confirmed_lsn`` the slot's acknowledged
    position on the server (``X/Y``; None until the stream has started).
    """

    __slots__ = ("_source",)

    def __init__(self, source: _Source) -> None:
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
        _parse_checkpoint(after)
    options: dict[str, Any] = {
        "slot": slot,
        "tables": _check_tables(tables),
        "create_slot": bool(create_slot),
        "after": after,
        "auto_ack": bool(auto_ack),
        "ack_interval": _check_interval(ack_interval),
        "batch_size": check_count(batch_size, "postgres_changes", "batch_size", minimum=1),
        "poll_interval": check_seconds(poll_interval, "postgres_changes", "poll_interval"),
        "channel": channel,
        "heartbeat": check_seconds(heartbeat, "postgres_changes", "heartbeat"),
    }
    return ChangeStream(_Source(conn_or_dsn, options))


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    return ".".join(_identifier(part) for part in table.split(".", 1))


def _trigger_names(table: str, channel: str) -> tuple[str, str]:
    base = re.sub(r"[^a-z0-9_]", "_", f"{table}_{channel}".lower())[:40]
    return f"sluiceway_wake_{base}", "sluiceway_notify"


async def add_wakeup_trigger(
    conn: asyncpg.Connection, table: str, *, channel: str = DEFAULT_CHANNEL
) -> None:
    """Install a statement trigger on ``table`` that sends ``NOTIFY channel`` on every write.

    An idle :func:`postgres_changes` stream then reads a committed change at
    once instead of at its next poll. PostgreSQL delivers a notification at
    commit and folds repeats within a transaction into one, so a write costs
    one notification per statement at most. Without the trigger, your own
    code can ``SELECT pg_notify('sluiceway_changes', '')`` after committing.
    Run it as the table's owner; calling it again replaces the trigger.
    """
    trigger, function = _trigger_names(table, channel)
    await conn.execute(
        f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(TG_ARGV[0], '');
            RETURN NULL;
        END $$;
        CREATE OR REPLACE TRIGGER {trigger}
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {_qualified(table)}
            FOR EACH STATEMENT EXECUTE FUNCTION {function}({_literal(channel)});
        """
    )


async def drop_wakeup_trigger(
    conn: asyncpg.Connection, table: str, *, channel: str = DEFAULT_CHANNEL
) -> None:
    """Remove the trigger :func:`add_wakeup_trigger` installed (if it is there)."""
    trigger, _function = _trigger_names(table, channel)
    await conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {_qualified(table)}")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
