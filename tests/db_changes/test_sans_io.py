"""The sans-I/O half of postgres_changes: wal2json rows to changes, and the acknowledgement book.

These modules import no driver: this file imports only them, and one test
runs them in a process where asyncpg cannot be imported at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from sluiceway.db._ledger import Ledger
from sluiceway.db._wal2json import (
    format_lsn,
    parse_checkpoint,
    parse_lsn,
    parse_transactions,
)
from sluiceway.errors import ChangeStreamError


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

    def test_checkpoints_read_back(self) -> None:
        """A change's checkpoint reads back as (commit end, index); anything else is refused."""
        first, _ = parse_transactions(ROWS)
        assert parse_checkpoint(first.changes[1].checkpoint) == (0x1A0, 2)
        for bad in ("0/1A0", "0/1A0#", "0/1A0#x", "zz#1"):
            with pytest.raises(ValueError, match=r"checkpoint|LSN"):
                parse_checkpoint(bad)


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


#: Runs this file's parser and ledger tests where asyncpg cannot be imported at all.
WITHOUT_ASYNCPG = """
import sys

sys.modules["asyncpg"] = None  # `import asyncpg` now raises ImportError
sys.path.insert(0, sys.argv[1])
import test_sans_io as here

ran = []
for cls in (here.TestParse, here.TestLedger):
    for name in sorted(vars(cls)):
        if name.startswith("test_"):
            getattr(cls(), name)()
            ran.append(name)

import sluiceway.db

assert sluiceway.db.Change is here.parse_transactions(here.ROWS)[0].changes[0].__class__
try:
    sluiceway.db.postgres_changes
except ImportError as exc:
    refused = "sluiceway[postgres]" in str(exc)
else:
    refused = False
print(len(ran), refused)
"""


class TestWithoutDriver:
    def test_the_sans_io_core_runs_without_asyncpg(self) -> None:
        """Parsing and the ledger (every test above) run with asyncpg unimportable;
        only the adapter asks for it, naming the extra."""
        here = str(Path(__file__).parent)
        out = subprocess.run(
            [sys.executable, "-c", WITHOUT_ASYNCPG, here],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        tests = [
            name
            for cls in (TestParse, TestLedger)
            for name in vars(cls)
            if name.startswith("test_")
        ]
        assert out.stdout.split() == [str(len(tests)), "True"]
