"""The aiohttp adapter: requests sent to exactly the URL asked for, errors mapped once.

aiohttp runs on asyncio only: a request on another event loop (trio) raises
:class:`~sluiceway.errors.UnsupportedBackendError` before anything is sent.
A URL is sent as :meth:`AiohttpTransport.resolve` gives it (``encoded=True``),
so aiohttp does not re-quote its query; a session's ``raise_for_status`` is
off for the sources' requests, which read error bodies themselves; and an
event stream is never cut by the session's total timeout (5 minutes by
default), only by its connect and read timeouts.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..errors import (
    ConnectError,
    ConnectTimeoutError,
    ReadError,
    ReadTimeoutError,
    TransportError,
    UnsupportedBackendError,
)
from ._base import Headers, Request, Response, Transport, on_asyncio
from ._url import URL

try:
    import aiohttp
    import yarl
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sluiceway needs aiohttp for this client: pip install 'sluiceway[aiohttp]'"
    ) from None

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["AiohttpTransport"]

# Timeout classes of aiohttp 3.10 and later; older versions raise ServerTimeoutError for both.
_CONNECT_TIMEOUT: tuple[type[BaseException], ...] = tuple(
    getattr(aiohttp, name) for name in ("ConnectionTimeoutError",) if hasattr(aiohttp, name)
)


#: What a URL may hold as it is: the unreserved and reserved characters, and escapes.
_KEPT = "!#$%&'()*+,/:;=?@[]~"
_NEEDS_ESCAPE = re.compile(r"[^A-Za-z0-9\-._~!#$%&'()*+,/:;=?@\[\]]")


def _as_sent(url: URL) -> URL:
    """``url`` with only what cannot go on the wire escaped (spaces, non-ASCII, quotes).

    ``yarl.URL(text)`` would also undo escapes such as ``%2F`` in the query,
    which the server may need kept: the URL is sent as written, with
    ``encoded=True``. A non-ASCII host name is left to yarl (IDNA).
    """
    if _NEEDS_ESCAPE.search(url) is None:
        return url
    if not url.host.isascii():
        return URL(str(yarl.URL(url)))
    return URL(quote(url, safe=_KEPT))


def _check_loop() -> None:
    if not on_asyncio():
        raise UnsupportedBackendError(
            "aiohttp runs on asyncio only: pass an httpx.AsyncClient on trio", where="HTTP"
        )


class _AiohttpResponse(Response):
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        super().__init__(response.status, Headers(response.headers.items()), URL(str(response.url)))
        self._response = response

    def chunks(self) -> AsyncIterator[bytes]:
        return self._response.content.iter_any()

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            done = response.release()  # back to the pool
            if inspect.isawaitable(done):  # a coroutine before aiohttp 3.11
                await done
        else:
            response.close()  # a body left unread: the connection cannot be reused


class AiohttpTransport(Transport):
    """An ``aiohttp.ClientSession``, the caller's or one made here."""

    __slots__ = ("_timeout",)

    kind = "aiohttp"
    errors = (aiohttp.ClientError, asyncio.TimeoutError)

    def __init__(self, client: aiohttp.ClientSession | None, *, streaming: bool) -> None:
        owned = client is None
        if client is None:
            _check_loop()
            client = aiohttp.ClientSession(
                # An event stream may be quiet for long: no read timeout then.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=10.0, sock_read=None if streaming else 10.0
                )
            )
        super().__init__(client, owned)
        self.client: aiohttp.ClientSession = client
        self._timeout: aiohttp.ClientTimeout | None = None
        if streaming:  # the session's connect and read timeouts, but none on the whole stream
            own = client.timeout
            self._timeout = aiohttp.ClientTimeout(
                total=None,
                connect=own.connect,
                sock_connect=own.sock_connect,
                sock_read=own.sock_read,
            )

    def resolve(self, url: str) -> URL:
        return self.join(url)  # an aiohttp session has no query parameters of its own

    def join(self, url: str) -> URL:
        # aiohttp keeps its base URL private; it joins a relative URL to it the same way.
        base: yarl.URL | None = getattr(self.client, "_base_url", None)
        target = URL(url)
        if base is not None and not target.is_absolute:
            target = URL(str(base)).urljoin(url)
        return _as_sent(target)

    async def send(self, request: Request, *, redirects: bool | None = None) -> Response:
        _check_loop()
        options: dict[str, Any] = {"raise_for_status": False}
        if request.headers:
            options["headers"] = dict(request.headers)
        if request.content is not None:
            options["data"] = request.content
        elif request.json is not None:
            options["json"] = request.json
        if redirects is not None:
            options["allow_redirects"] = redirects
        if self._timeout is not None:
            options["timeout"] = self._timeout
        response = await self.client.request(request.method, self._target(request.url), **options)
        return _AiohttpResponse(response)

    def _target(self, url: str) -> yarl.URL:
        """The URL to give aiohttp: :meth:`resolve`'s, as written.

        A session with a base URL joins a relative URL to it itself, and before
        aiohttp 3.10 refuses an absolute one: a URL on the base URL's origin
        goes as its path and query (which joins back to the same URL).
        """
        target = self.resolve(url)
        base: yarl.URL | None = getattr(self.client, "_base_url", None)
        if base is not None and target.origin == URL(str(base)).origin:
            parts = urlsplit(target)
            return yarl.URL(parts.path + ("?" + parts.query if parts.query else ""), encoded=True)
        return yarl.URL(target, encoded=True)

    def map_error(self, exc: BaseException, url: str) -> TransportError:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, _CONNECT_TIMEOUT) or (
            isinstance(exc, aiohttp.ServerTimeoutError) and text.startswith("Connection timeout")
        ):
            return ConnectTimeoutError(f"connect timed out: {text}", url=url)
        if isinstance(exc, asyncio.TimeoutError):  # ServerTimeoutError (a read) is one too
            return ReadTimeoutError(f"read timed out: {text}", url=url)
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.InvalidURL):
            return ConnectError(f"cannot connect: {text}", url=url)
        return ReadError(f"{type(exc).__name__}: {text}", url=url)

    async def aclose(self) -> None:
        if self.owned:
            await self.client.close()
