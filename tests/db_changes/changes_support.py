"""Helpers shared by the change-stream tests: plain SQL through psycopg, slot positions."""

from __future__ import annotations

from typing import Any


def sql(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    """Run one statement in its own committed transaction; the rows it returns."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, params or None)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def confirmed_lsn(dsn: str, slot: str) -> int:
    """The slot's acknowledged position on the server, as an int."""
    from sluiceway.db._wal2json import parse_lsn

    rows = sql(
        dsn, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", slot
    )
    return parse_lsn(rows[0][0])


def make_slot(dsn: str, name: str) -> None:
    sql(dsn, "SELECT pg_create_logical_replication_slot(%s, 'wal2json')", name)


def slot_ready(dsn: str, slot: str) -> bool:
    """Whether the slot exists and has finished being created (it has a confirmed position).

    A transaction that commits while a slot is still being created may come
    before its consistent point and is then never decoded.
    """
    query = (
        "SELECT 1 FROM pg_replication_slots "
        "WHERE slot_name = %s AND confirmed_flush_lsn IS NOT NULL"
    )
    return bool(sql(dsn, query, slot))
