"""Which driver a connection object belongs to, found without importing any driver.

A connection object of a driver means that driver is already imported, so
the check looks the driver's classes up in ``sys.modules``: a driver that is
not installed (or not used) is never imported here.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

from ..errors import UnsupportedBackendError

__all__ = ["Driver", "driver_of", "require_asyncio"]

#: asyncpg connection (or pool connection proxy), asyncpg pool, psycopg 3
#: AsyncConnection, aiosqlite Connection.
Driver = Literal["asyncpg", "asyncpg-pool", "psycopg", "aiosqlite"]

_SUPPORTED = (
    "an aiosqlite.Connection, an asyncpg.Connection or asyncpg.Pool, or a psycopg.AsyncConnection"
)


def _instance(obj: object, module: str, *names: str) -> bool:
    """Whether ``obj`` is an instance of one of the classes ``module.name`` (if imported)."""
    mod = sys.modules.get(module)
    if mod is None:
        return False
    classes = tuple(cls for name in names if isinstance(cls := getattr(mod, name, None), type))
    return bool(classes) and isinstance(obj, classes)


def driver_of(conn: object, where: str) -> Driver:
    """The driver of ``conn``; TypeError naming what is supported for anything else."""
    if _instance(conn, "aiosqlite", "Connection"):
        return "aiosqlite"
    if _instance(conn, "asyncpg", "Connection") or _instance(
        conn, "asyncpg.pool", "PoolConnectionProxy"
    ):
        return "asyncpg"
    if _instance(conn, "asyncpg", "Pool"):
        return "asyncpg-pool"
    if _instance(conn, "psycopg", "AsyncConnection"):
        return "psycopg"
    hint = ""
    if _instance(conn, "psycopg", "Connection"):
        hint = " (a sync psycopg.Connection: use psycopg.AsyncConnection.connect())"
    elif _instance(conn, "sqlite3", "Connection"):
        hint = " (a sync sqlite3.Connection: use aiosqlite.connect())"
    raise TypeError(
        f"{where}() expects {_SUPPORTED}, got {type(conn).__module__}.{type(conn).__qualname__}"
        f"{hint}"
    )


def require_asyncio(where: str) -> None:
    """UnsupportedBackendError unless an asyncio event loop (uvloop included) runs this task."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise UnsupportedBackendError(
            f"{where}() runs only on asyncio (uvloop too): asyncpg, psycopg's async "
            "connections and aiosqlite are asyncio-only drivers, so it cannot run on trio",
            where=where,
        ) from None
