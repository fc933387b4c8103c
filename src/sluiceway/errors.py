"""Every exception sluiceway raises, under one root.

The hierarchy::

    SluicewayError
    ├── StreamConsumedError (also RuntimeError)
    │       you used a Stream a second time: it was already iterated,
    │       handed to an operator or closed
    ├── StreamNotEnteredError (also RuntimeError)
    │       a stream with background work (merge, prefetch, ...) was
    │       iterated outside ``async with stream:``
    ├── EmptyStreamError (also ValueError)
    │       first(), last() or reduce() without an initial value
    │       met a stream with no items
    ├── SSEError                      Server-Sent Events
    │   ├── SSELimitError             a line or an event over the decoder's limit
    │   └── SSEResponseError          the server answered without an event stream
    └── ChangeStreamError             a database change stream cannot start or go on
        └── HistoryLost               the position to resume from is gone (a missing or
                                      invalidated replication slot, MongoDB error 286)

Argument errors are the builtin ``ValueError`` (a number out of range, such
as ``take(-1)``) and ``TypeError`` (a value of the wrong kind, such as
``map(42)``), raised at the call that received them. Timeouts are the builtin
``TimeoutError``. Errors raised by a source or by a function you passed in
reach you unchanged: the same exception object, never wrapped.
"""

from __future__ import annotations

__all__ = [
    "ChangeStreamError",
    "EmptyStreamError",
    "HistoryLost",
    "SSEError",
    "SSELimitError",
    "SSEResponseError",
    "SluicewayError",
    "StreamConsumedError",
    "StreamNotEnteredError",
]


class SluicewayError(Exception):
    """The root of every exception defined by sluiceway."""


class StreamConsumedError(SluicewayError, RuntimeError):
    """A Stream was used after it was iterated, handed to an operator or closed.

    A Stream is a one-shot pipeline: iterating it, passing it to an operator
    (``s.map(...)`` takes ``s`` over) or closing it uses it up. Build a new
    Stream from the source instead, or use ``tee()`` to read one source twice.
    Calling ``__anext__`` after the end or after ``aclose()`` is not an error:
    it raises ``StopAsyncIteration``, like any exhausted async iterator.
    """


class StreamNotEnteredError(SluicewayError, RuntimeError):
    """A stream that runs background tasks was iterated outside ``async with``.

    ``merge``, ``map(concurrency=n)``, ``prefetch``, ``batch(timeout=...)``
    and ``foreach(concurrency=n)`` run tasks that must belong to a scope the
    consumer controls. Iterate such a stream inside ``async with stream:``,
    or consume it with a terminal operation (``to_list()``, ``foreach()``,
    ...), which opens the scope itself. Raised before the first item.
    """


class EmptyStreamError(SluicewayError, ValueError):
    """A terminal operation needed at least one item and the stream had none."""


class SSEError(SluicewayError):
    """Something went wrong with a Server-Sent Events stream."""


class SSELimitError(SSEError):
    """A line or an event is larger than the decoder allows.

    Attributes:
        limit: which limit: ``"max_line_size"`` or ``"max_event_size"``.
        size: the size reached (characters), at least ``maximum + 1``.
        maximum: the limit in force.
    """

    def __init__(self, limit: str, size: int, maximum: int) -> None:
        super().__init__(
            f"server-sent event over the {limit} limit: {size:,} characters "
            f"(at most {maximum:,}; raise it with Decoder({limit}=...))"
        )
        self.limit = limit
        self.size = size
        self.maximum = maximum


class SSEResponseError(SSEError):
    """The server answered without an event stream (a status other than 200, or 204,
    or another Content-Type); the client does not reconnect after it.

    Attributes:
        url: the URL that answered.
        status: the HTTP status code.
        headers: the response headers (name -> value, names lower-cased).
        body: the start of the response body (at most a few KiB, decoded leniently).
    """

    def __init__(
        self, message: str, *, url: str, status: int, headers: dict[str, str], body: str
    ) -> None:
        super().__init__(f"{message} from {url} (status {status}): {body[:200]!r}")
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body


class ChangeStreamError(SluicewayError):
    """A database change stream cannot start or go on (setup, configuration, slot misuse).

    Attributes:
        source: what was being read, e.g. ``"replication slot 'orders'"``.
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message)
        self.source = source


class HistoryLost(ChangeStreamError):
    """The position a change stream would resume from no longer exists.

    A PostgreSQL replication slot that is missing (dropped, never created) or
    invalidated (``wal_status = 'lost'``: the WAL it needed was removed), or a
    MongoDB resume token older than the oplog (error 286,
    ``ChangeStreamHistoryLost``). Retrying cannot help: the changes in between
    are gone. Recover by re-reading the data you mirror (a snapshot), then
    start a new stream from the current position.
    """
