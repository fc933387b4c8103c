"""A real SSE server on loopback (uvicorn + starlette, in a thread), with faults on demand."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.responses import StreamingResponse as Streaming
from starlette.routing import Route

from clients import open_client
from faults import FaultServer
from loopback import LoopbackServer
from sluiceway.sse import EventStream, connect

#: ``connect`` with its ``client=`` set: the ``sse`` fixture.
Connect = Callable[..., EventStream]


@dataclass
class Log:
    """What the server saw: one entry per request."""

    last_event_ids: list[str | None] = field(default_factory=list)
    drops: int = 0


def _event(n: int) -> bytes:
    return f'id: {n}\nevent: tick\ndata: {{"n": {n}}}\n\n'.encode()


def make_app(log: Log) -> Starlette:
    def start_after(request: Request) -> int:
        last = request.headers.get("last-event-id")
        log.last_event_ids.append(last)
        return int(last) if last else 0

    async def events(request: Request) -> Response:
        """Events start..count, resuming after Last-Event-ID; the body then ends."""
        first = start_after(request) + 1
        count = int(request.query_params.get("count", "10"))
        delay = float(request.query_params.get("delay", "0"))

        async def body() -> AsyncIterator[bytes]:
            yield b": hello\n\n"
            for n in range(first, count + 1):
                if delay:
                    await asyncio.sleep(delay)
                yield _event(n)

        return Streaming(body(), media_type="text/event-stream")

    async def drop(request: Request) -> Response:
        """Events, with the connection dropped mid-event after every `every` events."""
        first = start_after(request) + 1
        count = int(request.query_params.get("count", "10"))
        every = int(request.query_params.get("every", "3"))

        async def body() -> AsyncIterator[bytes]:
            yield b"retry: 20\n\n"
            for n in range(first, count + 1):
                yield _event(n)
                if n % every == 0 and n < count:
                    yield b"id: 999\ndata: half an ev"  # never completed
                    log.drops += 1
                    raise ConnectionAbortedError("dropped on purpose")

        return Streaming(body(), media_type="text/event-stream")

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        start_after(request)
        if code == 204:
            return Response(status_code=204)
        return PlainTextResponse("the server is unhappy", status_code=code)

    async def html(request: Request) -> Response:
        start_after(request)
        return PlainTextResponse("<html>not events</html>", media_type="text/html")

    async def moved(request: Request) -> Response:
        return RedirectResponse(url="/events?count=3", status_code=307)

    async def post(request: Request) -> Response:
        """An LLM-style POST stream: tokens of the prompt, then the body ends."""
        start_after(request)
        prompt = (await request.json())["prompt"]

        async def body() -> AsyncIterator[bytes]:
            for i, word in enumerate(prompt.split()):
                yield f'id: {i}\ndata: {{"token": "{word}"}}\n\n'.encode()
            yield b"data: [DONE]\n\n"

        return Streaming(body(), media_type="text/event-stream; charset=utf-8")

    async def idle(request: Request) -> Response:
        """One event, then ``silence`` seconds of silence (or only comments with ?comments=1).

        The next event comes after that; comments come every 20 ms.
        """
        first = start_after(request) + 1
        comments = request.query_params.get("comments") == "1"
        silence = float(request.query_params.get("silence", "8"))

        async def body() -> AsyncIterator[bytes]:
            yield _event(first)
            for _ in range(round(silence / 0.02)):
                await asyncio.sleep(0.02)
                if comments:
                    yield b": still here\n"
            yield _event(first + 1)

        return Streaming(body(), media_type="text/event-stream")

    async def burst(request: Request) -> Response:
        """Events start..count in one write: the client gets them in one chunk."""
        first = start_after(request) + 1
        count = int(request.query_params.get("count", "10"))

        async def body() -> AsyncIterator[bytes]:
            yield b"".join(_event(n) for n in range(first, count + 1))

        return Streaming(body(), media_type="text/event-stream")

    async def gzipped(request: Request) -> Response:
        """Events 1..count in a gzip-encoded body, compressed piece by piece as they go."""
        count = int(request.query_params.get("count", "10"))

        async def body() -> AsyncIterator[bytes]:
            packer = zlib.compressobj(wbits=31)  # the gzip format
            for n in range(1, count + 1):
                yield packer.compress(_event(n)) + packer.flush(zlib.Z_SYNC_FLUSH)
            yield packer.flush()

        return Streaming(
            body(), media_type="text/event-stream", headers={"content-encoding": "gzip"}
        )

    async def long_line(request: Request) -> Response:
        """One event, then a data line of `size` bytes in 10-byte chunks with no line end.

        The body then ends, or (with `drop=1`) the connection is dropped.
        """
        start_after(request)
        size = int(request.query_params.get("size", "150"))
        dropped = request.query_params.get("drop") == "1"

        async def body() -> AsyncIterator[bytes]:
            yield b"id: 1\ndata: first\n\n"
            line = b"data: " + b"x" * (size - 6)
            for start in range(0, len(line), 10):
                yield line[start : start + 10]
            if dropped:
                log.drops += 1
                raise ConnectionAbortedError("dropped on purpose")

        return Streaming(body(), media_type="text/event-stream")

    async def query(request: Request) -> Response:
        """One event whose data is the request's raw query string; the body then ends."""
        start_after(request)
        raw = request.scope["query_string"].decode("latin-1")

        async def body() -> AsyncIterator[bytes]:
            yield f"retry: 10\ndata: {raw}\n\n".encode()

        return Streaming(body(), media_type="text/event-stream")

    async def who(request: Request) -> Response:
        """One event whose data is the request's X-Who header; the body then ends."""
        data = request.headers.get("x-who", "")

        async def body() -> AsyncIterator[bytes]:
            yield f"data: {data}\n\n".encode()

        return Streaming(body(), media_type="text/event-stream")

    async def seen(request: Request) -> Response:
        return JSONResponse({"last_event_ids": log.last_event_ids, "drops": log.drops})

    return Starlette(
        routes=[
            Route("/events", events),
            Route("/drop", drop),
            Route("/status/{code}", status),
            Route("/html", html),
            Route("/moved", moved),
            Route("/post", post, methods=["POST"]),
            Route("/idle", idle),
            Route("/gzip", gzipped),
            Route("/burst", burst),
            Route("/long-line", long_line),
            Route("/query/{rest:path}", query),
            Route("/who", who),
            Route("/seen", seen),
        ]
    )


class Server(LoopbackServer):
    """uvicorn in a thread of its own; stop() and start() again on the same port."""

    def __init__(self) -> None:
        super().__init__()
        self.log = Log()

    def app(self) -> Starlette:
        return make_app(self.log)


@pytest.fixture(scope="session")
def sse_server() -> Iterator[Server]:
    with Server() as server:
        yield server


@pytest.fixture
def fresh_server() -> Iterator[Server]:
    """A server of the test's own, which the test may stop and start."""
    with Server() as server:
        yield server


@pytest.fixture(scope="session")
def refusals() -> Iterator[FaultServer]:
    """Answers that are not an event stream, with bodies that stall, break or trickle."""
    with FaultServer() as server:
        yield server


@pytest.fixture
async def sse(client_kind: str) -> AsyncIterator[Connect]:
    """``connect`` with a client of ``client_kind`` (httpx, then aiohttp): no read timeout."""
    async with open_client(client_kind) as client:
        yield partial(connect, client=client)
