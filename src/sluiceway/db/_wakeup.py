"""The wake-up trigger: a statement trigger that sends ``NOTIFY`` on every write to a table.

An idle :func:`~sluiceway.db.postgres_changes` stream waits for a
notification on its channel (or its poll interval); this trigger sends one
at the commit of every write, so a change is read at once. It is a hint, not
a delivery path: the changes themselves always come from the slot.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

__all__ = ["DEFAULT_CHANNEL", "add_wakeup_trigger", "drop_wakeup_trigger"]

#: The LISTEN channel a stream wakes up on, and the one add_wakeup_trigger() notifies.
DEFAULT_CHANNEL = "sluiceway_changes"

#: The trigger function, shared by every trigger: the channel is the trigger's argument.
_FUNCTION = "sluiceway_notify"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    return ".".join(_identifier(part) for part in table.split(".", 1))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _trigger_name(table: str, channel: str) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", f"{table}_{channel}".lower())[:40]
    return f"sluiceway_wake_{base}"


async def add_wakeup_trigger(
    conn: asyncpg.Connection, table: str, *, channel: str = DEFAULT_CHANNEL
) -> None:
    """Install a statement trigger on ``table`` that sends ``NOTIFY channel`` on every write.

    An idle :func:`postgres_changes` stream then reads a committed change at
    once instead of at its next poll. PostgreSQL delivers a notification at
    commit and folds repeats within a transaction into one, so a write costs
    one notification per statement at most. Without the trigger, your own
    code can ``SELECT pg_notify('sluiceway_changes', '')`` after committing.
    Run it as the table's owner; calling it again replaces the trigger.
    """
    await conn.execute(
        f"""
        CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify(TG_ARGV[0], '');
            RETURN NULL;
        END $$;
        CREATE OR REPLACE TRIGGER {_trigger_name(table, channel)}
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {_qualified(table)}
            FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}({_literal(channel)});
        """
    )


async def drop_wakeup_trigger(
    conn: asyncpg.Connection, table: str, *, channel: str = DEFAULT_CHANNEL
) -> None:
    """Remove the trigger :func:`add_wakeup_trigger` installed (if it is there)."""
    await conn.execute(
        f"DROP TRIGGER IF EXISTS {_trigger_name(table, channel)} ON {_qualified(table)}"
    )
