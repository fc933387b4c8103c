"""The httpx adapter: the URL a request goes to, and the best-effort start of an error body."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

import virtual_time
from sluiceway._transport import _base
from sluiceway._transport._base import BODY_START, read_start
from sluiceway._transport._httpx import (
    HttpxTransport,
    _HttpxResponse,
    build_request,
    join_url,
    request_url,
)

#: (client settings, URL, the URL every request must go to).
URLS: list[Any] = [
    pytest.param(
        {}, "https://a.example/x?state=open", "https://a.example/x?state=open", id="plain"
    ),
    pytest.param(
        {"params": {"key": "k"}},
        "https://a.example/x?state=open",
        "https://a.example/x?state=open&key=k",
        id="client-params",
    ),
    pytest.param(
        {"params": {"key": "k", "state": "all"}},
        "https://a.example/x?state=open",
        "https://a.example/x?state=open&key=k",
        id="the-urls-value-wins",
    ),
    pytest.param(
        {"params": [("tag", "a"), ("tag", "b")]},
        "https://a.example/x?n=1",
        "https://a.example/x?n=1&tag=a&tag=b",
        id="every-value-of-a-name",
    ),
    pytest.param(
        {"params": {"key": "k"}},
        "https://a.example/x?q=a%20b&flag&empty=",
        "https://a.example/x?q=a%20b&flag&empty=&key=k",
        id="the-query-as-written",
    ),
    pytest.param(
        {"base_url": "https://a.example/api"},
        "items?state=open",
        "https://a.example/api/items?state=open",
        id="base-url",
    ),
    pytest.param(
        {"base_url": "https://a.example/api/", "params": {"key": "k"}},
        "/items?state=open&page=2",
        "https://a.example/api/items?state=open&page=2&key=k",
        id="base-url-and-params",
    ),
    pytest.param(
        {"base_url": "https://a.example/api/", "params": {"key": "k"}},
        "https://b.example/other",
        "https://b.example/other?key=k",
        id="absolute-beside-a-base-url",
    ),
]


class TestRequestUrl:
    @pytest.mark.parametrize(("settings", "url", "expected"), URLS)
    def test_the_url_of_a_request(self, settings: dict[str, Any], url: str, expected: str) -> None:
        """Joined to the base URL, the URL's own query kept, the client's params it lacks added."""
        client = httpx.AsyncClient(**settings)
        assert str(request_url(client, url)) == expected

    @pytest.mark.parametrize(("settings", "url", "expected"), URLS)
    async def test_the_request_is_sent_there(
        self, settings: dict[str, Any], url: str, expected: str
    ) -> None:
        """build_request() gives a request to that URL, sent there with the client's headers."""
        sent: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return httpx.Response(204)

        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(
            transport=transport, headers={"X-Who": "me"}, **settings
        ) as client:
            request = build_request(client, "GET", url, headers={"X-Also": "1"})
            assert str(request.url) == expected
            await client.send(request)
        assert [str(request.url) for request in sent] == [expected]
        assert sent[0].headers["x-who"] == "me"
        assert sent[0].headers["x-also"] == "1"

    def test_join_without_a_client(self) -> None:
        """Without a client the URL is taken as it is, relative or not."""
        assert str(join_url(None, "/x?a=1")) == "/x?a=1"
        assert str(join_url(None, "https://a.example/x?a=1")) == "https://a.example/x?a=1"


class Body(httpx.AsyncByteStream):
    """A response body: these chunks, then a stall, an error or the end.

    An iterator of its own, not an async generator: httpx leaves the body's
    iterator to the garbage collector when reading stops early.
    """

    def __init__(
        self, chunks: list[bytes], then: BaseException | str = "end", gap: float = 0
    ) -> None:
        self.chunks = list(chunks)
        self.then = then
        self.gap = gap  # seconds before each chunk

    def __aiter__(self) -> Body:
        return self

    async def __anext__(self) -> bytes:
        if self.chunks:
            if self.gap:
                await anyio.sleep(self.gap)
            return self.chunks.pop(0)
        if self.then == "stall":
            await anyio.sleep_forever()
        if isinstance(self.then, BaseException):
            raise self.then
        raise StopAsyncIteration


def answer(body: Body, status: int = 503) -> httpx.Response:
    return httpx.Response(status, stream=body, request=httpx.Request("GET", "https://a.example/"))


async def read_answer(response: httpx.Response, **options: Any) -> bytes:
    """read_start() over the httpx adapter's view of ``response``."""
    transport = HttpxTransport(httpx.AsyncClient(), streaming=False)
    try:
        return await read_start(transport, _HttpxResponse(response), **options)
    finally:
        await transport.client.aclose()


class TestReadStart:
    async def test_a_complete_body(self) -> None:
        """A short body is read whole."""
        assert await read_answer(answer(Body([b"not ", b"today"]))) == b"not today"

    async def test_at_most_the_limit(self) -> None:
        """A long body is read up to the limit, and no further."""
        body = Body([b"x" * 3000] * 10, then="stall")
        with anyio.fail_after(5):
            got = await read_answer(answer(body))
        assert got == b"x" * BODY_START

    @pytest.mark.parametrize(
        "error",
        [
            httpx.ReadTimeout("slow"),
            httpx.ReadError("reset"),
            httpx.RemoteProtocolError("cut"),
            httpx.DecodingError("bad gzip"),
        ],
    )
    async def test_an_error_in_the_body_is_swallowed(self, error: Exception) -> None:
        """A network, timeout or decoding error ends the reading quietly: it is best effort."""
        assert await read_answer(answer(Body([b"the start"], then=error))) == b"the start"

    async def test_cancellation_is_not_swallowed(self) -> None:
        """A cancellation from outside ends the reading and goes on."""
        with anyio.fail_after(5), anyio.move_on_after(0.05) as scope:
            await read_answer(answer(Body([b"the start"], then="stall")), wait=60)
        assert scope.cancelled_caught

    async def test_other_errors_are_not_swallowed(self) -> None:
        """Only httpx's own errors are taken for a broken body: a bug still shows."""
        with pytest.raises(ZeroDivisionError):
            await read_answer(answer(Body([b"x"], then=ZeroDivisionError())))


class TestReadStartWaits:
    """On a virtual clock: how long read_start() waits, exactly."""

    @pytest.fixture(params=virtual_time.VIRTUAL_BACKENDS)
    def anyio_backend(self, request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
        return virtual_time.backend(request.param)

    async def test_a_stalled_body_gives_what_came_after_the_wait(self) -> None:
        """A body that stalls gives what arrived, after BODY_START_WAIT and no longer."""
        start = anyio.current_time()
        got = await read_answer(answer(Body([b"the start"], then="stall")))
        assert got == b"the start"
        assert anyio.current_time() - start == pytest.approx(_base.BODY_START_WAIT)

    async def test_the_wait_is_for_the_whole_start_not_per_chunk(self) -> None:
        """A body trickling in a chunk every 0.1 s is cut at the wait, with what came by then."""
        body = Body([b"%d," % n for n in range(100)], gap=0.1)
        start = anyio.current_time()
        got = await read_answer(answer(body), wait=0.55)
        assert got == b"0,1,2,3,4,"
        assert anyio.current_time() - start == pytest.approx(0.55)

    async def test_a_complete_body_does_not_wait(self) -> None:
        """A body that ends is returned when it ends, with no wait after it."""
        start = anyio.current_time()
        assert await read_answer(answer(Body([b"a", b"b"], gap=0.1))) == b"ab"
        assert anyio.current_time() - start == pytest.approx(0.2)
