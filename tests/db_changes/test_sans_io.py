"""The sans-I/O half of postgres_changes: wal2json rows to changes, and the acknowledgement book."""

from __future__ import annotations

import json
from decimal import Decimal

import asyncpg
import pytest

from sluiceway.db import postgres_changes
from sluiceway.db._postgres_changes import (
    Ledger,
    _Source,
    format_lsn,
    parse_lsn,
    parse_transactions,
)
from sluiceway.errors import ChangeStreamError, HistoryLost


def row(at: str, **record: object) -> tuple[str, str]:
    return at, json.dumps(record)


TS = "2026-11-25 06:21:49.461565+00"
ROWS = [
    row("0/100", action="B", xid=7, timestamp=TS),
    row(
        "0/110",
        action="I",
        xid=7,
        lsn="0/110",
        schema="public",
        table="t",
        columns=[
            {"name": "id", "type": "integer", "value": 1},
            {"name": "f", "type": "double precision", "value": 0.25},
            {"name": "n", "type": "numeric", "value": 0.1},
        ],
    ),
    row("0/120", action="M", xid=7, prefix="p", content="hi", transactional=True),
    row(
        "0/130",
        action="D",
        xid=7,
        lsn="0/130",
        schema="s",
        table="u",
        identity=[{"name": "id", "type": "integer", "value": 2}],
    ),
    row("0/1A0", action="C", xid=7, timestamp=TS),
    row("0/1A0", action="B", xid=8, timestamp=TS),
    row("0/1F0", action="C", xid=8, timestamp=TS),
]


class TestParse:
    def test_rows_become_transactions_of_changes(self) -> None:
        """Changes carry their transaction's xid, commit end and time; messages are skipped."""
        first, empty = parse_transactions(ROWS)
        assert (first.xid, first.end, first.rows) == (7, 0x1A0, 5)
        assert (empty.xid, empty.end, empty.changes) == (8, 0x1F0, [])
        insert, delete = first.changes
        assert (insert.table, insert.operation, insert.old) == ("public.t", "insert", None)
        assert insert.new == {"id": 1, "f": 0.25, "n": Decimal("0.1")}
        assert type(insert.new["f"]) is float
        assert (delete.table, delete.operation, delete.new, delete.old) == (
            "s.u",
            "delete",
            None,
            {"id": 2},
        )
        assert [c.checkpoint for c in first.changes] == ["0/1A0#1", "0/1A0#2"]
        assert [c.ends_transaction for c in first.changes] == [False, True]
        assert {c.commit_lsn for c in first.changes} == {"0/1A0"}
        assert insert.lsn == "0/110"
        assert insert.xid == 7
        assert insert.commit_time is not None
        assert insert.commit_time.utcoffset() is not None

    def test_a_commit_without_a_begin_is_an_error(self) -> None:
        """Rows that do not start with a begin are not silently misread."""
        with pytest.raises(ChangeStreamError, match="without a begin"):
            parse_transactions([row("0/1A0", action="C", xid=7)])

    def test_lsn_round_trip(self) -> None:
        """LSNs convert both ways; a malformed one is a ValueError."""
        assert parse_lsn("16/B374D848") == 0x16B374D848
        assert format_lsn(0x16B374D848) == "16/B374D848"
        with pytest.raises(ValueError, match="LSN"):
            parse_lsn("16-B374")


class TestLedger:
    def changes(self) -> list[object]:
        first, _ = parse_transactions(ROWS)
        return list(first.changes)

    def test_the_slot_may_advance_only_past_whole_transactions(self) -> None:
        """Processing part of a transaction moves nothing; its last change moves to its end."""
        first, empty = parse_transactions(ROWS)
        ledger = Ledger(0x50)
        a, b = first.changes
        ledger.delivered(a, first.end)
        ledger.delivered(b, first.end)
        ledger.skipped(empty.end)  # nothing to deliver in it, but it waits its turn
        assert ledger.processed(a.checkpoint)
        assert ledger.safe == 0x50
        assert ledger.last_delivered() == b.checkpoint
        assert ledger.processed(b.checkpoint)
        assert ledger.safe == 0x1F0  # the empty transaction after it, too
        assert ledger.idle

    def test_acknowledgements_are_cumulative_and_unknown_ones_change_nothing(self) -> None:
        """Acknowledging the last change covers the ones before; an unknown one is refused."""
        first, _ = parse_transactions(ROWS)
        ledger = Ledger(0)
        for change in first.changes:
            ledger.delivered(change, first.end)
        assert not ledger.processed("0/999#1")
        assert ledger.safe == 0
        assert not ledger.idle
        assert ledger.processed(first.changes[-1].checkpoint)
        assert ledger.safe == 0x1A0
        assert ledger.idle
        assert not ledger.processed(first.changes[0].checkpoint)  # already done

    def test_an_empty_transaction_with_nothing_pending_is_safe_at_once(self) -> None:
        """With nothing outstanding, a transaction without changes moves the safe point."""
        ledger = Ledger(0x10)
        ledger.skipped(0x40)
        assert ledger.safe == 0x40
        assert ledger.idle


def source() -> _Source:
    stream = postgres_changes("postgresql://127.0.0.1/test", slot="orders")
    return stream._source  # pyright: ignore[reportPrivateUsage]


class TestDriverErrors:
    """Server errors as the typed errors that say what to do.

    The messages are PostgreSQL 15's own, seen on this machine (an invalidated
    slot was produced once by hand with max_slot_wal_keep_size; the tests do
    not change the server's configuration, so they build the driver's
    exceptions here).
    """

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
        ],
    )
    def test_translation(
        self, error: asyncpg.PostgresError, expected: type[Exception], words: str
    ) -> None:
        """Each server error maps to its typed error, naming the slot and the remedy."""
        translated = source()._translate(error)  # pyright: ignore[reportPrivateUsage]
        assert type(translated) is expected
        assert words in str(translated)
        assert "'orders'" in str(translated)
        assert translated.source == "replication slot 'orders'"

    async def test_wal_level_not_logical(self, anyio_backend: object) -> None:
        """A server without wal_level = logical is refused with how to fix it.

        The real server here has logical decoding on, and tests do not change
        its configuration, so this one answers SHOW wal_level with a stand-in.
        """

        class Replica:
            async def fetchval(self, query: str) -> str:
                assert query == "SHOW wal_level"
                return "replica"

        with pytest.raises(ChangeStreamError, match=r"wal_level = replica.*make services"):
            await source()._prepare(Replica())  # type: ignore[arg-type]  # pyright: ignore[reportPrivateUsage]
