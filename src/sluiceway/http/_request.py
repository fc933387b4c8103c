"""Sending one page's request: built, rate-limited, retried, its body read within a limit.

:class:`Sender` is the paginator's whole conversation with the HTTP client:
one :class:`Call` in, one successful response and its body out, or a typed
error from :mod:`sluiceway.errors`. What to retry and how long to wait is
decided by the pure policy in :mod:`._policy`; this module only carries it
out. It is the part a transport layer replaces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core._lifecycle import aclose_iterator
from .._transport._httpx import BODY_START, build_request, read_start
from .._transport._notice import RetryNotice
from ..errors import HTTPStatusError, PageTooLargeError, RetriesExhaustedError
from ._policy import RateLimiter, rate_limit_wait

try:
    import httpx
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("sluiceway.http needs httpx: pip install 'sluiceway[http]'") from None

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._policy import Retry

__all__ = ["Call", "Sender", "body_text"]

#: Response headers that describe the encoded body, dropped from a page's response copy.
_ENCODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass(frozen=True, slots=True)
class Call:
    """A request to make: built from method, URL and content, or the user's own."""

    method: str
    url: httpx.URL
    content: bytes | None = None
    content_type: str | None = None
    request: httpx.Request | None = None

    @property
    def key(self) -> tuple[str, str, bytes | None]:
        """What makes two requests the same one (a repeat means a loop)."""
        return (self.method, str(self.url), self.content)


def body_text(raw: bytes) -> str:
    """The start of a body, as text for an error message."""
    return raw[:BODY_START].decode("utf-8", "replace")


class Sender:
    """Sends a paginator's requests through its client, and keeps count of the retries."""

    __slots__ = (
        "_client",
        "_limiter",
        "_own_client",
        "headers",
        "max_page_size",
        "on_retry",
        "retries",
        "retry",
    )

    def __init__(
        self,
        client: httpx.AsyncClient | None,
        *,
        headers: dict[str, str],
        retry: Retry | None,
        rate: float | None,
        max_page_size: int,
        on_retry: Callable[[RetryNotice], object] | None,
    ) -> None:
        self._client = client
        self._own_client = client is None
        self.headers: dict[str, str] = headers
        self.retry: Retry | None = retry
        self.max_page_size: int = max_page_size
        self.on_retry: Callable[[RetryNotice], object] | None = on_retry
        self._limiter = RateLimiter(rate)
        #: Retries made so far (all pages).
        self.retries: int = 0

    def open(self) -> httpx.AsyncClient:
        """The client to send with: the caller's, or one of our own made now."""
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=True)
        return self._client

    async def close(self) -> None:
        """Close the client if it is our own (and was made)."""
        if self._own_client and self._client is not None:
            await self._client.aclose()

    async def send(self, client: httpx.AsyncClient, call: Call) -> tuple[httpx.Response, bytes]:
        """One page's response and body, retried as the policy says."""
        retry = self.retry
        attempt = 0
        while True:
            await self._limiter.acquire()
            status: int | None = None
            headers: httpx.Headers | None = None
            body = ""
            error: BaseException | None = None
            request = call.request
            if request is None:
                sent = self.headers
                if call.content_type is not None:
                    sent = {"Content-Type": call.content_type, **sent}
                request = build_request(
                    client, call.method, call.url, headers=sent, content=call.content
                )
            url = str(request.url)
            try:
                response = await client.send(request, stream=True)
                try:
                    self._observe(response.headers)
                    if response.is_success:
                        raw = await self._read(response, url)
                        return self._with_body(response, raw), raw
                    status, headers = response.status_code, response.headers
                    # Best effort: a body that stalls or breaks neither holds the
                    # status back nor turns into a network error (a retry).
                    body = body_text(await read_start(response))
                    if retry is None or not retry.retries_status(status, headers):
                        raise HTTPStatusError(
                            url=url,
                            status=status,
                            headers={k.lower(): v for k, v in headers.items()},
                            body=body,
                        )
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
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

    def _observe(self, headers: httpx.Headers) -> None:
        """A spent rate limit (X-RateLimit-Remaining: 0) holds the next request until its reset."""
        wait = rate_limit_wait(headers, time.time())
        if wait is not None:
            retry = self.retry
            cap = retry.max_wait if retry is not None else wait
            self._limiter.hold(min(wait, cap))

    async def _read(self, response: httpx.Response, url: str) -> bytes:
        """The whole body, refused as soon as it grows over the size limit."""
        limit = self.max_page_size
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise PageTooLargeError(url=url, size=int(declared), maximum=limit)
        parts: list[bytes] = []
        size = 0
        chunks = response.aiter_bytes()
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise PageTooLargeError(url=url, size=size, maximum=limit)
                parts.append(chunk)
        finally:
            await aclose_iterator(chunks)
        return b"".join(parts)

    @staticmethod
    def _with_body(response: httpx.Response, raw: bytes) -> httpx.Response:
        """A copy of ``response`` whose body is read: ``.json()``, ``.text`` work on it."""
        headers = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in _ENCODING_HEADERS
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=raw, request=response.request
        )
