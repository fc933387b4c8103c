"""The HTTP layer's interface: a request out, a response with a raw body in, errors mapped once.

SSE and pagination speak only to a :class:`Transport`; the adapters
(``_httpx``, ``_aiohttp``) are its two implementations, and
``_select.transport_for`` picks one by the type of the ``client=``
argument, importing its module only then. The client's own exceptions are turned into
:mod:`sluiceway.errors`' transport errors by :meth:`Transport.map_error`,
for the exceptions in :attr:`Transport.errors`: a caller catches those
around a request or a read of the body (no wrapper per chunk) and raises
what ``map_error`` gives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .._core._lifecycle import aclose_iterator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from ..errors import TransportError
    from ._url import URL

__all__ = [
    "BODY_START",
    "BODY_START_WAIT",
    "ClientKind",
    "Headers",
    "Request",
    "Response",
    "Transport",
    "on_asyncio",
    "read_start",
]

ClientKind = Literal["httpx", "aiohttp"]

#: Body bytes kept for the message of an error answer.
BODY_START = 4096
#: Seconds spent at most reading the start of an error answer's body.
BODY_START_WAIT = 0.5


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request, whichever client sends it.

    A custom pagination strategy returns one (or just a URL) for the next page.

    Attributes:
        url: where to send it (absolute, or relative to the page that led to it).
        method: the HTTP method.
        headers: request headers, added to the client's own.
        content: the raw body.
        json: a JSON body (when ``content`` is None).
    """

    url: str
    method: str = "GET"
    headers: Mapping[str, str] | None = None
    content: bytes | None = None
    json: Any = None


class Headers(Mapping[str, str]):
    """Response headers: names case-insensitive, repeated ones joined with ``", "``."""

    __slots__ = ("_items", "_joined")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(items)
        joined: dict[str, str] = {}
        for name, value in self._items:
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        self._joined = joined

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._joined

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def multi_items(self) -> list[tuple[str, str]]:
        """Every header line, as (name, value), in the order received."""
        return list(self._items)

    def get_list(self, name: str) -> list[str]:
        """Every value of ``name``, one per header line."""
        key = name.lower()
        return [value for n, value in self._items if n.lower() == key]

    def lowered(self) -> dict[str, str]:
        """A plain dict, names lower-cased (what the typed errors carry)."""
        return dict(self._joined)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"


class Response:
    """A response whose body is not read yet: status, headers, final URL, then the raw chunks."""

    __slots__ = ("headers", "status", "url")

    def __init__(self, status: int, headers: Headers, url: URL) -> None:
        self.status = status
        self.headers = headers
        #: The URL that answered, after redirects.
        self.url = url

    def chunks(self) -> AsyncIterator[bytes]:
        """The body, decompressed, in the pieces the network gives (the client's errors escape)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release the connection (closing it if the body was not read to its end)."""
        raise NotImplementedError


class Transport:
    """One HTTP client, as the sources use it."""

    __slots__ = ("client", "owned")

    #: Which client library this adapts.
    kind: ClientKind
    #: The client's exceptions that :meth:`map_error` turns into transport errors.
    errors: tuple[type[BaseException], ...]

    def __init__(self, client: Any, owned: bool) -> None:
        #: The adapted client: an httpx.AsyncClient or an aiohttp.ClientSession.
        self.client: Any = client
        #: Whether the client was made here (and is closed by :meth:`aclose`).
        self.owned: bool = owned

    def join(self, url: str) -> URL:
        """``url`` joined to the client's base URL when it is relative."""
        raise NotImplementedError

    def resolve(self, url: str) -> URL:
        """Where a request to ``url`` goes: joined to the base URL, with the client's params."""
        raise NotImplementedError

    async def send(self, request: Request, *, redirects: bool | None = None) -> Response:
        """Send ``request`` to :meth:`resolve`'s URL; the response, its body unread.

        ``redirects``: follow them (True), not (False), or as the client is set (None).
        Raises the client's errors (those of :attr:`errors`) untouched.
        """
        raise NotImplementedError

    def map_error(self, exc: BaseException, url: str) -> TransportError:
        """The transport error of :mod:`sluiceway.errors` for the client's ``exc``."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the client, if it was made here."""
        raise NotImplementedError


def on_asyncio() -> bool:
    """Whether an asyncio event loop runs this code (not trio, not none)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def read_start(
    transport: Transport, response: Response, limit: int = BODY_START, wait: float | None = None
) -> bytes:
    """The start of ``response``'s body, best effort: for an error message, never an error.

    Reads until ``limit`` bytes, the end of the body or ``wait`` seconds in
    all (default :data:`BODY_START_WAIT`, read at each call, so that tests
    can shorten it), whichever comes first, and returns what arrived
    (perhaps nothing). A network error or a timeout while reading ends the
    reading quietly: the answer is already known to be an error, and what
    matters is to report it at once, not to retry or reconnect because of
    its body. Cancellation from outside is not swallowed.
    """
    if wait is None:
        wait = BODY_START_WAIT
    parts: list[bytes] = []
    size = 0
    chunks = response.chunks()
    try:
        with anyio.move_on_after(wait):
            async for part in chunks:
                parts.append(part)
                size += len(part)
                if size >= limit:
                    break
    except transport.errors:
        pass  # what arrived before it is all there is to report
    finally:
        with contextlib.suppress(*transport.errors):
            await aclose_iterator(chunks)
    return b"".join(parts)[:limit]
