"""Paginated-API workload for ``run.py``: the seed's sequential recipe against sluiceway.http.

A cursor API on loopback (a small HTTP/1.1 keep-alive server on its own
asyncio loop in a thread, so its sleeps and parsing do not share the
client's loop) serves ``PAGE_ITEMS`` integers a page and answers each
request after ``LATENCY`` seconds. Every entry walks ``n`` pages (50 in a
full run) and does ``WORK`` seconds of consumer work per page (an
``asyncio.sleep`` after the page's last item), summing the items; the sum is
checked.

- **seed recipe**: the seed document's ``paginated_fetch``: get a page, yield
  its items, and only then ask for the next one, so network and consumer take
  turns: about ``n * (LATENCY + WORK)``.
- **sluiceway paginate()**: ``paginate(client, url, strategy=BodyCursor(...))``
  with ``prefetch=1`` (the default): the next page is requested while the
  consumer works, about ``n * max(LATENCY, WORK) + min(...)``; ``prefetch=0``
  is the same paginator fetching strictly in turn, for its overhead.

All entries share one ``httpx.AsyncClient`` (same pool, keep-alive).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from harness import Entry, Workload

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import httpx

#: Pages of a full run, items per page, server latency and consumer work per page (seconds).
PAGES = 50
QUICK_PAGES = 5
PAGE_ITEMS = 20
LATENCY = 0.02
WORK = 0.02

_server: Server | None = None
_client: httpx.AsyncClient | None = None


class Server:
    """The cursor API: ``/items/N?cursor=K`` -> ``{"results": [...], "next_cursor": ...}``."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the pages benchmark server did not start")

    def url(self, pages: int) -> str:
        return f"http://127.0.0.1:{self.port}/items/{pages}"  # the query is the client's

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            self._loop.run_until_complete(server.wait_closed())
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one request after another on the connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                target = urlsplit(head.split(b" ", 2)[1].decode())
                query = parse_qs(target.query)
                pages = int(target.path.rsplit("/", 1)[1])
                page = int(query.get("cursor", ["0"])[0])
                await asyncio.sleep(LATENCY)
                start = page * PAGE_ITEMS
                body = json.dumps(
                    {
                        "results": list(range(start, start + PAGE_ITEMS)),
                        "next_cursor": str(page + 1) if page + 1 < pages else None,
                    }
                ).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        finally:
            writer.close()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def server() -> Server:
    global _server
    if _server is None:
        _server = Server()
    return _server


def client() -> httpx.AsyncClient:
    global _client
    if _client is None:
        import httpx

        _client = httpx.AsyncClient(timeout=10.0)
    return _client


async def prepare(n: int) -> None:
    """Start the server and open the client's connection (a first, checked request)."""
    response = await client().get(server().url(n))
    if response.json()["results"][:2] != [0, 1]:
        raise AssertionError(f"unexpected first page: {response.text[:200]}")


async def cleanup() -> None:
    global _client, _server
    if _client is not None:
        await _client.aclose()
        _client = None
    if _server is not None:
        _server.close()
        _server = None


def expected(n: int) -> int:
    """The sum of the integers of ``n`` pages."""
    total = n * PAGE_ITEMS
    return total * (total - 1) // 2


async def paginated_fetch(http: httpx.AsyncClient, endpoint: str) -> AsyncIterator[Any]:
    """The seed document's paginated consumer (results / next_cursor), as written there."""
    cursor = None
    while True:
        params = {"limit": PAGE_ITEMS}
        if cursor:
            params["cursor"] = cursor
        response = await http.get(endpoint, params=params)
        data = response.json()
        for item in data["results"]:
            yield item
        cursor = data.get("next_cursor")
        if not cursor:
            break


async def seed(n: int) -> int:
    """async for x in paginated_fetch(client, url): ...; await asyncio.sleep(0.02) per page  (the seed recipe)"""
    total = 0
    async for x in paginated_fetch(client(), server().url(n)):
        total += x
        if x % PAGE_ITEMS == PAGE_ITEMS - 1:
            await asyncio.sleep(WORK)
    return total


async def _ours(n: int, prefetch: int) -> int:
    from sluiceway.http import BodyCursor, paginate

    total = 0
    strategy = BodyCursor(items="results", cursor="next_cursor", param="cursor")
    stream = paginate(client(), server().url(n), strategy=strategy, prefetch=prefetch)
    async with stream:
        async for x in stream:
            total += x
            if x % PAGE_ITEMS == PAGE_ITEMS - 1:
                await asyncio.sleep(WORK)
    return total


async def ours_1(n: int) -> int:
    """async with paginate(client, url, strategy=BodyCursor(items="results")) as s: async for x in s: ...; await asyncio.sleep(0.02) per page"""
    return await _ours(n, 1)


async def ours_2(n: int) -> int:
    """paginate(client, url, strategy=BodyCursor(items="results"), prefetch=2), as above"""
    return await _ours(n, 2)


async def ours_0(n: int) -> int:
    """paginate(client, url, strategy=BodyCursor(items="results"), prefetch=0), as above (sequential)"""
    return await _ours(n, 0)


def detail(n: int) -> str:
    return (
        f"{n} pages of {PAGE_ITEMS} items from a loopback cursor API answering after "
        f"{LATENCY * 1000:.0f} ms; {WORK * 1000:.0f} ms of consumer work per page"
    )


# -- the workload ---------------------------------------------------------------------

#: The project's acceptance target: paginate()'s time at most 0.6x the seed recipe's.
TARGET = 0.6
SEED = "seed recipe paginated_fetch (fetch, yield, then fetch the next)"
OURS = "sluiceway paginate(prefetch=1)"

WORKLOADS: dict[str, Workload] = {
    "pages": Workload(
        title=f"paginated API: {PAGES} pages ({QUICK_PAGES} in --quick), "
        f"{LATENCY * 1000:.0f} ms server latency and {WORK * 1000:.0f} ms "
        "of consumer work per page; seconds per run",
        expected=expected,
        baseline=SEED,
        fixed_n=PAGES,
        quick_n=QUICK_PAGES,
        unit="s",
        entries=(
            Entry(SEED, seed, "baseline", requires="httpx"),
            Entry(OURS, ours_1, "sluiceway", requires="httpx"),
            Entry("sluiceway paginate(prefetch=2)", ours_2, "sluiceway", requires="httpx"),
            Entry("sluiceway paginate(prefetch=0)", ours_0, "sluiceway", requires="httpx"),
        ),
        baseline_label="seed recipe",
        prepare=prepare,
        cleanup=cleanup,
        detail=detail,
        target=(OURS, 1 / TARGET),
    )
}
