"""Slot function errors: told apart by SQLSTATE, translated into errors that say what to do.

The SQLSTATEs and messages below are PostgreSQL 15's own, each provoked on a
real server.
"""

from __future__ import annotations

import asyncpg
import pytest

from sluiceway.db import postgres_changes
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
        error = asyncpg.exceptions.UnknownPostgresError("a new kind of failure")
        error.sqlstate = "08P99"  # set per instance from the server's message
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
