"""A real paginated API on loopback (uvicorn + starlette, in a thread), one route per style.

Every route serves the same ``TOTAL`` items (``{"id": "it000", "n": 0}``, ...)
``size`` at a time (default 5), and takes these query parameters, which the
paginator carries from page to page:

- ``delay``: seconds the server waits before answering (latency); the most
  requests of one key in that wait at once is kept (``server.most_inflight``);
- ``token``: answer 401 unless the request has this ``X-Token`` header;
- ``key``: the test's own name, so faults fire once per test and the log
  of requests can be read back (``server.requests(key)``);
- ``fail=KIND@PAGE`` (repeatable): on the PAGE-th page (0-based), the first
  request gets KIND: ``429`` (with ``Retry-After: <ra>``, default 1),
  ``500``, ``500x2`` (twice), ``drop`` (the connection is cut mid-body),
  ``html`` (a 200 that is not JSON, every time), ``ratelimit`` (a 200 with
  ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset: <ra>``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from clients import open_client
from faults import FaultServer
from loopback import LoopbackServer
from recorder import QueryRecorder

TOTAL = 23
ITEMS: list[dict[str, Any]] = [{"id": f"it{n:03d}", "n": n} for n in range(TOTAL)]


class Log:
    """What the server saw, per test key: the request URLs, and which faults fired."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.urls: dict[str, list[str]] = defaultdict(list)
        self.times: dict[str, list[float]] = defaultdict(list)
        self.fired: set[tuple[str, str, int]] = set()
        self.inflight: dict[str, int] = defaultdict(int)
        self.most_inflight: dict[str, int] = defaultdict(int)


def make_app(log: Log) -> Starlette:
    async def answer(
        request: Request, page: int, content: Any, headers: dict[str, str]
    ) -> Response:
        """The page as JSON, after the latency and the faults the test asked for."""
        q = request.query_params
        key = q.get("key", "")
        with log.lock:
            log.urls[key].append(str(request.url))
            log.times[key].append(time.monotonic())
        token = q.get("token")
        if token is not None and request.headers.get("x-token") != token:
            return PlainTextResponse("who are you?", status_code=401)
        delay = float(q.get("delay", "0"))
        if delay:
            with log.lock:
                log.inflight[key] += 1
                log.most_inflight[key] = max(log.most_inflight[key], log.inflight[key])
            try:
                await asyncio.sleep(delay)
            finally:
                with log.lock:
                    log.inflight[key] -= 1
        ra = q.get("ra", "1")
        for spec in q.getlist("fail"):
            kind, _, at = spec.partition("@")
            if int(at) != page:
                continue
            if kind == "html":
                return PlainTextResponse("<html>oops</html>", media_type="text/html")
            times = 2 if kind == "500x2" else 1
            with log.lock:
                fired = [n for n in range(times) if (key, spec, n) in log.fired]
                if len(fired) >= times:
                    continue
                log.fired.add((key, spec, len(fired)))
            if kind == "429":
                return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": ra})
            if kind in ("500", "500x2"):
                return PlainTextResponse("internal trouble", status_code=500)
            if kind == "drop":

                async def cut() -> AsyncIterator[bytes]:
                    yield b'{"data": [{"id": "half'
                    raise ConnectionAbortedError("dropped on purpose")

                return StreamingResponse(cut(), media_type="application/json")
            if kind == "ratelimit":
                headers = {**headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": ra}
        return JSONResponse(content, headers=headers)

    def size(request: Request) -> int:
        return int(request.query_params.get("size", "5"))

    async def cursor(request: Request) -> Response:
        """Slack-style: ?cursor=c10 -> {"members": [...], "response_metadata": {"next_cursor"}}."""
        start = int(request.query_params.get("cursor", "c0")[1:])
        end = min(start + size(request), TOTAL)
        nxt = f"c{end}" if end < TOTAL else ""
        if request.query_params.get("loop") and start >= 10:
            nxt = "c10"  # the server's bug: page 3 points back at itself
        body = {"members": ITEMS[start:end], "response_metadata": {"next_cursor": nxt}}
        return await answer(request, start // size(request), body, {})

    async def empties(request: Request) -> Response:
        """A cursor API that first sends ``empty`` empty pages that each claim more."""
        at = int(request.query_params.get("cursor", "0"))
        empty = int(request.query_params.get("empty", "3"))
        if at < empty:
            body: dict[str, Any] = {"data": [], "next_cursor": str(at + 1)}
        else:
            start = (at - empty) * 5
            end = min(start + 5, TOTAL)
            body = {"data": ITEMS[start:end], "next_cursor": str(at + 1) if end < TOTAL else None}
        return await answer(request, at, body, {})

    async def stripe(request: Request) -> Response:
        """Stripe-style: ?starting_after=it004 -> {"data": [...], "has_more": true}."""
        after = request.query_params.get("starting_after")
        start = 0 if after is None else int(after[2:]) + 1
        if request.query_params.get("empty_more"):
            return await answer(request, 0, {"data": [], "has_more": True}, {})
        end = min(start + size(request), TOTAL)
        body = {"object": "list", "data": ITEMS[start:end], "has_more": end < TOTAL}
        return await answer(request, start // size(request), body, {})

    async def github(request: Request) -> Response:
        """GitHub-style: a bare list and a Link header (next, last; absolute URLs)."""
        page = int(request.query_params.get("page", "1"))
        per = int(request.query_params.get("per_page", "5"))
        last = -(-TOTAL // per)
        links = []
        host = request.query_params.get("next_host")
        if page < last:
            url = request.url.include_query_params(page=page + 1)
            if host:
                url = url.replace(hostname=host)
            links.append(f'<{url}>; rel="next"')
        links.append(f'<{request.url.include_query_params(page=last)}>; rel="last"')
        headers = {"Link": ", ".join(links)}
        body = ITEMS[(page - 1) * per : page * per]
        return await answer(request, page - 1, body, headers)

    async def drf(request: Request) -> Response:
        """Django REST framework: {"count", "next" (relative here), "previous", "results"}."""
        page = int(request.query_params.get("page", "1"))
        start = (page - 1) * 5
        end = min(start + 5, TOTAL)
        nxt = None
        if end < TOTAL:
            nxt = f"/drf?page={page + 1}"  # the paginator keeps the other parameters
        body = {"count": TOTAL, "next": nxt, "previous": None, "results": ITEMS[start:end]}
        return await answer(request, page - 1, body, {})

    async def numbered(request: Request) -> Response:
        """?page=N (from 1): {"data": [...], "meta": {"total": 23, "pages": 5}}."""
        page = int(request.query_params.get("page", "1"))
        per = size(request)
        body = {
            "data": ITEMS[(page - 1) * per : page * per],
            "meta": {"total": TOTAL, "pages": -(-TOTAL // per)},
        }
        return await answer(request, page - 1, body, {})

    async def offset(request: Request) -> Response:
        """?offset=&limit= (limit capped at 7): {"items": [...], "total": 23}.

        With ``short=K`` the page at offset K holds one item less than asked.
        """
        start = int(request.query_params.get("offset", "0"))
        limit = min(int(request.query_params.get("limit", "5")), 7)
        if request.query_params.get("short") == str(start):
            limit -= 1
        body = {"items": ITEMS[start : start + limit], "total": TOTAL}
        return await answer(request, start // 5, body, {})

    async def big(request: Request) -> Response:
        """A page of ``mb`` MiB, streamed without Content-Length (or with, ?length=1)."""
        mib = int(request.query_params.get("mb", "2"))
        chunk = b" " * 65536

        async def body() -> AsyncIterator[bytes]:
            yield b'{"data": ['
            for _ in range(mib * 16):
                yield chunk
            yield b"]}"

        if request.query_params.get("length"):
            return Response(
                b'{"data": [' + chunk * (mib * 16) + b"]}", media_type="application/json"
            )
        return StreamingResponse(body(), media_type="application/json")

    async def search(request: Request) -> Response:
        """A POST search API: the JSON body's "after" picks the page; "next" in the answer."""
        after = (await request.json()).get("after", 0)
        end = min(after + 5, TOTAL)
        body = {"hits": ITEMS[after:end], "next": end if end < TOTAL else None}
        return await answer(request, after // 5, body, {})

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        return (
            await answer(request, 0, {"error": f"status {code}"}, {})
            if code == 200
            else (PlainTextResponse(f"the server says {code}", status_code=code))
        )

    return Starlette(
        routes=[
            Route("/cursor", cursor),
            Route("/empties", empties),
            Route("/stripe", stripe),
            Route("/github", github),
            Route("/drf", drf),
            Route("/numbered", numbered),
            Route("/offset", offset),
            Route("/big", big),
            Route("/search", search, methods=["POST"]),
            Route("/status/{code}", status),
        ]
    )


class Server(LoopbackServer):
    """uvicorn in a thread of its own, with the log of what it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.log = Log()

    def app(self) -> Starlette:
        return make_app(self.log)

    def requests(self, key: str) -> list[str]:
        with self.log.lock:
            return list(self.log.urls[key])

    def most_inflight(self, key: str) -> int:
        """The most requests of this key the server was answering at once (with ``delay``)."""
        with self.log.lock:
            return self.log.most_inflight[key]

    def times(self, key: str) -> list[float]:
        with self.log.lock:
            return list(self.log.times[key])


@pytest.fixture(scope="session")
def api() -> Iterator[Server]:
    with Server() as server:
        yield server


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    """A name unique to the test (and its backend), for its faults and its request log."""
    return request.node.nodeid


@pytest.fixture(scope="session")
def refusals() -> Iterator[FaultServer]:
    """Error answers whose bodies stall, break or trickle."""
    with FaultServer() as server:
        yield server


@pytest.fixture(scope="session")
def recorder() -> Iterator[QueryRecorder]:
    """A paginated API of every style that records the raw query of each request."""
    with QueryRecorder() as server:
        yield server


@pytest.fixture
async def http(client_kind: str) -> AsyncIterator[Any]:
    """A client of ``client_kind`` (httpx, then aiohttp), for paginate()'s ``client``."""
    async with open_client(client_kind, read_timeout=10.0) as client:
        yield client
