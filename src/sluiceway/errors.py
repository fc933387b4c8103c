"""Every exception sluiceway raises, under one root.

The hierarchy::

    SluicewayError
    ├── StreamConsumedError (also RuntimeError)
    │       you used a Stream a second time: it was already iterated,
    │       handed to an operator or closed
    ├── StreamNotEnteredError (also RuntimeError)
    │       a stream with background work (merge, prefetch, ...) was
    │       iterated outside ``async with stream:``
    ├── StreamInterruptedError (also RuntimeError)
    │       the stream's background tasks were cancelled from outside while
    │       its consumer, in another task, still waited for items
    ├── CloseTimeoutError (also RuntimeError)
    │       a terminal operation stopped early and a source did not finish
    │       closing within the grace period (``sluiceway.grace_period``)
    ├── UnsupportedBackendError (also RuntimeError)
    │       a database stream, whose drivers are asyncio-only, was
    │       iterated on another event loop (trio)
    ├── EmptyStreamError (also ValueError)
    │       first(), last() or reduce() without an initial value
    │       met a stream with no items
    ├── TransportError                the HTTP client failed (either client: httpx, aiohttp);
    │   │                             the client's own error is ``__cause__``
    │   ├── ConnectError              no connection: unknown host, refused, TLS, timeout
    │   │   └── ConnectTimeoutError   (also TimeoutError) the connection took too long
    │   └── ReadError                 the answer broke off: reset, malformed, timed out
    │       └── ReadTimeoutError      (also TimeoutError) no data within a read timeout,
    │                                 or within SSE's ``idle_timeout``
    ├── SSEError                      Server-Sent Events
    │   ├── SSELimitError             a line or an event over the decoder's limit
    │   └── SSEResponseError          the server answered without an event stream
    ├── HTTPError                     paginated HTTP APIs (sluiceway.http)
    │   ├── HTTPStatusError           an error status that is not retried (404, 401, ...)
    │   ├── RetriesExhaustedError     the last retry failed too (status, network error)
    │   ├── BadPageError              a body that is not JSON, or a path not in it
    │   ├── PageTooLargeError         a body over the size limit
    │   ├── RepeatedPageError         a cursor or next URL seen before (a loop)
    │   ├── CrossOriginError          a next URL on another origin than the first request
    │   └── EmptyPagesError           too many empty pages in a row that claim more
    ├── ListenError                   PostgreSQL LISTEN/NOTIFY (sluiceway.db.listen)
    │   ├── ListenOverflowError       the consumer fell behind: notifications dropped
    │   └── ListenDisconnectedError   the listening connection closed
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

from typing import Any

__all__ = [
    "BadPageError",
    "ChangeStreamError",
    "CloseTimeoutError",
    "ConnectError",
    "ConnectTimeoutError",
    "CrossOriginError",
    "EmptyPagesError",
    "EmptyStreamError",
    "HTTPError",
    "HTTPStatusError",
    "HistoryLost",
    "ListenDisconnectedError",
    "ListenError",
    "ListenOverflowError",
    "PageTooLargeError",
    "ReadError",
    "ReadTimeoutError",
    "RepeatedPageError",
    "RetriesExhaustedError",
    "SSEError",
    "SSELimitError",
    "SSEResponseError",
    "SluicewayError",
    "StreamConsumedError",
    "StreamInterruptedError",
    "StreamNotEnteredError",
    "TransportError",
    "UnsupportedBackendError",
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


class StreamInterruptedError(SluicewayError, RuntimeError):
    """The background tasks of a stream were cancelled while its consumer went on.

    The tasks of ``merge``, ``prefetch``, ``map(concurrency=n)``, ... belong
    to the scope ``async with stream:`` opened. When that scope is cancelled
    from outside (its task was cancelled) while the consumer runs in another
    task and is not cancelled itself, the consumer cannot get the items the
    tasks would have read: its next pull raises this instead of ending the
    stream as if it were complete. Enter the stream in the task that
    iterates it.
    """


class CloseTimeoutError(SluicewayError, RuntimeError):
    """A terminal operation stopped early and a source did not close in time.

    ``first()``, ``take(n).to_list()`` and the like close the pipeline
    before its end; a source whose cleanup took longer than the grace period
    (:func:`sluiceway.grace_period`, 5 seconds by default) was abandoned with
    a ``ResourceWarning``, and the operation raises this instead of returning
    a result that was cut short.
    """


class UnsupportedBackendError(SluicewayError, RuntimeError):
    """A database stream was iterated on an event loop its driver does not run on.

    aiosqlite, asyncpg and psycopg's async connections are built on asyncio,
    so ``sluiceway.db.rows()`` and ``listen()`` run on asyncio (uvloop too)
    and raise this on trio, before touching the connection. Run them under
    asyncio, or read the database in an asyncio thread and hand the rows
    over. Still a ``RuntimeError``, as it was before it had its own type.

    Attributes:
        where: the function that was refused, e.g. ``"rows"``.
    """

    def __init__(self, message: str, *, where: str) -> None:
        super().__init__(message)
        self.where = where


class EmptyStreamError(SluicewayError, ValueError):
    """A terminal operation needed at least one item and the stream had none."""


class TransportError(SluicewayError):
    """The HTTP client could not send a request or read its answer.

    SSE and pagination raise the same classes whichever client sends (httpx or
    aiohttp); the client's own exception is ``__cause__``.

    Attributes:
        url: the URL of the request.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.reason = message


class ConnectError(TransportError):
    """No connection to the server: unknown host, refused, TLS failure, or too slow."""


class ConnectTimeoutError(ConnectError, TimeoutError):
    """The connection was not made within the connect timeout."""


class ReadError(TransportError):
    """The answer broke off (the connection reset or closed, or the HTTP was malformed)."""


class ReadTimeoutError(ReadError, TimeoutError):
    """No data within the read timeout, or within an SSE stream's ``idle_timeout``."""


class SSEError(SluicewayError):
    """Something went wrong with a Server-Sent Events stream."""


class SSELimitError(SSEError):
    """A line or an event is larger than the decoder allows.

    Attributes:
        limit: which limit: ``"max_line_size"`` or ``"max_event_size"``.
        size: the size reached (characters), at least ``maximum + 1``.
        maximum: the limit in force.
        events: the events that the same :meth:`~sluiceway.sse.Decoder.feed`
            call completed before the limit was hit (``connect()`` delivers
            them before raising).
    """

    def __init__(self, limit: str, size: int, maximum: int) -> None:
        super().__init__(
            f"server-sent event over the {limit} limit: {size:,} characters "
            f"(at most {maximum:,}; raise it with Decoder({limit}=...))"
        )
        self.limit = limit
        self.size = size
        self.maximum = maximum
        self.events: list[Any] = []


class SSEResponseError(SSEError):
    """The server answered without an event stream (a status other than 200, or 204,
    or another Content-Type); the client does not reconnect after it.

    Attributes:
        url: the URL that answered.
        status: the HTTP status code.
        headers: the response headers (name -> value, names lower-cased).
        body: the start of the response body: what arrived within half a second,
            at most 4 KiB, decoded leniently.
    """

    def __init__(
        self, message: str, *, url: str, status: int, headers: dict[str, str], body: str
    ) -> None:
        super().__init__(f"{message} from {url} (status {status}): {body[:200]!r}")
        self.url = url
        self.status = status
        self.headers = headers
        self.body = body


class HTTPError(SluicewayError):
    """Paging through an HTTP API went wrong; every subclass carries the URL.

    Attributes:
        url: the URL of the request concerned.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(HTTPError):
    """The server answered with an error status that is not retried (such as 404).

    Attributes:
        url: the URL that answered.
        status: the HTTP status code.
        headers: the response headers (names lower-cased).
        body: the start of the response body: what arrived within half a second,
            at most 4 KiB, decoded leniently.
    """

    def __init__(self, *, url: str, status: int, headers: dict[str, str], body: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:200]!r}", url=url)
        self.status = status
        self.headers = headers
        self.body = body


class RetriesExhaustedError(HTTPError):
    """A page could not be fetched: the last retry failed too, or the server asked
    for a longer wait than allowed. The last network error, if any, is ``__cause__``.

    Attributes:
        url: the URL of the page.
        status: the last HTTP status, or None when the last try was a network error.
        body: the start of the last response body ("" after a network error).
        attempts: how many times the request was sent.
    """

    def __init__(
        self, reason: str, *, url: str, status: int | None, body: str, attempts: int
    ) -> None:
        what = f"HTTP {status}" if status is not None else "a network error"
        tail = f": {body[:200]!r}" if body else ""
        super().__init__(
            f"giving up on {url} after {attempts} attempt(s), last {what} ({reason}){tail}",
            url=url,
        )
        self.status = status
        self.body = body
        self.attempts = attempts


class BadPageError(HTTPError):
    """A page's body is not JSON, or a path the strategy needs is not in it.

    Attributes:
        url: the URL of the page.
        path: the dotted path that was missing or of the wrong kind (None when
            the body is not JSON at all).
        body: the start of the body.
    """

    def __init__(self, reason: str, *, url: str, path: str | None, body: str) -> None:
        where = f" at path {path!r}" if path is not None else ""
        super().__init__(
            f"bad page from {url}{where}: {reason}; body starts {body[:200]!r}", url=url
        )
        self.path = path
        self.body = body


class PageTooLargeError(HTTPError):
    """A page's body is larger than allowed; raised while reading it, not after.

    Attributes:
        url: the URL of the page.
        size: bytes received (or announced by Content-Length) when it was stopped.
        maximum: the limit in force (``max_page_size``).
    """

    def __init__(self, *, url: str, size: int, maximum: int) -> None:
        super().__init__(
            f"page from {url} is over the size limit: {size:,} bytes or more "
            f"(at most {maximum:,}; raise it with max_page_size=...)",
            url=url,
        )
        self.size = size
        self.maximum = maximum


class RepeatedPageError(HTTPError):
    """The next request is one already made: the API would make the paginator loop.

    Attributes:
        url: the repeated request's URL.
        cursor: what repeated (the cursor, the last item's key, the next URL).
    """

    def __init__(self, *, url: str, cursor: str) -> None:
        super().__init__(
            f"the paginator would loop: {cursor} leads to {url}, which was already fetched",
            url=url,
        )
        self.cursor = cursor


class CrossOriginError(HTTPError):
    """A next URL points to another origin (scheme, host or port) than the first request.

    Following it would send the client's credentials to a host you did not
    name; allow it with ``allow_hosts=[...]``.

    Attributes:
        url: the refused URL.
        origin: the origin of the first request, ``scheme://host:port``.
    """

    def __init__(self, *, url: str, origin: str) -> None:
        super().__init__(
            f"refusing to follow {url}: not on the origin {origin} of the first request "
            "(allow its host with allow_hosts=[...])",
            url=url,
        )
        self.origin = origin


class EmptyPagesError(HTTPError):
    """Too many empty pages in a row said there was more (or one could not say where).

    Attributes:
        url: the URL of the last empty page.
        count: empty pages in a row.
    """

    def __init__(self, reason: str, *, url: str, count: int) -> None:
        super().__init__(f"{reason} ({count} empty page(s) in a row, last {url})", url=url)
        self.count = count


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
