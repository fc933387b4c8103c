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
    └── ListenError                   PostgreSQL LISTEN/NOTIFY (sluiceway.db.listen)
        ├── ListenOverflowError       the consumer fell behind: notifications dropped
        └── ListenDisconnectedError   the listening connection closed

Argument errors are the builtin ``ValueError`` (a number out of range, such
as ``take(-1)``) and ``TypeError`` (a value of the wrong kind, such as
``map(42)``), raised at the call that received them. Timeouts are the builtin
``TimeoutError``. Errors raised by a source or by a function you passed in
reach you unchanged: the same exception object, never wrapped.
"""

from __future__ import annotations

__all__ = [
    "EmptyStreamError",
    "ListenDisconnectedError",
    "ListenError",
    "ListenOverflowError",
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


class ListenError(SluicewayError):
    """A ``sluiceway.db.listen()`` stream lost notifications.

    Attributes:
        channel: the channel it listened on.
    """

    def __init__(self, message: str, channel: str) -> None:
        super().__init__(message)
        self.channel = channel


class ListenOverflowError(ListenError):
    """The consumer fell more than ``buffer`` notifications behind; later ones were dropped.

    Raised after the buffered notifications were delivered.

    Attributes:
        channel: the channel it listened on.
        buffer: the buffer's size.
        dropped: notifications dropped by the time the error was raised.
    """

    def __init__(self, channel: str, buffer: int, dropped: int) -> None:
        super().__init__(
            f"listen({channel!r}): the consumer fell {buffer:,} notifications behind and "
            f"{dropped:,} were dropped (raise listen(..., buffer=) or consume faster)",
            channel,
        )
        self.buffer = buffer
        self.dropped = dropped


class ListenDisconnectedError(ListenError):
    """The connection of a ``listen()`` stream closed; notifications sent since are lost."""

    def __init__(self, channel: str) -> None:
        super().__init__(
            f"listen({channel!r}): the connection closed; notifications sent while "
            "disconnected are lost (NOTIFY keeps nothing for absent listeners)",
            channel,
        )
