"""connect() sends the URL's own query as written, with the client's params it lacks, every time.

Since httpx 0.28 a client made with ``params=`` replaces a URL's query with
its own on every request it builds; the server here answers each request
with one event whose data is the raw query string it received.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import pytest

from sluiceway.sse import connect

if TYPE_CHECKING:
    from .conftest import Server

#: name -> (client settings or None, the URL after the server's, the query the server must see).
CASES: dict[str, tuple[dict[str, Any] | None, str, str]] = {
    "own_client": (None, "/query/s?topic=a%20b&n=1", "topic=a%20b&n=1"),
    "default_client": ({}, "/query/s?topic=a%20b&n=1", "topic=a%20b&n=1"),
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


class TestQuery:
    @pytest.mark.parametrize("case", list(CASES))
    async def test_the_query_is_sent_on_every_connection(
        self, sse_server: Server, case: str
    ) -> None:
        """The URL's own query as written, plus the client's params it lacks, reconnects too."""
        settings, path, expected = CASES[case]
        async with AsyncExitStack() as stack:
            client = None
            url = sse_server.url + path
            if settings is not None:
                settings = dict(settings)
                if "base_url" in settings:
                    settings["base_url"] = sse_server.url + settings["base_url"]
                    url = path
                client = await stack.enter_async_context(httpx.AsyncClient(**settings))
            with anyio.fail_after(10):
                # The body ends after one event: the second comes from a reconnect.
                events = await connect(url, client=client).take(2).to_list()
        assert [event.data for event in events] == [expected, expected]
