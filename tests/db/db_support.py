"""What the database tests share: the rows every driver gives, and how to ask each one
whether a cursor or a transaction is still open."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path


def expected(n: int) -> list[tuple[int, str]]:
    """The rows every driver's series query gives for ``n``."""
    return [(i, f"r{i}") for i in range(1, n + 1)]


@dataclass
class Db:
    """One driver's connection and how to ask it the same questions as the others."""

    name: str
    conn: Any
    #: The query for the rows (1, 'r1') .. (n, 'rn'), with n as its one parameter.
    series: str
    #: A query with two parameters (low, high) giving the rows low..high.
    between: str
    #: Names of the server-side cursors open on the connection.
    open_cursors: Callable[[], Awaitable[list[str]]]
    #: Whether the connection is inside a transaction.
    in_transaction: Callable[[], Awaitable[bool]]
    #: A trivial query that proves the connection works: its one value.
    ping: Callable[[], Awaitable[object]]


# -- SQLite -------------------------------------------------------------------------------

SQLITE_SERIES = "SELECT n, s FROM numbers WHERE n <= ? ORDER BY n"
SQLITE_BETWEEN = "SELECT n, s FROM numbers WHERE n BETWEEN ? AND ? ORDER BY n"


def make_sqlite_file(path: Path, n: int = 5000) -> Path:
    """A SQLite file whose table ``numbers(n, s)`` holds the rows (1, 'r1') .. (n, 'rn')."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE numbers (n INTEGER PRIMARY KEY, s TEXT NOT NULL)")
        conn.executemany("INSERT INTO numbers VALUES (?, ?)", expected(n))
    conn.close()
    return path


def sqlite_write_blocked(path: Path) -> bool:
    """Whether another connection is kept from writing to the file (an open read cursor holds
    its shared lock until it is closed)."""
    other = sqlite3.connect(path, timeout=0)
    try:
        other.execute("UPDATE numbers SET s = s WHERE n = 1")
        other.commit()
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return True
    finally:
        other.close()
    return False
