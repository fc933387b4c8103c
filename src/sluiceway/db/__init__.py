"""Databases: query results as batched streams, and PostgreSQL notifications.

The drivers (aiosqlite, asyncpg, psycopg 3) are imported by your code, not
here: ``import sluiceway.db`` needs none of them, and the functions find the
driver from the connection object you pass. Install them with
``pip install 'sluiceway[sqlite]'`` or ``pip install 'sluiceway[postgres]'``.
The drivers are asyncio-only, so these streams run on asyncio (uvloop too),
not on trio.
"""

from ._listen import Notification as Notification
from ._listen import listen as listen
from ._rows import DEFAULT_BATCH_SIZE as DEFAULT_BATCH_SIZE
from ._rows import RowStream as RowStream
from ._rows import rows as rows

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Notification",
    "RowStream",
    "listen",
    "rows",
]
