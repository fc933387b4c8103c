"""Sending one page's request: built, rate-limited, retried, its body read within a limit.

:class:`Sender` is the paginator's whole conversation with the HTTP layer
(``_transport``, over httpx or aiohttp): one :class:`Call` in, one
successful answer and its body out, or a typed error from
:mod:`sluiceway.errors`. What to retry and how long to wait is decided by
the pure policy in :mod:`._policy`; this module only carries it out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core._lifecycle import aclose_iterator
from .._transport._base import BODY_START, Request, read_start
from .._transport._notice import RetryNotice
from .._transport._select import transport_for
from .._transport._url import URL
from ..errors import HTTPStatusError, PageTooLargeError, RetriesExhaustedError, TransportError
from ._policy import RateLimiter, rate_limit_wait

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._transport._base import Headers, Response, Transport
    from ._policy import Retry

__all__ = ["Answer", "Call", "Sender", "body_text"]


@dataclass(frozen=True, slots=True)
class Call:
    """A request to make: method, URL, body, and the headers of a custom strategy's request."""

    method: str
    url: URL
    content: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] | None = None

    @property
    def key(self) -> tuple[str, str, bytes | None]:
        """What makes two requests the same one (a repeat means a loop)."""
        return (self.method, str(self.url), self.content)


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: its status, headers, final URL and whole body."""

    status: int
    headers: Headers
    url: URL
    raw: bytes


def body_text(raw: bytes) -> str:
    """The start of a body, as text for an error message."""
    return raw[:BODY_START].decode("utf-8", "replace")


class Sender:
    """Sends a paginator's requests through its client, and keeps count of the retries."""

    __slots__ = (
        "_client",
        "_limiter",
        "_transport",
        "headers",
        "max_page_size",
        "on_retry",
        "retries",
        "retry",
    )

    def __init__(
        self,
        client: object | None,
        *,
        headers: dict[str, str],
        retry: Retry | None,
        rate: float | None,
        max_page_size: int,
        on_retry: Callable[[RetryNotice], object] | None,
    ) -> None:
        self._client = client
        #: The client's adapter: made now for the caller's client (it resolves
        #: URLs against its base URL), at open() for a client of our own.
        self._transport: Transport | None = (
            None if client is None else transport_for(client, streaming=False)
        )
        self.headers: dict[str, str] = headers
        self.retry: Retry | None = retry
        self.max_page_size: int = max_page_size
        self.on_retry: Callable[[RetryNotice], object] | None = on_retry
        self._limiter = RateLimiter(rate)
        #: Retries made so far (all pages).
        self.retries: int = 0

    def join(self, url: str) -> URL:
        """``url`` joined to the caller's client's base URL (without its params)."""
        if self._transport is None:
            return URL(url)
        return self._transport.join(url)

    def open(self) -> Transport:
        """The HTTP layer to send with: the caller's client, or one of our own made now."""
        if self._transport is None:
            self._transport = transport_for(None, streaming=False)
        return self._transport

    async def close(self) -> None:
        """Close the client if it is our own (and was made)."""
        if self._transport is not None:
            await self._transport.aclose()

    async def send(self, transport: Transport, call: Call) -> Answer:
        """One page's answer with its body, retried as the policy says."""
        retry = self.retry
        attempt = 0
        while True:
            await self._limiter.acquire()
            status: int | None = None
            headers: Headers | None = None
            body = ""
            error: TransportError | None = None
            sent = self.headers if call.headers is None else {**self.headers, **call.headers}
            if call.content_type is not None:
                sent = {"Content-Type": call.content_type, **sent}
            request = Request(call.url, call.method, sent, content=call.content)
            url = str(call.url)
            try:
                try:
                    response = await transport.send(request)
                    try:
                        self._observe(response.headers)
                        if 200 <= response.status < 300:
                            raw = await self._read(response, url)
                            return Answer(response.status, response.headers, response.url, raw)
                        status, headers = response.status, response.headers
                        # Best effort: a body that stalls or breaks neither holds the
                        # status back nor turns into a network error (a retry).
                        body = body_text(await read_start(transport, response))
                        if retry is None or not retry.retries_status(status, headers):
                            raise HTTPStatusError(
                                url=url, status=status, headers=headers.lowered(), body=body
                            )
                    finally:
                        await response.aclose()
                except transport.errors as exc:
                    raise transport.map_error(exc, url) from exc
            except TransportError as exc:
                error = exc
            attempt += 1
            if retry is None or attempt > retry.attempts:
                raise RetriesExhaustedError(
                    "no retries left" if retry is not None else "retries are off",
                    url=url,
                    status=status,
                    body=body,
                    attempts=attempt,
                ) from error
            delay = retry.wait(attempt, headers, time.time())
            if delay > retry.max_wait:
                raise RetriesExhaustedError(
                    f"the server asks to wait {delay:.0f} s, more than max_wait={retry.max_wait:g}",
                    url=url,
                    status=status,
                    body=body,
                    attempts=attempt,
                ) from error
            self.retries += 1
            if self.on_retry is not None:
                self.on_retry(
                    RetryNotice(attempt=attempt, delay=delay, url=url, error=error, status=status)
                )
            self._limiter.hold(delay)  # every request of this paginator waits

    def _observe(self, headers: Headers) -> None:
        """A spent rate limit (X-RateLimit-Remaining: 0) holds the next request until its reset."""
        wait = rate_limit_wait(headers, time.time())
        if wait is not None:
            retry = self.retry
            cap = retry.max_wait if retry is not None else wait
            self._limiter.hold(min(wait, cap))

    async def _read(self, response: Response, url: str) -> bytes:
        """The whole body, refused as soon as it grows over the size limit."""
        limit = self.max_page_size
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PageTooLargeError(url=url, size=int(declared), maximum=limit)
        parts: list[bytes] = []
        size = 0
        chunks = response.chunks()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PageTooLargeError(url=url, size=size, maximum=limit)
                parts.append(chunk)
        finally:
            await aclose_iterator(chunks)
        return b"".join(parts)
