"""Databases: query results as batched streams, notifications and change streams.

``rows`` and ``listen`` find the driver (aiosqlite, asyncpg, psycopg 3) from
the connection object you pass; ``import sluiceway.db`` imports none of them.
``postgres_changes`` (asyncpg) and ``mongo_changes`` (pymongo) load their
module, and with it their driver, when first used. Install the drivers with
``pip install 'sluiceway[sqlite]'``, ``'sluiceway[postgres]'`` or
``'sluiceway[mongo]'``. The drivers are asyncio-only, so these streams run on
asyncio (uvloop too), not on trio.
"""

from typing import TYPE_CHECKING, Any

from ._listen import Notification as Notification
from ._listen import listen as listen
from ._rows import DEFAULT_BATCH_SIZE as DEFAULT_BATCH_SIZE
from ._rows import RowStream as RowStream
from ._rows import rows as rows

if TYPE_CHECKING:
    from ._mongo import MongoChangeStream as MongoChangeStream
    from ._mongo import mongo_changes as mongo_changes
    from ._postgres_changes import ChangeStream as ChangeStream
    from ._postgres_changes import postgres_changes as postgres_changes
    from ._wakeup import DEFAULT_CHANNEL as DEFAULT_CHANNEL
    from ._wakeup import add_wakeup_trigger as add_wakeup_trigger
    from ._wakeup import drop_wakeup_trigger as drop_wakeup_trigger
    from ._wal2json import Change as Change

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHANNEL",
    "Change",
    "ChangeStream",
    "MongoChangeStream",
    "Notification",
    "RowStream",
    "add_wakeup_trigger",
    "drop_wakeup_trigger",
    "listen",
    "mongo_changes",
    "postgres_changes",
    "rows",
]

# Loaded on first use: the change streams import their driver at module level,
# and the pure modules beside them are not needed before a change stream is.
_LAZY = {
    "DEFAULT_CHANNEL": "_wakeup",
    "Change": "_wal2json",
    "ChangeStream": "_postgres_changes",
    "add_wakeup_trigger": "_wakeup",
    "drop_wakeup_trigger": "_wakeup",
    "postgres_changes": "_postgres_changes",
    "MongoChangeStream": "_mongo",
    "mongo_changes": "_mongo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sluiceway.db' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
