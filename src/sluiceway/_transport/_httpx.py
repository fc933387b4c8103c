"""The httpx adapter: requests sent to exactly the URL asked for, and error bodies read safely.

Two things httpx does not do the way the sources need:

- Since httpx 0.28, a query given as ``params=`` (to ``build_request`` or to
  the client itself) replaces the URL's own query instead of adding to it.
  :func:`join_url`, :func:`merge_params` and :func:`request_url` compute
  the URL the same way with every httpx version, and :func:`build_request`
  makes sure the request carries it.
- Reading the start of an error answer's body, for the error message, must
  never wait on a body that stalls, nor turn a network error in that body
  into a reconnect or a retry: :func:`read_start` takes what arrives soon
  and gives up quietly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from .._core._lifecycle import aclose_iterator

try:
    import httpx
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError("sluiceway needs httpx for HTTP: pip install 'sluiceway[http]'") from None

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    QueryParamTypes = Mapping[str, Any] | Sequence[tuple[str, Any]] | httpx.QueryParams

__all__ = [
    "BODY_START",
    "BODY_START_WAIT",
    "add_missing",
    "build_request",
    "join_url",
    "merge_params",
    "read_start",
    "request_url",
]

#: Body bytes kept for the message of an error answer.
BODY_START = 4096
#: Seconds spent at most reading the start of an error answer's body.
BODY_START_WAIT = 0.5


def join_url(client: httpx.AsyncClient | None, url: str | httpx.URL) -> httpx.URL:
    """``url``, joined to the client's ``base_url`` when it is relative, as httpx joins it."""
    target = httpx.URL(url)
    if client is not None and target.is_relative_url:
        base = client.base_url
        target = base.copy_with(raw_path=base.raw_path + target.raw_path.lstrip(b"/"))
    return target


def merge_params(url: httpx.URL, params: QueryParamTypes | None) -> httpx.URL:
    """``url`` with ``params`` added to its query; a name given replaces the URL's values of it.

    The query the URL has is kept as written unless a name in ``params``
    replaces one of its parameters.
    """
    if not params:
        return url
    given = httpx.QueryParams(params)  # type: ignore[arg-type]  # httpx checks it
    own = url.params
    if any(name in own for name in given):
        return url.copy_with(params=own.merge(given))
    return _append(url, given.multi_items())


def add_missing(url: httpx.URL, params: httpx.QueryParams) -> httpx.URL:
    """``url`` with each of ``params`` whose name its query lacks (all values of that name)."""
    own = url.params
    return _append(url, [(name, value) for name, value in params.multi_items() if name not in own])


def _append(url: httpx.URL, pairs: list[tuple[str, str]]) -> httpx.URL:
    """``url`` with ``pairs`` after its query, the query it had left as written."""
    if not pairs:
        return url
    extra = str(httpx.QueryParams(tuple(pairs))).encode("ascii")
    return url.copy_with(query=url.query + b"&" + extra if url.query else extra)


def request_url(client: httpx.AsyncClient, url: str | httpx.URL) -> httpx.URL:
    """The URL a request of ``client`` to ``url`` goes to.

    ``url`` joined to the client's ``base_url`` if relative, its own query
    kept, and each of the client's own ``params`` that the query lacks added.
    """
    return add_missing(join_url(client, url), client.params)


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


async def read_start(
    response: httpx.Response, limit: int = BODY_START, wait: float | None = None
) -> bytes:
    """The start of ``response``'s body, best effort: for an error message, never an error.

    Reads until ``limit`` bytes, the end of the body or ``wait`` seconds in
    all (default :data:`BODY_START_WAIT`, read at each call, so that tests
    can shorten it), whichever comes first, and returns what arrived
    (perhaps nothing). A network error, a timeout or a decoding error while
    reading ends the reading quietly: the answer is already known to be an
    error, and what matters is to report it at once, not to retry or
    reconnect because of its body. Cancellation from outside is not swallowed.
    """
    if wait is None:
        wait = BODY_START_WAIT
    parts: list[bytes] = []
    size = 0
    chunks = response.aiter_bytes()
    try:
        with anyio.move_on_after(wait):
            async for part in chunks:
                parts.append(part)
                size += len(part)
                if size >= limit:
                    break
    except (httpx.HTTPError, httpx.StreamError):
        pass  # what arrived before it is all there is to report
    finally:
        await aclose_iterator(chunks)
    return b"".join(parts)[:limit]
