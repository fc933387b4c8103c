"""postgres_changes() against a hand-written peek/advance loop, on the real PostgreSQL.

Each run makes a fresh wal2json slot and table, commits the workload's
transactions (not timed), then times one consumer reading every change to the
end, and drops the slot. Entries run interleaved (run 1 of each, then run 2,
...) and the median is reported, with each entry's ratio to the hand-written
loop (1.00), which reads 1000 rows per peek, decodes them with ``json.loads``
and advances the slot once per read: the least work a SQL-level consumer can
do, with no per-transaction acknowledgement.

Entries:

- ``hand-written``: the loop above.
- ``postgres_changes ack_interval=0``: the default, one advance per processed
  transaction (a crash repeats at most the transaction in hand).
- ``postgres_changes ack_interval=1``: advances at most once a second.

Usage::

    python benchmarks/changes_bench.py [--runs 5] [--dsn postgresql://127.0.0.1/test]

Needs wal_level = logical and wal2json (``make services``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import anyio
import asyncpg
import psycopg

from sluiceway.db import postgres_changes

WORKLOADS = {
    # name: (transactions, rows per transaction)
    "one-row transactions": (3000, 1),
    "100-row transactions": (200, 100),
    "one 20k-row transaction": (1, 20000),
}

Entry = Callable[[str, str, str, int], Awaitable[int]]


def setup(dsn: str, transactions: int, rows: int) -> tuple[str, str]:
    slot, table = f"sw_bench_{uuid.uuid4().hex[:8]}", f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")  # type: ignore[arg-type]
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'wal2json')", (slot,))
    with psycopg.connect(dsn) as conn:
        n = 0
        for _ in range(transactions):
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} VALUES (%s, 'payload')",  # type: ignore[arg-type]
                    [(n + i,) for i in range(rows)],
                )
            n += rows
            conn.commit()
    return slot, table


def teardown(dsn: str, slot: str, table: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        conn.execute(f"DROP TABLE {table}")  # type: ignore[arg-type]


async def hand_written(dsn: str, slot: str, table: str, total: int) -> int:
    conn = await asyncpg.connect(dsn)
    seen = 0
    try:
        while seen < total:
            rows = await conn.fetch(
                "SELECT lsn::text, data FROM pg_logical_slot_peek_changes($1, NULL, 1000, "
                "'format-version', '2', 'include-xids', '1', 'add-tables', $2)",
                slot,
                f"*.{table}",
            )
            last = None
            for lsn, data in rows:
                record = json.loads(data)
                if record["action"] in "IUDT":
                    seen += 1
                elif record["action"] == "C":
                    last = lsn
            if last is not None:
                await conn.execute(
                    "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)", slot, last
                )
    finally:
        await conn.close()
    return seen


def library(ack_interval: float) -> Entry:
    async def run(dsn: str, slot: str, table: str, total: int) -> int:
        stream = postgres_changes(dsn, slot=slot, tables=[table], ack_interval=ack_interval)
        seen = 0
        async with stream:
            async for _change in stream:
                seen += 1
                if seen == total:
                    break
        return seen

    return run


ENTRIES: dict[str, Entry] = {
    "hand-written peek/advance loop": hand_written,
    "postgres_changes ack_interval=0": library(0.0),
    "postgres_changes ack_interval=1": library(1.0),
}


async def main(dsn: str, runs: int) -> None:
    print(f"postgres_changes vs a hand-written loop; median of {runs} runs, changes/s\n")
    for name, (transactions, rows) in WORKLOADS.items():
        total = transactions * rows
        times: dict[str, list[float]] = {entry: [] for entry in ENTRIES}
        for _ in range(runs):
            for entry, run in ENTRIES.items():
                slot, table = setup(dsn, transactions, rows)
                try:
                    start = time.perf_counter()
                    seen = await run(dsn, slot, table, total)
                    times[entry].append(time.perf_counter() - start)
                finally:
                    teardown(dsn, slot, table)
                if seen != total:
                    raise SystemExit(f"{entry}: read {seen} changes, expected {total}")
        base = statistics.median(times["hand-written peek/advance loop"])
        print(f"{name} ({transactions} x {rows} rows)")
        for entry, values in times.items():
            median = statistics.median(values)
            print(f"  {entry:34} {total / median:>10,.0f}/s   x{base / median:.2f}")
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dsn", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    anyio.run(main, args.dsn, args.runs, backend="asyncio")
