"""Slot function errors: told apart by SQLSTATE, translated into errors that say what to do.

The SQLSTATEs and messages below are PostgreSQL 15's own, each provoked on a
real server: the shared test server for what a session can provoke by
itself, a scratch cluster of the tests' own for an invalidated slot (which
needs ``max_slot_wal_keep_size``, a setting of the whole server).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from changes_support import make_slot, sql
from scratch_postgres import allow_wal2json, burn_wal, scratch_cluster

from sluiceway.db import Change, postgres_changes
from sluiceway.db._postgres_changes import ChangeStream
from sluiceway.db._slot_errors import SlotFault, classify, fault_of, slot_error
from sluiceway.errors import ChangeStreamError, HistoryLost

WHERE = "replication slot 'orders'"

#: (SQLSTATE, message) as PostgreSQL 15 words them, and what each means.
SERVER_ERRORS: list[tuple[str, str, SlotFault]] = [
    ("42704", 'replication slot "orders" does not exist', SlotFault.SLOT_MISSING),
    (
        "55000",
        'can no longer get changes from replication slot "orders"',
        SlotFault.SLOT_INVALIDATED,
    ),
    ("55000", 'replication slot "orders" cannot be advanced', SlotFault.SLOT_INVALIDATED),
    (
        "55000",
        "cannot advance replication slot to 0/1, minimum is 0/1F72E58",
        SlotFault.SLOT_MOVED,
    ),
    ("55006", 'replication slot "orders" is active for PID 4242', SlotFault.SLOT_IN_USE),
    (
        "58P01",
        'could not access file "wal2json": No such file or directory',
        SlotFault.PLUGIN_MISSING,
    ),
    (
        "42501",
        'library "wal2json" may not be used as an output plugin',
        SlotFault.PLUGIN_NOT_ALLOWED,
    ),
    ("57P01", "terminating connection due to administrator command", SlotFault.CONNECTION_LOST),
    ("08006", "connection failure", SlotFault.CONNECTION_LOST),
    # One SQLSTATE, another cause: the message tells them apart.
    ("42704", 'type "nope" does not exist', SlotFault.OTHER),
    ("55000", "cannot use physical replication slot for logical decoding", SlotFault.OTHER),
    ("55000", "logical decoding requires wal_level >= logical", SlotFault.OTHER),
    (
        "58P01",
        "requested WAL segment pg_wal/000000010000000000000002 has already been removed",
        SlotFault.OTHER,
    ),
    (
        "42501",
        "must be superuser or replication role to use replication slots",
        SlotFault.OTHER,
    ),
    # The message alone decides nothing.
    ("XX000", 'replication slot "orders" cannot be advanced', SlotFault.OTHER),
    ("22023", 'could not access file "wal2json"', SlotFault.OTHER),
]


class TestClassify:
    @pytest.mark.parametrize(("sqlstate", "message", "fault"), SERVER_ERRORS)
    def test_sqlstate_decides_and_the_message_only_within_it(
        self, sqlstate: str, message: str, fault: SlotFault
    ) -> None:
        """Each server error maps to its fault; a shared SQLSTATE is split by its message."""
        assert classify(sqlstate, message) is fault

    @pytest.mark.parametrize(
        "error",
        [
            asyncpg.InterfaceError("connection is closed"),
            asyncpg.exceptions.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation"
            ),
            asyncpg.exceptions.AdminShutdownError("terminating connection"),
            ConnectionResetError(104, "Connection reset by peer"),
        ],
        ids=type,
    )
    def test_client_side_failures_are_a_lost_connection(self, error: Exception) -> None:
        """asyncpg's interface errors and socket errors mean the connection is gone."""
        assert fault_of(error) is SlotFault.CONNECTION_LOST

    def test_an_unknown_sqlstate_is_read_from_the_instance(self) -> None:
        """A server error asyncpg has no class for still carries its SQLSTATE."""
        # As asyncpg builds it from the server's message fields (C: SQLSTATE, M: message).
        error = asyncpg.PostgresError.new({"C": "08P99", "M": "a new kind", "S": "FATAL"})
        assert type(error) is asyncpg.exceptions.UnknownPostgresError
        assert fault_of(error) is SlotFault.CONNECTION_LOST

    def test_anything_else_is_other(self) -> None:
        """An exception from neither asyncpg nor the socket is not classified."""
        assert fault_of(ValueError("replication slot does not exist")) is SlotFault.OTHER


class TestTranslate:
    @pytest.mark.parametrize(
        ("error", "expected", "words"),
        [
            (
                asyncpg.exceptions.ObjectNotInPrerequisiteStateError(
                    'can no longer get changes from replication slot "orders"'
                ),
                HistoryLost,
                "max_slot_wal_keep_size",
            ),
            (
                asyncpg.exceptions.ObjectNotInPrerequisiteStateError(
                    'replication slot "orders" cannot be advanced'
                ),
                HistoryLost,
                "invalidated",
            ),
            (
                asyncpg.UndefinedObjectError('replication slot "orders" does not exist'),
                HistoryLost,
                "does not exist any more",
            ),
            (
                asyncpg.exceptions.UndefinedFileError(
                    'could not access file "wal2json": No such file or directory'
                ),
                ChangeStreamError,
                "apt-get install postgresql-<version>-wal2json",
            ),
            (
                asyncpg.exceptions.InsufficientPrivilegeError(
                    'library "wal2json" may not be used as an output plugin'
                ),
                ChangeStreamError,
                "output_plugin_libraries",
            ),
            (
                asyncpg.exceptions.ObjectInUseError(
                    'replication slot "orders" is active for PID 4242'
                ),
                ChangeStreamError,
                "one consumer per slot",
            ),
            (
                asyncpg.exceptions.ObjectNotInPrerequisiteStateError(
                    "cannot advance replication slot to 0/1D9D2F0, minimum is 0/1D9D3A8"
                ),
                ChangeStreamError,
                "moved by someone else",
            ),
            (
                asyncpg.exceptions.AdminShutdownError(
                    "terminating connection due to administrator command"
                ),
                ChangeStreamError,
                "connection to PostgreSQL was lost (AdminShutdownError",
            ),
            (
                asyncpg.exceptions.InsufficientPrivilegeError(
                    "must be superuser or replication role to use replication slots"
                ),
                ChangeStreamError,
                "'orders': must be superuser or replication role",
            ),
        ],
    )
    def test_translation(
        self, error: asyncpg.PostgresError, expected: type[Exception], words: str
    ) -> None:
        """Each server error maps to its typed error, naming the slot and the remedy."""
        translated = slot_error(error, WHERE)
        assert type(translated) is expected
        assert words in str(translated)
        assert "'orders'" in str(translated)
        assert translated.source == WHERE

    async def test_wal_level_not_logical(self) -> None:
        """A server without wal_level = logical is refused with how to fix it.

        The real server here has logical decoding on, and tests do not change
        its configuration, so this one answers SHOW wal_level with a stand-in.
        """

        class Replica:
            async def fetchval(self, query: str) -> str:
                assert query == "SHOW wal_level"
                return "replica"

        node = postgres_changes("postgresql://127.0.0.1/test", slot="orders")._source  # pyright: ignore[reportPrivateUsage]
        with pytest.raises(ChangeStreamError, match=r"wal_level = replica.*make services"):
            await node._prepare(Replica())  # type: ignore[arg-type]  # pyright: ignore[reportPrivateUsage]


async def server_error(conn: Any, query: str, *args: object) -> asyncpg.PostgresError:
    """What the server raises for ``query``."""
    with pytest.raises(asyncpg.PostgresError) as info:
        await conn.fetch(query, *args)
    return info.value


def cause(error: BaseException) -> Any:
    """The driver's exception a change-stream error was raised from."""
    assert error.__cause__ is not None
    return error.__cause__


class TestOnTheServer:
    """Each case provoked on the shared server, within a session or a slot of the test's own."""

    async def test_a_missing_slot(self, conn: Any, slot: str) -> None:
        """Reading or advancing a slot that does not exist: 42704, HistoryLost."""
        for query in (
            "SELECT * FROM pg_logical_slot_peek_changes($1, NULL, 1)",
            "SELECT * FROM pg_replication_slot_advance($1, pg_current_wal_lsn())",
        ):
            error = await server_error(conn, query, slot)
            assert error.sqlstate == "42704"
            assert fault_of(error) is SlotFault.SLOT_MISSING
            assert type(slot_error(error, WHERE)) is HistoryLost

    async def test_a_slot_that_cannot_be_advanced(self, conn: Any, slot: str) -> None:
        """A slot without reserved WAL (here a physical one) cannot be advanced: 55000.

        An invalidated logical slot says the same words (see TestInvalidatedSlot).
        """
        await conn.execute("SELECT pg_create_physical_replication_slot($1)", slot)
        error = await server_error(
            conn, "SELECT * FROM pg_replication_slot_advance($1, pg_current_wal_lsn())", slot
        )
        assert error.sqlstate == "55000"
        assert "cannot be advanced" in str(error)
        assert type(slot_error(error, WHERE)) is HistoryLost

    async def test_a_physical_slot_is_no_history_lost(self, conn: Any, slot: str) -> None:
        """Decoding a physical slot is 55000 too, but another cause: a plain ChangeStreamError."""
        await conn.execute("SELECT pg_create_physical_replication_slot($1)", slot)
        error = await server_error(
            conn, "SELECT * FROM pg_logical_slot_peek_changes($1, NULL, 1)", slot
        )
        assert error.sqlstate == "55000"
        assert fault_of(error) is SlotFault.OTHER
        assert type(slot_error(error, WHERE)) is ChangeStreamError

    async def test_a_role_without_replication(self, dsn: str, conn: Any, slot: str) -> None:
        """A role that may not use slots: 42501, the server's words in a ChangeStreamError."""
        make_slot(dsn, slot)
        await conn.execute("SET ROLE pg_monitor")  # a built-in role without REPLICATION
        try:
            error = await server_error(
                conn, "SELECT * FROM pg_logical_slot_peek_changes($1, NULL, 1)", slot
            )
        finally:
            await conn.execute("RESET ROLE")
        assert error.sqlstate == "42501"
        assert fault_of(error) is SlotFault.OTHER
        assert "replication role" in str(slot_error(error, WHERE))

    async def test_a_slot_in_use_by_another_session(self, dsn: str, conn: Any, slot: str) -> None:
        """A slot another session holds: 55006, one consumer per slot."""
        # A temporary slot stays acquired by the session that made it, until it ends.
        await conn.execute("SELECT pg_create_logical_replication_slot($1, 'wal2json', true)", slot)
        try:
            with pytest.raises(ChangeStreamError, match="in use by another process") as info:
                await postgres_changes(dsn, slot=slot, create_slot=False).first()
        finally:
            await conn.execute("SELECT pg_drop_replication_slot($1)", slot)
        assert cause(info.value).sqlstate == "55006"
        assert "one consumer per slot" in str(info.value)

    async def test_a_missing_plugin(self, conn: Any, slot: str) -> None:
        """No wal2json library where the server looks: 58P01, how to install it."""
        await conn.execute("SET dynamic_library_path = '/nonexistent/sluiceway'")
        with pytest.raises(ChangeStreamError, match="not installed on the server") as info:
            await postgres_changes(conn, slot=slot).first()
        assert type(info.value) is ChangeStreamError
        assert cause(info.value).sqlstate == "58P01"

    async def test_a_plugin_not_allowed(self, conn: Any, slot: str) -> None:
        """A server whose output_plugin_libraries lacks wal2json: 42501, how to allow it."""
        try:
            await conn.execute("SET output_plugin_libraries = 'pgoutput'")
        except asyncpg.UndefinedObjectError:
            pytest.skip("this PostgreSQL has no output_plugin_libraries allow-list")
        with pytest.raises(ChangeStreamError, match="output_plugin_libraries") as info:
            await postgres_changes(conn, slot=slot).first()
        assert cause(info.value).sqlstate == "42501"

    async def test_a_slot_moved_by_someone_else(self, dsn: str, slot: str, table: str) -> None:
        """Someone advanced the slot past what the stream acknowledges: 55000, one consumer."""
        make_slot(dsn, slot)
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        stream = postgres_changes(dsn, slot=slot, tables=[table], poll_interval=0.05)
        with pytest.raises(ChangeStreamError, match="moved by someone else") as info:
            async with stream:
                async for _change in stream:
                    # A later transaction, so the slot moves strictly past this one.
                    sql(dsn, f"INSERT INTO {table} VALUES (2)")
                    sql(dsn, "SELECT pg_replication_slot_advance(%s, pg_current_wal_lsn())", slot)
        assert cause(info.value).sqlstate == "55000"


@pytest.fixture(scope="module")
def scratch_dsn() -> Iterator[str]:
    """A private cluster that invalidates a slot once it holds back more than 1 MB of WAL."""
    with scratch_cluster(max_slot_wal_keep_size="1MB") as dsn:
        allow_wal2json(dsn)
        yield dsn


@pytest.fixture
def scratch_table(scratch_dsn: str) -> str:
    name = f"chg_{uuid.uuid4().hex[:12]}"
    sql(scratch_dsn, f"CREATE TABLE {name} (id int PRIMARY KEY, pad text)")
    return name


@pytest.fixture
def scratch_slot(scratch_dsn: str) -> Iterator[str]:
    """A fresh slot name on the scratch cluster; the slot is dropped afterwards."""
    name = f"sw_test_{uuid.uuid4().hex[:12]}"
    yield name
    sql(
        scratch_dsn,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        name,
    )


def wal_status(dsn: str, slot: str) -> str:
    rows = sql(dsn, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s", slot)
    return str(rows[0][0])


class TestInvalidatedSlot:
    """A slot whose WAL was removed (max_slot_wal_keep_size), on a scratch cluster."""

    async def test_invalidated_while_reading(
        self, scratch_dsn: str, scratch_slot: str, scratch_table: str
    ) -> None:
        """Reading an invalidated slot is 55000 'can no longer get changes': HistoryLost."""
        make_slot(scratch_dsn, scratch_slot)
        sql(scratch_dsn, f"INSERT INTO {scratch_table} VALUES (1)")
        stream = postgres_changes(
            scratch_dsn, slot=scratch_slot, tables=[scratch_table], auto_ack=False, channel=None
        )
        got: list[Change] = []
        with pytest.raises(HistoryLost, match="was invalidated") as info:
            async with stream:
                async for change in stream:
                    got.append(change)
                    burn_wal(scratch_dsn, scratch_table)
                    assert wal_status(scratch_dsn, scratch_slot) == "lost"
        assert [c.new for c in got] == [{"id": 1, "pad": None}]
        error = cause(info.value)
        assert error.sqlstate == "55000"
        assert "can no longer get changes" in str(error)
        assert "max_slot_wal_keep_size" in str(info.value)

    async def test_invalidated_before_an_acknowledgement(
        self, scratch_dsn: str, scratch_slot: str, scratch_table: str
    ) -> None:
        """Advancing an invalidated slot is 55000 'cannot be advanced': HistoryLost."""
        make_slot(scratch_dsn, scratch_slot)
        sql(scratch_dsn, f"INSERT INTO {scratch_table} VALUES (1)")
        stream = postgres_changes(
            scratch_dsn, slot=scratch_slot, tables=[scratch_table], channel=None
        )
        with pytest.raises(HistoryLost, match="was invalidated") as info:
            async with stream:
                async for _change in stream:
                    burn_wal(scratch_dsn, scratch_table)
        error = cause(info.value)
        assert error.sqlstate == "55000"
        assert "cannot be advanced" in str(error)

    async def test_a_new_stream_on_an_invalidated_slot(
        self, scratch_dsn: str, scratch_slot: str, scratch_table: str
    ) -> None:
        """A stream started on a slot already invalidated refuses at once (wal_status = lost)."""
        make_slot(scratch_dsn, scratch_slot)
        burn_wal(scratch_dsn, scratch_table)
        assert wal_status(scratch_dsn, scratch_slot) == "lost"
        stream: ChangeStream = postgres_changes(scratch_dsn, slot=scratch_slot)
        with pytest.raises(HistoryLost, match="wal_status = 'lost'"):
            await stream.first()
