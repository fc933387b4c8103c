"""The httpx adapter: requests sent to exactly the URL asked for, errors mapped once.

Since httpx 0.28, a query given as ``params=`` (to ``build_request`` or to
the client itself) replaces the URL's own query instead of adding to it.
:func:`join_url` and :func:`request_url` compute the URL the same way with
every httpx version, and :func:`build_request` makes sure the request
carries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import (
    ConnectError,
    ConnectTimeoutError,
    ReadError,
    ReadTimeoutError,
    TransportError,
)
from ._base import Headers, Request, Response, Transport
from ._url import URL

try:
    import httpx
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("sluiceway needs httpx for HTTP: pip install 'sluiceway[http]'") from None

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["HttpxTransport", "build_request", "join_url", "request_url"]


def join_url(client: httpx.AsyncClient | None, url: str | httpx.URL) -> httpx.URL:
    """``url``, joined to the client's ``base_url`` when it is relative, as httpx joins it."""
    target = httpx.URL(url)
    if client is not None and target.is_relative_url:
        base = client.base_url
        target = base.copy_with(raw_path=base.raw_path + target.raw_path.lstrip(b"/"))
    return target


def request_url(client: httpx.AsyncClient, url: str | httpx.URL) -> httpx.URL:
    """The URL a request of ``client`` to ``url`` goes to.

    ``url`` joined to the client's ``base_url`` if relative, its own query
    kept, and each of the client's own ``params`` that the query lacks added.
    """
    target = join_url(client, url)
    own = URL(str(target))
    return httpx.URL(own.copy_add_missing(client.params.multi_items()))


def build_request(
    client: httpx.AsyncClient, method: str, url: str | httpx.URL, **options: Any
) -> httpx.Request:
    """``client.build_request(method, url, **options)``, sent to :func:`request_url`'s URL.

    The client still adds its headers, cookies, timeouts and auth; only the
    URL is ours, so that its query survives whatever the httpx version does
    with the client's ``params``.
    """
    target = request_url(client, url)
    request = client.build_request(method, target, **options)
    if request.url != target:  # httpx >= 0.28 put the client's params in place of the query
        request.url = target
    return request


class _HttpxResponse(Response):
    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            response.status_code,
            Headers(response.headers.multi_items()),
            URL(str(response.url)),
        )
        self._response = response

    def chunks(self) -> AsyncIterator[bytes]:
        """Straight from the transport's stream when nothing is to decompress.

        ``aiter_bytes()`` passes each chunk through ``aiter_raw()``, a content
        decoder and two chunkers, each an async generator or call of its own:
        with many small chunks (a token stream written event by event) that is
        a large share of the time. An encoded body (gzip, br, ...) still goes
        through it.
        """
        response = self._response
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        stream = response.stream
        if encoding in ("", "identity") and isinstance(stream, httpx.AsyncByteStream):
            response.is_stream_consumed = True  # as aiter_raw() marks it
            return stream.__aiter__()
        return response.aiter_bytes()

    async def aclose(self) -> None:
        await self._response.aclose()


class HttpxTransport(Transport):
    """An ``httpx.AsyncClient``, the caller's or one made here."""

    __slots__ = ()

    kind = "httpx"
    errors = (httpx.TransportError, httpx.DecodingError)

    def __init__(self, client: httpx.AsyncClient | None, *, streaming: bool) -> None:
        owned = client is None
        if client is None:
            # An event stream may be quiet for long: no read timeout on a client of our own.
            timeout = httpx.Timeout(10.0, read=None) if streaming else httpx.Timeout(10.0)
            client = httpx.AsyncClient(timeout=timeout, follow_redirects=True)
        super().__init__(client, owned)
        self.client: httpx.AsyncClient = client

    def join(self, url: str) -> URL:
        return URL(str(join_url(self.client, url)))

    def resolve(self, url: str) -> URL:
        return URL(str(request_url(self.client, url)))

    async def send(self, request: Request, *, redirects: bool | None = None) -> Response:
        client = self.client
        built = build_request(
            client,
            request.method,
            request.url,
            headers=dict(request.headers) if request.headers else None,
            content=request.content,
            json=request.json,
        )
        if redirects is None:
            response = await client.send(built, stream=True)
        else:
            response = await client.send(built, stream=True, follow_redirects=redirects)
        return _HttpxResponse(response)

    def map_error(self, exc: BaseException, url: str) -> TransportError:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
            return ConnectTimeoutError(f"connect timed out: {text}", url=url)
        if isinstance(exc, httpx.TimeoutException):
            return ReadTimeoutError(f"read timed out: {text}", url=url)
        if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.ProxyError):
            return ConnectError(f"cannot connect: {text}", url=url)
        return ReadError(f"{type(exc).__name__}: {text}", url=url)

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()
