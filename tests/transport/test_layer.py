"""The HTTP layer: which adapter a client gets, and each client's errors as sluiceway's."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import httpx
import pytest

from clients import open_client
from sluiceway._transport._base import Headers, Request, on_asyncio
from sluiceway._transport._select import client_kind, transport_for
from sluiceway.errors import (
    ConnectError,
    ConnectTimeoutError,
    ReadError,
    ReadTimeoutError,
    TransportError,
    UnsupportedBackendError,
)


class TestChoice:
    async def test_the_client_type_picks_the_adapter(self, client_kind: str) -> None:
        """An httpx.AsyncClient gets the httpx adapter, an aiohttp.ClientSession aiohttp's."""
        async with open_client(client_kind) as client:
            transport = transport_for(client, streaming=False)
            assert transport.kind == client_kind
            assert not transport.owned
            await transport.aclose()  # the caller's client stays open
            assert not (client.is_closed if client_kind == "httpx" else client.closed)

    def test_subclasses_are_recognised_without_importing(self) -> None:
        class Mine(httpx.AsyncClient):
            pass

        assert client_kind(Mine()) == "httpx"
        assert client_kind(httpx.Client()) is None
        assert client_kind(object()) is None
        with pytest.raises(TypeError, match=r"httpx\.AsyncClient or an aiohttp\.ClientSession"):
            transport_for(httpx.Client(), streaming=False)

    async def test_the_default_prefers_aiohttp_on_asyncio(self) -> None:
        """With no client: aiohttp on asyncio (it is installed here), httpx on trio."""
        transport = transport_for(None, streaming=True)
        try:
            assert transport.owned
            assert transport.kind == ("aiohttp" if on_asyncio() else "httpx")
        finally:
            await transport.aclose()

    async def test_aiohttp_is_refused_on_trio(self) -> None:
        if on_asyncio():
            transport = transport_for(None, streaming=False, kind="aiohttp")
            await transport.aclose()
            return
        with pytest.raises(UnsupportedBackendError, match="asyncio only"):
            transport_for(None, streaming=False, kind="aiohttp")


def nobody_listens() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/x"


class TestErrors:
    async def test_a_refused_connection(self, client_kind: str) -> None:
        """Nobody listening: ConnectError naming the URL, the client's error as its cause."""
        url = nobody_listens()
        async with open_client(client_kind) as client:
            transport = transport_for(client, streaming=False)
            with pytest.raises(transport.errors) as caught:
                await transport.send(Request(url))
            error = transport.map_error(caught.value, url)
        assert type(error) is ConnectError
        assert error.url == url
        assert url in str(error)

    @pytest.mark.parametrize(
        ("raised", "expected"),
        [
            (httpx.ConnectTimeout("slow"), ConnectTimeoutError),
            (httpx.PoolTimeout("full"), ConnectTimeoutError),
            (httpx.ReadTimeout("slow"), ReadTimeoutError),
            (httpx.WriteTimeout("slow"), ReadTimeoutError),
            (httpx.ConnectError("refused"), ConnectError),
            (httpx.UnsupportedProtocol("ftp"), ConnectError),
            (httpx.ReadError("reset"), ReadError),
            (httpx.RemoteProtocolError("cut"), ReadError),
            (httpx.DecodingError("bad gzip"), ReadError),
        ],
    )
    def test_httpx_errors(self, raised: Exception, expected: type[TransportError]) -> None:
        transport = transport_for(httpx.AsyncClient(), streaming=False)
        assert isinstance(raised, transport.errors)
        error = transport.map_error(raised, "http://a.example/")
        assert type(error) is expected
        assert isinstance(error, TimeoutError) == ("Timeout" in expected.__name__)

    @pytest.mark.parametrize(
        ("raised", "expected"),
        [
            (aiohttp.ServerTimeoutError("Connection timeout to host x"), ConnectTimeoutError),
            (aiohttp.ServerTimeoutError("Timeout on reading data from socket"), ReadTimeoutError),
            (TimeoutError(), ReadTimeoutError),
            (aiohttp.ServerDisconnectedError(), ReadError),
            (aiohttp.ClientPayloadError("Response payload is not completed"), ReadError),
            (aiohttp.ClientOSError(104, "reset"), ReadError),
            (aiohttp.InvalidURL("http://"), ConnectError),
        ],
    )
    @pytest.mark.parametrize("client_kind", ["aiohttp"])  # so it is deselected on trio
    async def test_aiohttp_errors(
        self, client_kind: str, raised: Exception, expected: type[TransportError]
    ) -> None:
        async with aiohttp.ClientSession() as session:
            transport = transport_for(session, streaming=False)
            assert isinstance(raised, transport.errors)
            error = transport.map_error(raised, "http://a.example/")
        assert type(error) is expected


class TestHeaders:
    def test_names_are_case_insensitive_and_lines_joined(self) -> None:
        headers = Headers([("Link", "<a>; rel=next"), ("link", "<b>; rel=last"), ("X-A", "1")])
        assert headers["LINK"] == "<a>; rel=next, <b>; rel=last"
        assert headers.get_list("link") == ["<a>; rel=next", "<b>; rel=last"]
        assert "x-a" in headers
        assert 1 not in headers  # type: ignore[comparison-overlap]
        assert headers.lowered() == {"link": "<a>; rel=next, <b>; rel=last", "x-a": "1"}
        assert len(headers) == 2
        assert headers.multi_items()[0] == ("Link", "<a>; rel=next")

    async def test_a_real_answer_on_each_client(self, client_kind: str) -> None:
        """status, headers and the final URL after a redirect, the same from both adapters."""
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse, RedirectResponse
        from starlette.routing import Route

        from loopback import LoopbackServer

        async def moved(request: Any) -> Any:
            return RedirectResponse("/here?x=1", status_code=307)

        async def here(request: Any) -> Any:
            return PlainTextResponse("ok", headers={"X-Seen": request.url.query})

        class Server(LoopbackServer):
            def app(self) -> Starlette:
                return Starlette(routes=[Route("/moved", moved), Route("/here", here)])

        with Server() as server:
            async with open_client(client_kind) as client:
                transport = transport_for(client, streaming=False)
                with anyio.fail_after(10):
                    response = await transport.send(Request(f"{server.url}/moved"), redirects=True)
                    try:
                        body = b"".join([chunk async for chunk in response.chunks()])
                    finally:
                        await response.aclose()
        assert response.status == 200
        assert response.url == f"{server.url}/here?x=1"
        assert response.headers["x-seen"] == "x=1"
        assert body == b"ok"


class TestImports:
    def test_the_sources_import_no_client(self) -> None:
        """`import sluiceway.sse` and `import sluiceway.http` load neither httpx nor aiohttp."""
        code = (
            "import sys, sluiceway.sse, sluiceway.http, sluiceway.cli; "
            "print(sorted(m for m in ('httpx', 'aiohttp', 'yarl') if m in sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        assert out.stdout.strip() == "[]"

    def test_no_strategy_module_mentions_a_client(self) -> None:
        """The strategies, the policy and the fetch loop name neither client library."""
        import sluiceway.http

        folder = Path(sluiceway.http.__file__).parent
        for name in ("_strategies.py", "_policy.py", "_fetch.py", "_paginate.py", "_request.py"):
            text = (folder / name).read_text(encoding="utf-8")
            assert "import httpx" not in text, name
            assert "import aiohttp" not in text, name
        assert "httpx" not in (folder / "_strategies.py").read_text(encoding="utf-8")
