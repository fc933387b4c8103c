"""wal2json's output as change values, and PostgreSQL LSNs: pure code, no driver.

:func:`parse_transactions` turns the rows ``pg_logical_slot_peek_changes``
returns for a slot decoded by wal2json (format 2) into :class:`Transaction`
values holding :class:`Change` values. LSNs (``"16/B374D848"``) are ints
inside the library (:func:`parse_lsn`, :func:`format_lsn`), and a change's
``checkpoint`` (``"<commit LSN>#<index>"``) reads back with
:func:`parse_checkpoint`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ChangeStreamError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Change",
    "Operation",
    "Transaction",
    "format_lsn",
    "parse_checkpoint",
    "parse_lsn",
    "parse_transactions",
]

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


def parse_checkpoint(text: str) -> tuple[int, int]:
    """A ``Change.checkpoint`` as (commit LSN, index in the transaction); ValueError if not one."""
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
