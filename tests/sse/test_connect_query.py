"""connect() sends the URL's own query as written, with the client's params it lacks, every time.

Since httpx 0.28 a client made with ``params=`` replaces a URL's query with
its own on every request it builds; the server here answers each request
with one event whose data is the raw query string it received.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from clients import open_client
from sluiceway.sse import connect

if TYPE_CHECKING:
    from .conftest import Server

#: name -> (client settings or None, the URL after the server's, the query the server must see).
CASES: dict[str, tuple[dict[str, Any] | None, str, str]] = {
    "own_client": (None, "/query/s?topic=a%20b&n=1", "topic=a%20b&n=1"),
    "default_client": ({}, "/query/s?topic=a%20b&n=1", "topic=a%20b&n=1"),
    "escapes": ({}, "/query/s?p=%2Fx%3F&q=a+b&e=&f", "p=%2Fx%3F&q=a+b&e=&f"),
    "client_params": (
        {"params": {"key": "k", "topic": "other"}},
        "/query/s?topic=a%20b&n=1",
        "topic=a%20b&n=1&key=k",
    ),
    "client_params_only": ({"params": {"key": "k"}}, "/query/s", "key=k"),
    "base_url": (
        {"params": {"key": "k"}, "base_url": "/query/"},
        "s?topic=a&n=1",
        "topic=a&n=1&key=k",
    ),
}
#: What an aiohttp session can be given (it has no params of its own); its
#: base_url may have no path before aiohttp 3.10.
AIOHTTP_CASES: dict[str, tuple[dict[str, Any] | None, str, str]] = {
    "default_client": ({}, "/query/s?topic=a%20b&n=1", "topic=a%20b&n=1"),
    "escapes": ({}, "/query/s?p=%2Fx%3F&q=a+b&e=&f", "p=%2Fx%3F&q=a+b&e=&f"),
    "base_url": ({"base_url": ""}, "/query/s?topic=a&n=1", "topic=a&n=1"),
}
PARAMS = [
    *[pytest.param("httpx", case, id=f"httpx-{case}") for case in CASES],
    *[pytest.param("aiohttp", case, id=f"aiohttp-{case}") for case in AIOHTTP_CASES],
]


class TestQuery:
    @pytest.mark.parametrize(("client_kind", "case"), PARAMS)
    async def test_the_query_is_sent_on_every_connection(
        self, sse_server: Server, client_kind: str, case: str
    ) -> None:
        """The URL's own query as written, plus the client's params it lacks, reconnects too."""
        settings, path, expected = (CASES if client_kind == "httpx" else AIOHTTP_CASES)[case]
        async with AsyncExitStack() as stack:
            client = None
            url = sse_server.url + path
            if settings is not None:
                settings = dict(settings)
                if "base_url" in settings:
                    settings["base_url"] = sse_server.url + settings["base_url"]
                    url = path
                client = await stack.enter_async_context(open_client(client_kind, **settings))
            with anyio.fail_after(10):
                # The body ends after one event: the second comes from a reconnect.
                events = await connect(url, client=client).take(2).to_list()
        assert [event.data for event in events] == [expected, expected]
