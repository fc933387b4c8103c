"""Databases: change streams (PostgreSQL logical decoding, MongoDB).

Each driver is imported only when the function that needs it is first used:
``postgres_changes`` needs asyncpg (``pip install 'sluiceway[postgres]'``),
``mongo_changes`` needs pymongo (``pip install 'sluiceway[mongo]'``). The
drivers run on asyncio only, so these streams do too.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._mongo import MongoChangeStream as MongoChangeStream
    from ._mongo import mongo_changes as mongo_changes
    from ._postgres_changes import DEFAULT_CHANNEL as DEFAULT_CHANNEL
    from ._postgres_changes import Change as Change
    from ._postgres_changes import ChangeStream as ChangeStream
    from ._postgres_changes import add_wakeup_trigger as add_wakeup_trigger
    from ._postgres_changes import drop_wakeup_trigger as drop_wakeup_trigger
    from ._postgres_changes import postgres_changes as postgres_changes

__all__ = [
    "DEFAULT_CHANNEL",
    "Change",
    "ChangeStream",
    "MongoChangeStream",
    "add_wakeup_trigger",
    "drop_wakeup_trigger",
    "mongo_changes",
    "postgres_changes",
]

_LAZY = {
    "DEFAULT_CHANNEL": "_postgres_changes",
    "Change": "_postgres_changes",
    "ChangeStream": "_postgres_changes",
    "add_wakeup_trigger": "_postgres_changes",
    "drop_wakeup_trigger": "_postgres_changes",
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
