"""asyncpg's errors from a replication slot's SQL functions, as the errors that say what to do.

A change stream calls three server functions on its slot:
``pg_create_logical_replication_slot``, ``pg_logical_slot_peek_changes``
and ``pg_replication_slot_advance``. Their failures are told apart by
SQLSTATE (``PostgresError.sqlstate``, set for every server error, known to
asyncpg or not) and, for the failures on the client's side, by exception
type. Each SQLSTATE below was provoked on PostgreSQL 15 and its message
recorded; where the server uses one SQLSTATE for several causes, a narrow
check of its message tells them apart, and anything unrecognised stays a
plain :class:`~sluiceway.errors.ChangeStreamError` carrying the server's
words.
"""

from __future__ import annotations

import enum

import asyncpg

from ..errors import ChangeStreamError, HistoryLost

__all__ = [
    "CONNECTION_EXCEPTION",
    "DRIVER_ERRORS",
    "INSUFFICIENT_PRIVILEGE",
    "OBJECT_IN_USE",
    "OBJECT_NOT_IN_PREREQUISITE_STATE",
    "OPERATOR_INTERVENTION",
    "UNDEFINED_FILE",
    "UNDEFINED_OBJECT",
    "SlotFault",
    "classify",
    "fault_of",
    "slot_error",
]

#: What a read, an advance or a slot creation may raise: translated at the boundary.
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

# -- SQLSTATEs (PostgreSQL 15, Appendix A "PostgreSQL Error Codes") ----------

#: Class 08, connection_exception: the connection broke (asyncpg raises 08003
#: itself when the socket closes under a query).
CONNECTION_EXCEPTION = "08"
#: Class 57, operator_intervention: 57P01 admin_shutdown (pg_terminate_backend,
#: a fast shutdown), 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04
#: database_dropped, 57P05 idle_session_timeout, and 57014 query_canceled
#: (statement_timeout, pg_cancel_backend), which leaves the connection open
#: but ends the stream all the same.
OPERATOR_INTERVENTION = "57"
#: 42704 undefined_object: ``replication slot "x" does not exist`` (peek,
#: advance). The code names any undefined object, so the message must say
#: "replication slot" before it counts as a missing slot.
UNDEFINED_OBJECT = "42704"
#: 55000 object_not_in_prerequisite_state, one code for several causes:
#: ``can no longer get changes from replication slot "x"`` (peek of an
#: invalidated slot), ``replication slot "x" cannot be advanced`` (advance of
#: a slot that never reserved WAL or was invalidated: a logical slot always
#: reserves WAL, so here it is invalidated), ``cannot advance replication slot
#: to A, minimum is B`` (the slot is already past A: someone else moved it),
#: and also ``cannot use physical replication slot for logical decoding``,
#: ``replication slot "x" was not created in this database`` and ``logical
#: decoding requires wal_level >= logical``. The message decides.
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
#: 55006 object_in_use: ``replication slot "x" is active for PID n``; the
#: slot functions raise this code for no other cause.
OBJECT_IN_USE = "55006"
#: 58P01 undefined_file: ``could not access file "wal2json": No such file or
#: directory`` (the plugin's library is missing), but also ``requested WAL
#: segment ... has already been removed``: only a message naming wal2json
#: means the plugin.
UNDEFINED_FILE = "58P01"
#: 42501 insufficient_privilege: ``library "wal2json" may not be used as an
#: output plugin`` (a server with an ``output_plugin_libraries`` allow-list
#: that lacks it), and ``must be superuser or replication role to use
#: replication slots`` (a role without REPLICATION). The message decides.
INSUFFICIENT_PRIVILEGE = "42501"


class SlotFault(enum.Enum):
    """Why a slot function failed, as far as the stream's user can act on it."""

    CONNECTION_LOST = "the connection to PostgreSQL was lost"
    SLOT_MISSING = "the slot does not exist (dropped while in use?)"
    SLOT_INVALIDATED = "the slot was invalidated: the WAL it needed was removed"
    PLUGIN_MISSING = "the wal2json plugin is not installed on the server"
    PLUGIN_NOT_ALLOWED = "the server does not allow wal2json as an output plugin"
    SLOT_IN_USE = "another process is using the slot"
    SLOT_MOVED = "someone else advanced the slot"
    OTHER = "another server error"


def classify(sqlstate: str, message: str) -> SlotFault:
    """The fault a slot function's error means, from its SQLSTATE and message.

    Pure: the SQLSTATE decides, and the message only where the server uses
    one code for several causes (see the constants above).
    """
    if sqlstate.startswith((CONNECTION_EXCEPTION, OPERATOR_INTERVENTION)):
        return SlotFault.CONNECTION_LOST
    if sqlstate == UNDEFINED_OBJECT:
        if "replication slot" in message:
            return SlotFault.SLOT_MISSING
    elif sqlstate == OBJECT_NOT_IN_PREREQUISITE_STATE:
        if "can no longer get changes" in message or "cannot be advanced" in message:
            return SlotFault.SLOT_INVALIDATED
        if "cannot advance replication slot" in message:
            return SlotFault.SLOT_MOVED
    elif sqlstate == OBJECT_IN_USE:
        return SlotFault.SLOT_IN_USE
    elif sqlstate == UNDEFINED_FILE:
        if "wal2json" in message:
            return SlotFault.PLUGIN_MISSING
    elif sqlstate == INSUFFICIENT_PRIVILEGE and "output plugin" in message:
        return SlotFault.PLUGIN_NOT_ALLOWED
    return SlotFault.OTHER


def fault_of(exc: BaseException) -> SlotFault:
    """The fault an exception from asyncpg (or the socket under it) means."""
    if isinstance(exc, asyncpg.InterfaceError | OSError):
        # The client's side: a closed connection, or the network under it.
        return SlotFault.CONNECTION_LOST
    if isinstance(exc, asyncpg.PostgresError):
        return classify(exc.sqlstate, str(exc))
    return SlotFault.OTHER


def slot_error(exc: BaseException, where: str) -> ChangeStreamError:
    """A driver error as the change-stream error that says what to do.

    Args:
        exc: what asyncpg raised.
        where: the slot, as the errors name it (``"replication slot 'orders'"``).

    Returns:
        HistoryLost when the slot is missing or invalidated (nothing can
        bring those changes back), else a ChangeStreamError with the remedy.
    """
    fault = fault_of(exc)
    if fault is SlotFault.OTHER:
        return ChangeStreamError(f"{where}: {exc}", source=where)
    error, template = _REMEDIES[fault]
    text = template.format(where=where, message=exc, kind=type(exc).__name__)
    return error(text, source=where)


#: For each known fault: the error raised, and its message (what went wrong, what to do).
_REMEDIES: dict[SlotFault, tuple[type[ChangeStreamError], str]] = {
    SlotFault.CONNECTION_LOST: (
        ChangeStreamError,
        "{where}: the connection to PostgreSQL was lost ({kind}: {message}); "
        "a new stream resumes after the last acknowledged transaction",
    ),
    SlotFault.SLOT_MISSING: (
        HistoryLost,
        "{where} does not exist any more (dropped while in use?): {message}",
    ),
    SlotFault.SLOT_INVALIDATED: (
        HistoryLost,
        "{where} was invalidated: {message}; the changes since its last "
        "acknowledgement are lost (see max_slot_wal_keep_size)",
    ),
    SlotFault.PLUGIN_MISSING: (
        ChangeStreamError,
        "{where}: the wal2json output plugin is not installed on the server ({message}); "
        "install it (Debian: apt-get install postgresql-<version>-wal2json; "
        "`make services` does it on a development machine)",
    ),
    SlotFault.PLUGIN_NOT_ALLOWED: (
        ChangeStreamError,
        "{where}: the server does not allow wal2json as an output plugin ({message}); "
        "add it to output_plugin_libraries and reload (`make services` does it)",
    ),
    SlotFault.SLOT_IN_USE: (
        ChangeStreamError,
        "{where} is in use by another process ({message}); one consumer per slot",
    ),
    SlotFault.SLOT_MOVED: (
        ChangeStreamError,
        "{where} was moved by someone else ({message}); one consumer per slot",
    ),
}
