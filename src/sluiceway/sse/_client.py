"""connect(): a reconnecting Server-Sent Events client over httpx or aiohttp.

The client is a thin loop around :class:`Decoder`: it reads the body's raw
chunks from the HTTP layer (``_transport``, whichever client it adapts),
feeds them, and yields the events one at a time, so the stream's
``last_event_id`` is always that of the last event the consumer was given.
Reconnection follows the EventSource rules: after a network error (any
method) and after a clean end of the body for GET, wait the server's
``retry`` time (or a capped exponential backoff with jitter) and send the
last event ID again. Answers that are not an event stream end it with
:class:`~sluiceway.errors.SSEResponseError`, without reconnecting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from operator import length_hint
from typing import TYPE_CHECKING, Any

import anyio

from .._core._callables import check_count, check_seconds
from .._core._lifecycle import aclose_iterator
from .._core._nodes import Source
from .._stream import Stream
from .._transport._backoff import backoff_delay
from .._transport._base import Request, read_start
from .._transport._notice import RetryNotice
from .._transport._select import client_kind, transport_for
from .._transport._url import url_text
from ..errors import ReadTimeoutError, SSELimitError, SSEResponseError, TransportError
from ._decoder import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_LINE_SIZE, Decoder
from ._event import Event

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping

    from .._core._scope import Scope
    from .._transport._base import Response, Transport

__all__ = ["EventStream", "connect"]

#: While events are small (under _SMALL_EVENT bytes on average), a larger chunk
#: is fed to the decoder in slices of _SLICE bytes: each batch of events is
#: handed out before the next is built, so most events die before the
#: collector's youngest generation fills (700 objects) instead of being
#: promoted and traced again (a 64 KiB read of a token stream is ~700 events,
#: a 16 KiB slice ~180; smaller slices cost more calls than they save).
_SLICE = 16384
_SMALL_EVENT = 256
#: Most bytes of chunks without a line end held before they are fed.
_HOLD = 65536
#: Longest reconnect wait taken from a server's retry (ms): 31,700 years, and a float.
_FOREVER_MS = 10**15


@dataclass(frozen=True, slots=True)
class _ConnectOptions:
    """What :func:`connect` was asked for, checked: the connection loop's settings."""

    url: str
    method: str
    headers: dict[str, str]
    json: Any
    last_event_id: str | None
    #: Reconnect after a clean end of the body (network errors always reconnect).
    reconnect: bool
    max_reconnects: int | None
    idle_timeout: float | None
    backoff_initial: float
    backoff_max: float
    max_line_size: int
    max_event_size: int
    on_reconnect: Callable[[RetryNotice], object] | None


class _ConnectionLoop(Source):
    """The connection loop (connect, read, decode, reconnect), as the node of an EventStream."""

    __slots__ = (
        "_batch",
        "_client",
        "_committed",
        "_cursor",
        "_decoder",
        "_options",
        "_rand",
        "_transport",
    )

    def __init__(
        self,
        client: object | None,
        options: _ConnectOptions,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        #: An httpx.AsyncClient or an aiohttp.ClientSession (None: one made at the start).
        self._client = client
        self._transport: Transport | None = None
        self._options = options
        #: The random source of the backoff's jitter (a test passes its own).
        self._rand = rand
        # The events of the chunk being handed out, and the iterator over them:
        # how far it got tells which event the consumer has last, without a
        # store per event. _committed is the id of the last event of the
        # chunks before (or the id to resume from).
        self._batch: list[Event] = []
        self._cursor: Iterator[Event] = iter(self._batch)
        self._committed: str = options.last_event_id or ""
        # The decoder of the current (or last) connection: it keeps the
        # server's retry, and the next one starts from it.
        self._decoder: Decoder | None = None

    @property
    def last_event_id(self) -> str:
        """The id of the last event the consumer was given."""
        given = len(self._batch) - length_hint(self._cursor)
        return self._batch[given - 1].id if given else self._committed

    @property
    def reconnection_time(self) -> int | None:
        """The server's last ``retry``, in milliseconds (None if it sent none)."""
        return None if self._decoder is None else self._decoder.reconnection_time

    def run(self, scope: Scope | None) -> AsyncGenerator[Event, None]:
        self._transport = transport = transport_for(self._client, streaming=True)
        return self._events(transport)

    async def release(self) -> None:
        try:
            await super().release()
        finally:
            if self._transport is not None:
                await self._transport.aclose()

    def describe(self) -> str:
        return f"sse.connect({self._options.url!r})"

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        headers.update(self._options.headers)
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    def _delay(self, attempt: int) -> float:
        """Seconds before reconnect number ``attempt``: the server's ``retry``, else the backoff."""
        if self.reconnection_time is not None:
            # A float holds no more than ~1e308; any wait of 1e15 ms is forever anyway.
            return min(self.reconnection_time, _FOREVER_MS) / 1000
        opts = self._options
        return backoff_delay(attempt, opts.backoff_initial, opts.backoff_max, self._rand)

    async def _events(self, transport: Transport) -> AsyncGenerator[Event, None]:
        # One generator from the socket to the consumer: each event costs one
        # yield, not one per layer.
        opts = self._options
        reconnect, idle = opts.reconnect, opts.idle_timeout
        errors = transport.errors  # the client's own, mapped to TransportError as they come
        attempt = 0
        try:
            while True:
                error: TransportError | None = None
                delivered = False
                try:
                    response = await self._connect(transport)
                    try:
                        decoder = Decoder(
                            max_line_size=opts.max_line_size,
                            max_event_size=opts.max_event_size,
                            last_event_id=self.last_event_id,
                        )
                        decoder.reconnection_time = self.reconnection_time
                        self._decoder = decoder  # reconnection_time reads its retry
                        chunks = response.chunks()
                        if idle is not None:
                            chunks = self._within(idle, chunks, response.url)
                        feed = decoder.feed
                        small_events = False
                        slices: list[bytes] | None
                        # Chunks with no line end can finish no event: they are held
                        # (up to _HOLD bytes) and fed with the next chunk that has one,
                        # which saves a call per small chunk inside a long line.
                        held: list[bytes] = []
                        held_size = 0
                        try:
                            async for chunk in chunks:
                                if 0x0A not in chunk and 0x0D not in chunk and held_size < _HOLD:
                                    held.append(chunk)
                                    held_size += len(chunk)
                                    continue
                                if held:
                                    held.append(chunk)
                                    chunk = b"".join(held)
                                    held.clear()
                                    held_size = 0
                                if small_events and len(chunk) > _SLICE:
                                    slices = [
                                        chunk[start : start + _SLICE]
                                        for start in range(0, len(chunk), _SLICE)
                                    ]
                                    slices.reverse()
                                    chunk = slices.pop()
                                else:
                                    slices = None
                                while True:
                                    try:
                                        events = feed(chunk)
                                    except SSELimitError as exc:  # its events come first
                                        self._batch = exc.events
                                        self._cursor = cursor = iter(exc.events)
                                        for event in cursor:
                                            yield event
                                        raise
                                    if events:
                                        small_events = len(events) * _SMALL_EVENT > len(chunk)
                                        delivered = True  # read only after the loop
                                        self._batch = events
                                        self._cursor = cursor = iter(events)
                                        for event in cursor:
                                            yield event
                                        self._committed = events[-1].id
                                        self._batch = []
                                    if not slices:
                                        break
                                    chunk = slices.pop()
                        except TransportError:  # the idle timeout
                            if held:  # the decoder sees every byte: its limits hold as before
                                feed(b"".join(held))
                            raise
                        except errors as exc:
                            if held:
                                feed(b"".join(held))
                            raise transport.map_error(exc, response.url) from exc
                        else:
                            if held:
                                feed(b"".join(held))
                        finally:
                            await aclose_iterator(chunks)
                    finally:
                        await response.aclose()
                    if not reconnect:
                        return  # a POST stream ends with its body
                except TransportError as exc:
                    error = exc  # network errors reconnect, whatever the method
                if delivered:
                    attempt = 0  # the connection was good: start the backoff over
                attempt += 1
                limit = opts.max_reconnects
                if limit is not None and attempt > limit:
                    if error is not None:
                        raise error
                    return
                delay = self._delay(attempt)
                notify = opts.on_reconnect
                if notify is not None:
                    notify(
                        RetryNotice(
                            attempt=attempt,
                            delay=delay,
                            url=opts.url,
                            error=error,
                            last_event_id=self.last_event_id,
                        )
                    )
                await anyio.sleep(delay)
        finally:
            await transport.aclose()

    async def _connect(self, transport: Transport) -> Response:
        """Send the request; the response if it is an event stream, else SSEResponseError."""
        opts = self._options
        request = Request(opts.url, opts.method, self._headers(), json=opts.json)
        try:
            response = await transport.send(request, redirects=True)
        except transport.errors as exc:
            raise transport.map_error(exc, opts.url) from exc
        try:
            await self._check(transport, response)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def _within(
        self, idle: float, chunks: AsyncIterator[bytes], url: str
    ) -> AsyncIterator[bytes]:
        """The chunks, raising ReadTimeoutError after ``idle`` seconds without one."""
        try:
            while True:
                chunk: bytes | None = None
                with anyio.move_on_after(idle) as waited:
                    chunk = await anext(chunks, None)
                if waited.cancelled_caught:
                    raise ReadTimeoutError(f"sse: no data for {idle:g} s (idle_timeout)", url=url)
                if chunk is None:
                    return
                yield chunk  # outside the cancel scope: the consumer's time is not counted
        finally:
            await aclose_iterator(chunks)

    async def _check(self, transport: Transport, response: Response) -> None:
        content_type = response.headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        status = response.status
        if status == 200 and mime == "text/event-stream":
            return
        # Best effort, for the message: a body that stalls or breaks must
        # neither hold the error back nor become a network error (a reconnect).
        body = await read_start(transport, response)
        if status == 204:
            why = "the server asked not to reconnect (204 No Content)"
        elif status != 200:
            why = "not an event stream: HTTP status"
        else:
            why = f"not an event stream: Content-Type {content_type!r}"
        raise SSEResponseError(
            why,
            url=str(response.url),
            status=status,
            headers=response.headers.lowered(),
            body=body.decode("utf-8", "replace"),
        )


class EventStream(Stream[Event]):
    """The Stream of events :func:`connect` returns, with its reconnection state.

    ``last_event_id`` is the id of the last event given to the consumer (so a
    resume never skips one), and ``reconnection_time`` the server's last
    ``retry`` in milliseconds (None if it sent none): save them to resume in
    another process with ``connect(..., last_event_id=...)``.
    """

    __slots__ = ("_source",)

    def __init__(self, source: _ConnectionLoop) -> None:
        super().__init__(source)
        self._source = source

    @property
    def last_event_id(self) -> str:
        return self._source.last_event_id

    @property
    def reconnection_time(self) -> int | None:
        return self._source.reconnection_time


def connect(
    url: str,
    *,
    client: Any = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    last_event_id: str | None = None,
    reconnect: bool | None = None,
    max_reconnects: int | None = None,
    idle_timeout: float | None = None,
    backoff_initial: float = 1.0,
    backoff_max: float = 30.0,
    max_line_size: int = DEFAULT_MAX_LINE_SIZE,
    max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
    on_reconnect: Callable[[RetryNotice], object] | None = None,
) -> EventStream:
    """A stream of the events at ``url``, reconnecting as a browser's EventSource does.

    Args:
        url: the event stream's URL.
        client: an ``httpx.AsyncClient`` or an ``aiohttp.ClientSession`` to
            use (its auth, proxies, limits, timeouts but the total one, and an
            httpx client's ``params`` where the URL has no value of that
            name); by default one is made and closed with the stream: aiohttp
            when it is installed (on asyncio), else httpx.
        method: ``"GET"`` (EventSource) or ``"POST"`` (LLM APIs), or any other.
        headers: extra request headers (``Accept: text/event-stream`` and
            ``Last-Event-ID`` are set for you).
        json: a JSON request body.
        last_event_id: resume after this id (sent as ``Last-Event-ID``).
        reconnect: reconnect after a clean end of the body; default True for
            GET, False otherwise. After a network error the stream always
            reconnects (up to ``max_reconnects``).
        max_reconnects: reconnects in a row without an event in between before
            giving up (the network error is raised); None: no limit.
        idle_timeout: seconds without any bytes (comments count) before the
            connection is treated as dropped and reopened.
        backoff_initial, backoff_max: the capped exponential backoff (with
            jitter) used while the server sent no ``retry``.
        max_line_size, max_event_size: the decoder's limits.
        on_reconnect: called with a :class:`RetryNotice` before each wait.

    Raises:
        SSEResponseError: while iterating, when the server answers 204, another
            status than 200 or another Content-Type than text/event-stream; at
            once, with what arrived of the body within half a second.
        TransportError: while iterating, the last network error (ConnectError,
            ReadError, ReadTimeoutError for the idle timeout) once
            ``max_reconnects`` reconnects in a row failed.
    """
    text = url_text(url, "connect()")
    if client is not None and client_kind(client) is None:
        raise TypeError(
            "connect() expects client= to be an httpx.AsyncClient or an aiohttp.ClientSession, "
            f"got {type(client).__name__}"
        )
    if max_reconnects is not None:
        check_count(max_reconnects, "connect", "max_reconnects")
    options = _ConnectOptions(
        url=text,
        method=method.upper(),
        headers=dict(headers or {}),
        json=json,
        last_event_id=last_event_id,
        reconnect=method.upper() == "GET" if reconnect is None else reconnect,
        max_reconnects=max_reconnects,
        idle_timeout=None
        if idle_timeout is None
        else check_seconds(idle_timeout, "connect", "idle_timeout"),
        backoff_initial=check_seconds(backoff_initial, "connect", "backoff_initial"),
        backoff_max=check_seconds(backoff_max, "connect", "backoff_max"),
        max_line_size=check_count(max_line_size, "connect", "max_line_size", minimum=1),
        max_event_size=check_count(max_event_size, "connect", "max_event_size", minimum=1),
        on_reconnect=on_reconnect,
    )
    return EventStream(_ConnectionLoop(client, options))
