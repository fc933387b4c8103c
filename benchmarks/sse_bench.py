"""SSE end to end: sluiceway.sse.connect() against httpx-sse, through httpx from loopback.

One table per stream and chunking, ``sse_http:<stream>:<chunking>``: the
server (``sse_server.py``) writes the stream in that chunking and every
entry reads it through one shared ``httpx.AsyncClient`` (same settings, same
pool). The baseline (1.00) is httpx-sse's ``aconnect_sse`` + ``aiter_sse``;
a count-only pair compares ``connect().count()`` with httpx-sse counting;
two references read the body without SSE decoding (the transport's share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness import Entry, Workload
from sse_server import Server, ServerMode
from sse_streams import (
    CHECK_EVENTS,
    CHUNKINGS,
    EVENTS,
    Chunking,
    Kind,
    Summary,
    describe,
    expected,
    get_chunks,
    get_stream,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    import httpx

#: Where the server runs: set by ``run.py --sse-server`` before the first request.
server_mode: ServerMode = "process"
_server: Server | None = None
_client: httpx.AsyncClient | None = None


def server() -> Server:
    """The one server, started on first use."""
    global _server
    if _server is None:
        _server = Server(server_mode)
    return _server


def client() -> httpx.AsyncClient:
    """The one AsyncClient every entry uses (same settings, same pool)."""
    global _client
    if _client is None:
        import httpx

        _client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None))
    return _client


async def cleanup() -> None:
    """Close the client and stop the server (after the last run)."""
    global _client, _server
    if _client is not None:
        await _client.aclose()
        _client = None
    if _server is not None:
        _server.close()
        _server = None


async def raw_read(url: str) -> tuple[int, int]:
    """(bytes, reads): the body through httpx's aiter_bytes, not decoded."""
    size = reads = 0
    async with client().stream("GET", url) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            reads += 1
    return size, reads


async def counting_socket_reads(url: str) -> tuple[int, int, int | None]:
    """(bytes, chunks, socket reads): the body through aiter_bytes, counting httpcore's reads.

    The reads are counted by wrapping httpcore's (private) anyio stream ``read``
    for this one request, outside any timing; None if that is not possible.
    """
    try:
        from httpcore._backends.anyio import AnyIOStream
    except ImportError:
        return (*await raw_read(url), None)
    original = AnyIOStream.read
    reads = 0

    async def read(self: Any, *args: Any, **kwargs: Any) -> bytes:
        nonlocal reads
        reads += 1
        return await original(self, *args, **kwargs)

    AnyIOStream.read = read  # type: ignore[method-assign]
    try:
        size, chunks = await raw_read(url)
    finally:
        AnyIOStream.read = original  # type: ignore[method-assign]
    return size, chunks, reads or None


#: (chunks out of httpx's aiter_bytes, socket reads) per stream, counted by prepare_http.
client_reads: dict[tuple[Kind, int, Chunking], tuple[int, int | None]] = {}


async def prepare_http(kind: Kind, chunking: Chunking, n: int) -> None:
    """Generate the stream, let the server frame it (a first request), count the client's reads."""
    get_chunks(kind, n, chunking)
    url = server().url(kind, n, chunking)
    size, chunks, reads = await counting_socket_reads(url)
    if size != len(get_stream(kind, n).body):
        raise AssertionError(f"{url}: {size} bytes, expected {len(get_stream(kind, n).body)}")
    client_reads[kind, n, chunking] = chunks, reads


def http_entries(kind: Kind, chunking: Chunking) -> dict[str, Callable[[int], Awaitable[object]]]:
    """The end-to-end entries for one stream and chunking, by role."""

    async def theirs(n: int) -> Summary:
        from httpx_sse import aconnect_sse

        count = size = digest = 0
        last = None
        async with aconnect_sse(client(), "GET", server().url(kind, n, chunking)) as source:
            async for last in source.aiter_sse():
                data = last.data
                count += 1
                size += len(data)
                digest ^= hash(data)
        return count, size, digest, last.id if last is not None else ""

    async def theirs_count(n: int) -> int:
        from httpx_sse import aconnect_sse

        count = 0
        async with aconnect_sse(client(), "GET", server().url(kind, n, chunking)) as source:
            async for _ in source.aiter_sse():
                count += 1
        return count

    async def ours(n: int) -> Summary:
        from sluiceway.sse import connect

        count = size = digest = 0
        last = None
        url = server().url(kind, n, chunking)
        async with connect(url, client=client(), reconnect=False) as events:
            async for last in events:
                data = last.data
                count += 1
                size += len(data)
                digest ^= hash(data)
        return count, size, digest, last.id if last is not None else ""

    async def ours_count(n: int) -> int:
        from sluiceway.sse import connect

        url = server().url(kind, n, chunking)
        return await connect(url, client=client(), reconnect=False).count()

    async def raw(n: int) -> int:
        size, _ = await raw_read(server().url(kind, n, chunking))
        return size

    async def raw_stream(n: int) -> int:
        size = 0
        async with client().stream("GET", server().url(kind, n, chunking)) as response:
            response.raise_for_status()
            async for chunk in response.stream:  # type: ignore[union-attr]  # an async stream
                size += len(chunk)
        return size

    theirs.__doc__ = (
        'async with aconnect_sse(client, "GET", url) as es: async for sse in es.aiter_sse()'
    )
    theirs_count.__doc__ = (
        'async with aconnect_sse(client, "GET", url) as es: async for sse in es.aiter_sse(): n += 1'
    )
    ours.__doc__ = "async with connect(url, client=client, reconnect=False) as s: async for ev in s"
    ours_count.__doc__ = "await connect(url, client=client, reconnect=False).count()"
    raw.__doc__ = (
        'async with client.stream("GET", url) as r: async for chunk in r.aiter_bytes()  '
        "(no SSE decoding: the transport's share)"
    )
    raw_stream.__doc__ = (
        'async with client.stream("GET", url) as r: async for chunk in r.stream  '
        "(no SSE decoding: what connect() reads when the body has no Content-Encoding)"
    )
    return {
        "theirs": theirs,
        "theirs_count": theirs_count,
        "ours": ours,
        "ours_count": ours_count,
        "raw": raw,
        "raw_stream": raw_stream,
    }


def http_detail(kind: Kind, n: int, chunking: Chunking) -> str:
    """The stream line, plus what the client saw of the server's chunks."""
    line = describe(kind, n, chunking) + ", each written as one chunked-encoding frame"
    seen = client_reads.get((kind, n, chunking))
    if seen is not None:
        chunks, reads = seen
        if reads is not None:
            line += f"; the client read the socket {reads:,} times"
        line += f" and httpx's aiter_bytes gave {chunks:,} chunks"
    return line


# -- the workloads --------------------------------------------------------------------

#: Timed runs of an sse_http table at most (a run of all four takes ~28 s here).
MAX_RUNS = 5
#: The project's acceptance targets: least speedup over httpx-sse's events/s.
TARGET: dict[Kind, float] = {"token": 2.0, "mixed": 1.3}

HTTPX_SSE_HTTP = "httpx-sse aconnect_sse + aiter_sse"
HTTPX_SSE_HTTP_COUNT = "httpx-sse aiter_sse, count only"
SW_HTTP = "sluiceway connect(), async for"


def workload(kind: Kind, chunking: Chunking) -> Workload:
    """The ``sse_http`` table of one stream and chunking."""
    fns = http_entries(kind, chunking)

    async def prepare(n: int) -> None:
        await prepare_http(kind, chunking, n)

    return Workload(
        title=f"SSE end to end through httpx from a loopback server, {kind} stream written in "
        f"{CHUNKINGS[chunking]}: count the events and checksum their data",
        expected=expected(kind),
        baseline=HTTPX_SSE_HTTP,
        entries=(
            Entry(HTTPX_SSE_HTTP, fns["theirs"], "peer", requires="httpx_sse"),
            Entry(SW_HTTP, fns["ours"], "sluiceway", requires="httpx"),
            Entry(
                HTTPX_SSE_HTTP_COUNT,
                fns["theirs_count"],
                "peer",
                requires="httpx_sse",
                expected=lambda n: n,
            ),
            Entry(
                "sluiceway connect().count()",
                fns["ours_count"],
                "sluiceway",
                requires="httpx",
                expected=lambda n: n,
                versus=HTTPX_SSE_HTTP_COUNT,
            ),
            Entry(
                "httpx aiter_bytes, no SSE decoding",
                fns["raw"],
                "reference",
                requires="httpx",
                expected=lambda n: len(get_stream(kind, n).body),
            ),
            Entry(
                "httpx response.stream, no SSE decoding",
                fns["raw_stream"],
                "reference",
                requires="httpx",
                expected=lambda n: len(get_stream(kind, n).body),
            ),
        ),
        fixed_n=EVENTS[kind][0],
        quick_n=EVENTS[kind][1],
        check_n=CHECK_EVENTS,
        unit="ns/event",
        baseline_label="httpx-sse",
        group="sse_http",
        prepare=prepare,
        cleanup=cleanup,
        detail=lambda n: http_detail(kind, n, chunking),
        max_runs=MAX_RUNS,
        target=(SW_HTTP, TARGET[kind]),
    )


WORKLOADS: dict[str, Workload] = {
    f"sse_http:{kind}:{chunking}": workload(kind, chunking)
    for kind in EVENTS
    for chunking in CHUNKINGS
}
