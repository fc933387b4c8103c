"""Both HTTP clients, for the SSE and pagination suites: each end-to-end case runs on each.

``client_kind`` (a fixture of tests/conftest.py) is ``"httpx"`` or
``"aiohttp"``; :func:`open_client` makes a client of that kind from
httpx-style settings. aiohttp runs on asyncio only, so the conftest
deselects the aiohttp cases on trio (they are not run, nor reported as
skipped: there is nothing to run).
"""

from __future__ import annotations

import importlib.util
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ["KINDS", "open_client"]

KINDS: list[Any] = [
    pytest.param("httpx", id="httpx"),
    pytest.param(
        "aiohttp",
        id="aiohttp",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("aiohttp") is None, reason="aiohttp is not installed"
        ),
    ),
]


#: The connect timeout of every client made here (loopback, but a loaded machine).
CONNECT_TIMEOUT = 10.0


@asynccontextmanager
async def open_client(
    kind: str, *, read_timeout: float | None = None, **settings: Any
) -> AsyncIterator[Any]:
    """A client of ``kind``, from httpx's settings (headers, base_url, follow_redirects).

    ``read_timeout``: seconds without data before a read fails (None: no limit,
    as the clients SSE makes for itself); connecting may take CONNECT_TIMEOUT.
    """
    if kind == "httpx":
        import httpx

        timeout = httpx.Timeout(CONNECT_TIMEOUT, read=read_timeout)
        async with httpx.AsyncClient(timeout=timeout, **settings) as client:
            yield client
        return
    import aiohttp

    options: dict[str, Any] = {
        "timeout": aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT, sock_read=read_timeout
        )
    }
    if "headers" in settings:
        options["headers"] = settings.pop("headers")
    if "base_url" in settings:
        options["base_url"] = settings.pop("base_url")
    if settings:
        raise TypeError(f"open_client(): no aiohttp equivalent of {sorted(settings)}")
    async with aiohttp.ClientSession(**options) as client:
        yield client
