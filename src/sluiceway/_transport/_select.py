"""Which adapter a client gets, and which client is made when none is given.

:func:`transport_for` looks at the type of the ``client=`` argument (without
importing either library) and imports only the adapter of that client. With
no client it makes one: aiohttp when it is installed and the code runs on
asyncio, else httpx (the only one of the two that runs on trio).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ..errors import UnsupportedBackendError
from ._base import on_asyncio

if TYPE_CHECKING:
    from ._base import ClientKind, Transport

__all__ = ["client_kind", "missing_client", "transport_for"]


def client_kind(client: object) -> ClientKind | None:
    """``"httpx"`` for an ``httpx.AsyncClient``, ``"aiohttp"`` for an ``aiohttp.ClientSession``.

    Found from the class and its bases, without importing either library.
    """
    for cls in type(client).__mro__:
        module = cls.__module__.partition(".")[0]
        if module == "httpx" and cls.__name__ == "AsyncClient":
            return "httpx"
        if module == "aiohttp" and cls.__name__ == "ClientSession":
            return "aiohttp"
    return None


def _installed(name: str) -> bool:
    """Whether the package ``name`` can be imported (without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a broken entry
        return False


def missing_client() -> str | None:
    """Why no client can be made here (the pip command to run), or None if one can.

    On asyncio either library will do; on trio only httpx.
    """
    if _installed("httpx"):
        return None
    if on_asyncio():
        if _installed("aiohttp"):
            return None
        return (
            "sluiceway needs an HTTP client: pip install 'sluiceway[aiohttp]' "
            "(or pip install 'sluiceway[http]' for httpx)"
        )
    return "sluiceway needs httpx on trio: pip install 'sluiceway[http]'"


def _default_kind() -> ClientKind:
    """The client made when none is given: aiohttp if installed (on asyncio), else httpx."""
    if on_asyncio() and _installed("aiohttp"):
        return "aiohttp"
    why = missing_client()
    if why is not None:
        raise ImportError(why)
    return "httpx"


def transport_for(
    client: object | None, *, streaming: bool, kind: ClientKind | None = None
) -> Transport:
    """The adapter for ``client``, or for a client of its own made now (of ``kind`` if given).

    ``streaming``: the requests are long-lived event streams (no timeout on
    the whole exchange, no read timeout on a client made here). A client made
    here must be made in a running event loop, on aiohttp.
    """
    if client is not None:
        found = client_kind(client)
        if found is None:
            raise TypeError(
                "expected an httpx.AsyncClient or an aiohttp.ClientSession, "
                f"got {type(client).__name__}"
            )
        kind = found
    elif kind is None:
        kind = _default_kind()
    if kind == "aiohttp":
        from . import _aiohttp

        if client is None and not on_asyncio():
            raise UnsupportedBackendError(
                "aiohttp runs on asyncio only: use httpx on trio", where="HTTP"
            )
        return _aiohttp.AiohttpTransport(cast("Any", client), streaming=streaming)
    from . import _httpx

    return _httpx.HttpxTransport(cast("Any", client), streaming=streaming)
