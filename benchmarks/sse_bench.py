"""SSE end to end from a loopback server: sluiceway.sse.connect() on aiohttp and on httpx.

One table per stream and chunking, ``sse_http:<stream>:<chunking>``: the
server (``sse_server.py``) writes the stream in that chunking and every
entry reads it through a client made once and shared: one
``httpx.AsyncClient`` for the httpx entries, one ``aiohttp.ClientSession``
for the aiohttp ones (same timeouts). Entries: sluiceway's ``connect()`` on
aiohttp and on httpx; httpx-sse's ``aconnect_sse`` + ``aiter_sse``, the
baseline (1.00); aiohttp-sse-client2's ``EventSource``; and two floors that
read the body without SSE decoding (httpx's ``aiter_bytes``, aiohttp's
``content.iter_any()``). Under each table, issue 13's acceptance figures
from the same run.
"""

from __future__ import annotations

import functools
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
    summary,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable

    import aiohttp
    import httpx

#: Where the server runs: set by ``run.py --sse-server`` before the first request.
server_mode: ServerMode = "process"
_server: Server | None = None
_client: httpx.AsyncClient | None = None
_session: aiohttp.ClientSession | None = None

#: Seconds to connect (and, for httpx, to write and to wait for the pool); reads never time out.
CONNECT_TIMEOUT = 10.0


def server() -> Server:
    """The one server, started on first use."""
    global _server
    if _server is None:
        _server = Server(server_mode)
    return _server


def client() -> httpx.AsyncClient:
    """The one AsyncClient every httpx entry uses (same settings, same pool)."""
    global _client
    if _client is None:
        import httpx

        _client = httpx.AsyncClient(timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None))
    return _client


def session() -> aiohttp.ClientSession:
    """The one ClientSession every aiohttp entry uses, with the httpx client's timeouts.

    aiohttp's default (300 s in all) would also bound a whole stream; here, as
    with httpx, only connecting is bounded.
    """
    global _session
    if _session is None:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=None)
        _session = aiohttp.ClientSession(timeout=timeout)
    return _session


async def cleanup() -> None:
    """Close the clients and stop the server (after the last run)."""
    global _client, _session, _server
    if _client is not None:
        await _client.aclose()
        _client = None
    if _session is not None:
        await _session.close()
        _session = None
    if _server is not None:
        _server.close()
        _server = None


# -- what the checks expect -----------------------------------------------------------


@functools.cache
def client2_summary(kind: Kind, n: int) -> Summary:
    """What aiohttp-sse-client2 gives for a stream: the WHATWG events, changed by its own rules.

    It strips every leading space of a field's value (the spec strips one) and
    every trailing newline of an event's data (the spec strips the last one).
    The mixed stream has data lines that start with a space and events whose
    last data lines are empty, so there its data differ from the spec's; the
    token stream has neither, and this is the generator's own record.
    """
    return summary(
        (type_, "\n".join(v.lstrip(" ") for v in data.split("\n")).rstrip("\n"), last, retry)
        for type_, data, last, retry in get_stream(kind, n).truth
    )


def body_size(kind: Kind) -> Callable[[int], object]:
    """A floor's expected result: the bytes of the ``kind`` stream of ``n`` events."""
    return lambda n: len(get_stream(kind, n).body)


# -- before timing --------------------------------------------------------------------


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


async def sluiceway_reads_aiohttp() -> str | None:
    """None if the installed sluiceway's connect() reads through an aiohttp.ClientSession.

    Otherwise why not, in one line. It reads the small check stream with
    ``connect(url, client=session)``: a TypeError or AttributeError before the
    first event means the session is not taken (without an aiohttp transport,
    connect() treats it as an httpx client); any other error, or one after
    events came, is the entry's own failure and is raised.
    """
    from sluiceway.sse import connect

    url = server().url("token", CHECK_EVENTS, "64k")
    count = 0
    try:
        async with connect(url, client=session(), reconnect=False) as events:
            async for _ in events:
                count += 1
    except (TypeError, AttributeError) as exc:
        if count:
            raise
        error = type(exc).__name__ + (f": {str(exc).splitlines()[0]}" if str(exc) else "")
        return f"this sluiceway's connect() does not take an aiohttp.ClientSession ({error})"
    return None


# -- the entries ----------------------------------------------------------------------


class _BodyEnded(Exception):
    """aiohttp-sse-client2 reached the end of the body: end the loop rather than reconnect."""


async def summarize(
    events: AsyncIterable[Any], id_attr: str = "id", until: tuple[type[Exception], ...] = ()
) -> Summary:
    """What every SSE entry computes: count, total length of data, XOR of hash(data), last id.

    ``until``: exceptions that end the events as the end of the stream does.
    """
    count = size = digest = 0
    last = None
    try:
        async for last in events:
            data = last.data
            count += 1
            size += len(data)
            digest ^= hash(data)
    except until:
        pass
    return count, size, digest, getattr(last, id_attr) if last is not None else ""


def http_entries(kind: Kind, chunking: Chunking) -> dict[str, Callable[[int], Awaitable[object]]]:
    """The end-to-end entries for one stream and chunking, by role."""

    def url(n: int) -> str:
        return server().url(kind, n, chunking)

    async def ours_aiohttp(n: int) -> Summary:
        from sluiceway.sse import connect

        async with connect(url(n), client=session(), reconnect=False) as events:
            return await summarize(events)

    async def ours_httpx(n: int) -> Summary:
        from sluiceway.sse import connect

        async with connect(url(n), client=client(), reconnect=False) as events:
            return await summarize(events)

    async def httpx_sse(n: int) -> Summary:
        from httpx_sse import aconnect_sse

        async with aconnect_sse(client(), "GET", url(n)) as source:
            return await summarize(source.aiter_sse())

    async def client2(n: int) -> Summary:
        from aiohttp_sse_client2 import client as sse_client

        # At the end of the body its __anext__ calls on_error, then waits twice
        # reconnection_time and connects again, forever (close() in on_error does
        # not stop that): on_error raises instead, when the state says the body ended
        # (CONNECTING; a refused connection is CLOSED and raises its own error).
        def on_error() -> None:
            if source.ready_state == sse_client.READY_STATE_CONNECTING:
                raise _BodyEnded

        source = sse_client.EventSource(url(n), session=session(), on_error=on_error)
        async with source:
            return await summarize(source, id_attr="last_event_id", until=(_BodyEnded,))

    async def httpx_floor(n: int) -> int:
        size, _ = await raw_read(url(n))
        return size

    async def httpx_stream_floor(n: int) -> int:
        size = 0
        async with client().stream("GET", url(n)) as response:
            response.raise_for_status()
            async for chunk in response.stream:  # what sluiceway's httpx adapter reads
                size += len(chunk)
        return size

    async def aiohttp_floor(n: int) -> int:
        size = 0
        async with session().get(url(n)) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_any():
                size += len(chunk)
        return size

    ours_aiohttp.__doc__ = (
        "async with connect(url, client=session, reconnect=False) as s: async for ev in s  "
        "(session: aiohttp.ClientSession)"
    )
    ours_httpx.__doc__ = (
        "async with connect(url, client=client, reconnect=False) as s: async for ev in s  "
        "(client: httpx.AsyncClient)"
    )
    httpx_sse.__doc__ = (
        'async with aconnect_sse(client, "GET", url) as es: async for sse in es.aiter_sse()'
    )
    client2.__doc__ = (
        "async with EventSource(url, session=session, on_error=stop) as es: async for ev in es  "
        "(stop raises at the end of the body: the library would reconnect)"
    )
    httpx_floor.__doc__ = (
        'async with client.stream("GET", url) as r: async for chunk in r.aiter_bytes()  '
        "(no SSE decoding: the transport's share)"
    )
    httpx_stream_floor.__doc__ = (
        'async with client.stream("GET", url) as r: async for chunk in r.stream  '
        "(no SSE decoding nor aiter_bytes' layers: what sluiceway's httpx adapter reads)"
    )
    aiohttp_floor.__doc__ = (
        "async with session.get(url) as r: async for chunk in r.content.iter_any()  "
        "(no SSE decoding: the transport's share)"
    )
    return {
        "ours_aiohttp": ours_aiohttp,
        "ours_httpx": ours_httpx,
        "httpx_sse": httpx_sse,
        "client2": client2,
        "httpx_floor": httpx_floor,
        "httpx_stream_floor": httpx_stream_floor,
        "aiohttp_floor": aiohttp_floor,
    }


def http_detail(kind: Kind, n: int, chunking: Chunking) -> str:
    """The stream line, plus what the httpx client saw of the server's chunks."""
    line = describe(kind, n, chunking) + ", each written as one chunked-encoding frame"
    seen = client_reads.get((kind, n, chunking))
    if seen is not None:
        chunks, reads = seen
        if reads is not None:
            line += f"; the httpx client read the socket {reads:,} times"
        line += f" and httpx's aiter_bytes gave {chunks:,} chunks"
    return line


# -- the workloads --------------------------------------------------------------------

#: Timed runs of an sse_http table at most (a run of all four takes ~40 s here).
MAX_RUNS = 5

SW_AIOHTTP = "sluiceway on aiohttp"
SW_HTTPX = "sluiceway on httpx"
HTTPX_SSE = "httpx-sse"
CLIENT2 = "aiohttp-sse-client2"
HTTPX_FLOOR = "httpx floor (aiter_bytes, no SSE decoding)"
#: The floor issue 13 names: httpx's ``response.stream``, which sluiceway reads too.
HTTPX_STREAM_FLOOR = "httpx floor (response.stream, no SSE decoding)"
AIOHTTP_FLOOR = "aiohttp floor (content.iter_any(), no SSE decoding)"

#: Issue 13's acceptance figures: (entry, the entry it is compared with, least ratio of
#: their events/s), per stream and chunking. The floors read the same body, so a ratio
#: over a floor is the share of the transport's own speed that is kept.
TARGETS: dict[tuple[Kind, Chunking], tuple[tuple[str, str, float], ...]] = {
    ("token", "64k"): ((SW_AIOHTTP, HTTPX_SSE, 3.0), (SW_AIOHTTP, CLIENT2, 2.0), (SW_HTTPX, HTTPX_SSE, 3.0)),
    ("token", "random"): ((SW_AIOHTTP, HTTPX_SSE, 3.0), (SW_AIOHTTP, CLIENT2, 2.0), (SW_HTTPX, HTTPX_STREAM_FLOOR, 0.8)),
    ("mixed", "64k"): ((SW_AIOHTTP, HTTPX_SSE, 1.5), (SW_HTTPX, HTTPX_SSE, 1.5)),
    ("mixed", "random"): ((SW_AIOHTTP, HTTPX_SSE, 1.5), (SW_HTTPX, HTTPX_STREAM_FLOOR, 0.9)),
}  # fmt: skip


def workload(kind: Kind, chunking: Chunking) -> Workload:
    """The ``sse_http`` table of one stream and chunking."""
    fns = http_entries(kind, chunking)

    async def prepare(n: int) -> None:
        await prepare_http(kind, chunking, n)

    return Workload(
        title=f"SSE end to end from a loopback server through aiohttp and httpx, {kind} stream "
        f"written in {CHUNKINGS[chunking]}: count the events and checksum their data",
        expected=expected(kind),
        baseline=HTTPX_SSE,
        entries=(
            Entry(
                SW_AIOHTTP,
                fns["ours_aiohttp"],
                "sluiceway",
                requires="aiohttp",
                probe=sluiceway_reads_aiohttp,
            ),
            Entry(SW_HTTPX, fns["ours_httpx"], "sluiceway", requires="httpx"),
            Entry(HTTPX_SSE, fns["httpx_sse"], "peer", requires="httpx_sse"),
            Entry(
                CLIENT2,
                fns["client2"],
                "peer",
                requires="aiohttp_sse_client2",
                expected=lambda n: client2_summary(kind, n),
            ),
            Entry(
                HTTPX_FLOOR,
                fns["httpx_floor"],
                "reference",
                requires="httpx",
                expected=body_size(kind),
            ),
            Entry(
                HTTPX_STREAM_FLOOR,
                fns["httpx_stream_floor"],
                "reference",
                requires="httpx",
                expected=body_size(kind),
            ),
            Entry(
                AIOHTTP_FLOOR,
                fns["aiohttp_floor"],
                "reference",
                requires="aiohttp",
                expected=body_size(kind),
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
        targets=TARGETS[kind, chunking],
        targets_label="issue 13 acceptance figures (events/s over events/s, medians of this run)",
    )


WORKLOADS: dict[str, Workload] = {
    f"sse_http:{kind}:{chunking}": workload(kind, chunking)
    for kind in EVENTS
    for chunking in CHUNKINGS
}
