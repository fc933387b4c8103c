"""The database part of the demo: rows() over a SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

#: Rows in the demo's table, and how many of them the row-at-a-time loop reads.
ROWS = 200_000
ONE_BY_ONE = 10_000


def _make_table(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?)", ((i, i % 100) for i in range(1, ROWS + 1))
        )
    conn.close()


def _writable(path: Path) -> bool:
    """Whether another connection can write now (an open read cursor blocks it)."""
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("UPDATE orders SET amount = amount WHERE id = 1")
        other.commit()
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
    return True


async def part(out: TextIO) -> None:
    """Stream a SQLite table in batches, against reading it one row per round trip."""
    try:
        import aiosqlite

        from ..db import rows
    except ImportError:
        out.write("\n9. A database: skipped (pip install 'sluiceway[sqlite]')\n")
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        out.write("\n9. A database: skipped on trio (the database drivers run on asyncio only)\n")
        return
    out.write(f"\n9. A database: {ROWS:,} rows of SQLite, one round trip per row or per 1000\n")
    with tempfile.TemporaryDirectory(prefix="sluiceway-demo-") as tmp:
        path = Path(tmp) / "orders.db"
        _make_table(path)

        def add(acc: int, row: Any) -> int:
            return acc + int(row[1])

        async with aiosqlite.connect(path) as conn:
            # The seed's pattern: await fetchone() for every row.
            start = time.perf_counter()
            cursor = await conn.execute("SELECT id, amount FROM orders LIMIT ?", (ONE_BY_ONE,))
            seen = partial = 0
            while (row := await cursor.fetchone()) is not None:
                partial = add(partial, row)
                seen += 1
            await cursor.close()
            one_rate = seen / (time.perf_counter() - start)

            start = time.perf_counter()
            cursor = await conn.execute("SELECT id, amount FROM orders")
            total = 0
            while batch := list(await cursor.fetchmany(1000)):
                for row in batch:
                    total = add(total, row)
            await cursor.close()
            many_rate = ROWS / (time.perf_counter() - start)

            start = time.perf_counter()
            summed = await rows(conn, "SELECT id, amount FROM orders").reduce(add, 0)
            rows_rate = ROWS / (time.perf_counter() - start)
            assert summed == total

            out.write(f"   await fetchone() per row      {one_rate:>12,.0f} rows/s\n")
            out.write(f"   fetchmany(1000) by hand       {many_rate:>12,.0f} rows/s\n")
            out.write(
                f"   rows(conn, q).reduce(add, 0)  {rows_rate:>12,.0f} rows/s "
                f"({rows_rate / one_rate:.0f}x the row-at-a-time loop; sum {summed:,})\n"
            )

            stream = rows(conn, "SELECT id, amount FROM orders", batch_size=1000)
            first: list[tuple[Any, ...]] = []
            during = True
            async with stream:
                async for row in stream:
                    first.append(tuple(row))
                    if len(first) == 3:
                        during = _writable(path)
                        break
            after = _writable(path)
            out.write(
                f"   break after {first}: while the cursor was open another connection "
                f"{'could' if during else 'could not'} write; right after the break it "
                f"{'could' if after else 'still could not'}\n"
            )
