"""Server-Sent Events workloads for ``run.py``: sluiceway.sse against httpx-sse.

Two streams, generated deterministically (fixed seeds) once per size and kept
in memory:

- **token**: an LLM-style token stream, one single-line JSON ``data:`` field
  per event (~89 bytes an event), an ``id:`` line every 50 events, LF endings.
- **mixed**: ~20 MB of multi-line events (2-6 data lines, some of several
  KiB, some with non-ASCII text), comment lines, ``event:``, ``id:`` and now
  and then ``retry:`` fields, 10% of the blocks with CRLF line endings.

Every block of both streams has a data line: httpx-sse 0.4 dispatches an
empty event for a blank line once any ``id`` was seen (the WHATWG rules do
not), so a comment-only keep-alive block would give the two libraries
different event counts.

Each stream is cut two ways: 64 KiB chunks, and random chunks (1-300 bytes
for token, 1-100 bytes for mixed) from a seeded ``random.Random``.

Every entry consumes every event the same way (count, total length of the
data, XOR of ``hash(data)``, the last event's id) and returns
:func:`summary`-shaped tuples, checked against the generator's own record of
the events. Before timing, both decoders' full event lists (type, data, id,
retry) are compared with that record once.

``python benchmarks/sse_bench.py serve`` runs the loopback HTTP server in its
own process (what ``run.py --sse-server process`` starts).
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import random
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sluiceway.sse import Decoder

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Iterator

    import httpx

Kind = Literal["token", "mixed"]
Chunking = Literal["64k", "random"]

#: Events per stream: the default run, and ``--quick``.
TOKEN_EVENTS = 150_000
MIXED_EVENTS = 11_000  # ~20 MB
QUICK_TOKEN_EVENTS = 10_000
QUICK_MIXED_EVENTS = 600  # ~1 MB

BIG_CHUNK = 64 * 1024
RANDOM_CHUNK: dict[Kind, tuple[int, int]] = {"token": (1, 300), "mixed": (1, 100)}
SEEDS: dict[str, int] = {"token": 1, "mixed": 2, "chunks": 3}

#: Summary of a stream's events: (count, total length of data, XOR of hash(data), last id).
Summary = tuple[int, int, int, str]
#: One event as the WHATWG rules give it: (type, data, last event id, retry).
Truth = tuple[str, str, str, int | None]

# -- the streams ----------------------------------------------------------------------

_TOKENS = (
    " the", " a", " of", " to", " and", " in", " is", " that", " for", " it", " as", " with",
    " stream", " event", " token", " model", " data", " server", " client", " buffer",
    "ing", "ed", "ly", "s", ".", ",", ":", ";", "!", "?", "\n", "\n\n", " (", ")",
    ' "', '"', "\\", "{", "}", " 42", " 2024", "-", " —", " café", " 東京", " 🙂",
    " Python", " async", " await", " yield", " return", " None", "```", "``", "`",
)  # fmt: skip


def _chat_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "chatcmpl-" + "".join(rng.choice(alphabet) for _ in range(12))


@dataclass
class SSEStream:
    """A generated stream: its bytes and what a WHATWG decoder must find in them."""

    kind: Kind
    body: bytes
    truth: list[Truth]

    @functools.cached_property
    def summary(self) -> Summary:
        return summary(self.truth)


def summary(events: Iterable[Truth]) -> Summary:
    """The per-run check value: what every entry computes from the events it gets."""
    count = size = digest = 0
    last: Truth | None = None
    for last in events:
        data = last[1]
        count += 1
        size += len(data)
        digest ^= hash(data)
    return count, size, digest, last[2] if last is not None else ""


def token_stream(n: int) -> SSEStream:
    """``n`` chat-completion chunk events, an ``id:`` line every 50th event, LF."""
    rng = random.Random(SEEDS["token"])
    cid = _chat_id(rng)
    head = '{"id":"' + cid + '","choices":[{"index":0,"delta":{"content":'
    parts: list[str] = []
    truth: list[Truth] = []
    last_id = ""
    for i in range(1, n + 1):
        data = head + json.dumps(rng.choice(_TOKENS)) + "}}]}"
        if i % 50 == 0:
            last_id = str(i)
            parts.append(f"id: {last_id}\n")
        parts.append(f"data: {data}\n\n")
        truth.append(("message", data, last_id, None))
    return SSEStream("token", "".join(parts).encode(), truth)


_WORDS = (
    "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
    "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua", "key:",
    "value", "{json}", "[list]", "a=b;",
)  # fmt: skip
_NON_ASCII = ("naïve", "café", "señor", "Ünïcödé", "東京", "—", "🙂")


def _text_pool(rng: random.Random, size: int) -> str:
    """Random words, 1% of them non-ASCII, no CR or LF: data lines are slices of it."""
    out: list[str] = []
    total = 0
    while total < size:
        word = rng.choice(_NON_ASCII if rng.random() < 0.01 else _WORDS)
        out.append(word)
        total += len(word) + 1
    return " ".join(out)


def mixed_stream(n: int) -> SSEStream:
    """``n`` multi-line events with comments, types, ids, retries and some CRLF blocks."""
    rng = random.Random(SEEDS["mixed"])
    pool = _text_pool(rng, 1 << 20)
    types = ("update", "delta", "status", "tool_call", "message")
    parts: list[str] = []
    truth: list[Truth] = []
    last_id = ""
    for i in range(n):
        lines: list[str] = []
        if rng.random() < 0.15:
            lines.append(": " + pool[(start := rng.randrange(len(pool) - 80)) : start + 40])
        event_type = ""
        if rng.random() < 0.3:
            event_type = rng.choice(types)
            lines.append(f"event: {event_type}")
        retry: int | None = None
        if rng.random() < 0.02:
            retry = rng.randrange(500, 10_000)
            lines.append(f"retry: {retry}")
        values: list[str] = []
        for _ in range(rng.randint(2, 6)):
            size = rng.randint(2048, 8192) if rng.random() < 0.06 else rng.randint(0, 200)
            start = rng.randrange(len(pool) - size)
            value = pool[start : start + size]
            values.append(value)
            if value and not value.startswith(" ") and rng.random() < 0.2:
                lines.append("data:" + value)  # no space after the colon
            else:
                lines.append("data: " + value)
            if rng.random() < 0.05:
                lines.append(": a comment between data lines")
        if rng.random() < 0.25:
            last_id = f"m-{i}"
            lines.insert(rng.randrange(len(lines) + 1), "id: " + last_id)
        eol = "\r\n" if rng.random() < 0.1 else "\n"
        parts.append(eol.join(lines) + eol + eol)
        truth.append((event_type or "message", "\n".join(values), last_id, retry))
    return SSEStream("mixed", "".join(parts).encode(), truth)


@functools.cache
def get_stream(kind: Kind, n: int) -> SSEStream:
    return token_stream(n) if kind == "token" else mixed_stream(n)


@functools.cache
def get_chunks(kind: Kind, n: int, chunking: Chunking) -> list[bytes]:
    """The stream's body cut in 64 KiB chunks, or in seeded random sizes."""
    body = get_stream(kind, n).body
    if chunking == "64k":
        return [body[i : i + BIG_CHUNK] for i in range(0, len(body), BIG_CHUNK)]
    rng = random.Random(SEEDS["chunks"])
    low, high = RANDOM_CHUNK[kind]
    chunks: list[bytes] = []
    i = 0
    while i < len(body):
        step = rng.randint(low, high)
        chunks.append(body[i : i + step])
        i += step
    return chunks


def describe(kind: Kind, n: int, chunking: Chunking) -> str:
    """One line about a stream and its chunking, for the tables."""
    stream = get_stream(kind, n)
    chunks = get_chunks(kind, n, chunking)
    size = len(stream.body)
    if chunking == "64k":
        cut = "64 KiB chunks"
    else:
        low, high = RANDOM_CHUNK[kind]
        cut = f"random {low}-{high} byte chunks"
    return (
        f"{kind} stream: {len(stream.truth):,} events, {size / 1e6:.1f} MB "
        f"({size / len(stream.truth):,.0f} B/event), {len(chunks):,} {cut}"
    )


# -- httpx-sse's decoding, per chunk, without the async generators ---------------------


class HttpxSSEDecoder:
    """What ``EventSource.aiter_sse`` does with each chunk of the body, synchronously.

    httpx's ``Response.aiter_text`` decodes each chunk with ``TextDecoder``
    (an incremental UTF-8 decoder) and passes it through a ``TextChunker``
    (``chunk_size=None``: the text as is); httpx-sse's ``_aiter_sse_lines``
    splits it with ``SSELineDecoder``; ``aiter_sse`` strips the ``"\\n"`` off
    each line and gives it to ``SSEDecoder.decode``, keeping the events that
    come back. The async generators between those steps are left out.
    """

    def __init__(self) -> None:
        from httpx._decoders import TextChunker, TextDecoder
        from httpx_sse._decoders import SSEDecoder, SSELineDecoder

        self._text = TextDecoder("utf-8")
        self._chunker = TextChunker()
        self._lines = SSELineDecoder()
        self._sse = SSEDecoder()

    def feed(self, chunk: bytes) -> list[Any]:
        events = []
        decode = self._sse.decode
        for text in self._chunker.decode(self._text.decode(chunk)):
            for line in self._lines.decode(text):
                line = line.rstrip("\n")
                sse = decode(line)
                if sse is not None:
                    events.append(sse)
        return events

    def close(self) -> list[Any]:
        """The end of the body: flush the text and line decoders."""
        events = []
        texts = [*self._chunker.decode(self._text.flush()), *self._chunker.flush()]
        lines = [line for text in texts for line in self._lines.decode(text)]
        for line in [*lines, *self._lines.flush()]:
            sse = self._sse.decode(line.rstrip("\n"))
            if sse is not None:
                events.append(sse)
        return events


def httpx_sse_generators(chunks: Iterable[bytes]) -> Iterator[Any]:
    """``aiter_sse`` line for line, as sync generators (aiter_text -> lines -> events)."""
    from httpx._decoders import TextChunker, TextDecoder
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    def iter_text() -> Iterator[str]:  # httpx.Response.aiter_text
        decoder = TextDecoder("utf-8")
        chunker = TextChunker()
        for byte_content in chunks:
            yield from chunker.decode(decoder.decode(byte_content))
        yield from chunker.decode(decoder.flush())
        yield from chunker.flush()

    def iter_lines() -> Iterator[str]:  # httpx_sse._api._aiter_sse_lines
        decoder = SSELineDecoder()
        for text in iter_text():
            yield from decoder.decode(text)
        yield from decoder.flush()

    decoder = SSEDecoder()  # EventSource.aiter_sse
    for line in iter_lines():
        line = line.rstrip("\n")
        sse = decoder.decode(line)
        if sse is not None:
            yield sse


def verify_decoders(kind: Kind, n: int, chunking: Chunking) -> None:
    """Both decoders must find exactly the generated events (type, data, id, retry)."""
    stream = get_stream(kind, n)
    chunks = get_chunks(kind, n, chunking)
    ours = Decoder()
    outputs = {
        "sluiceway": [(e.event, e.data, e.id, e.retry) for c in chunks for e in ours.feed(c)]
    }
    if importlib.util.find_spec("httpx_sse") is not None:  # else its entries are skipped
        theirs = HttpxSSEDecoder()
        found = [e for c in chunks for e in theirs.feed(c)] + theirs.close()
        outputs["httpx-sse"] = [(e.event, e.data, e.id, e.retry) for e in found]
    for name, events in outputs.items():
        if events != stream.truth:
            bad = next(
                (i for i, (a, b) in enumerate(zip(events, stream.truth, strict=False)) if a != b),
                min(len(events), len(stream.truth)),
            )
            raise AssertionError(
                f"{name} decodes the {kind} stream ({chunking}) differently: "
                f"{len(events)} events for {len(stream.truth)}, first difference at {bad}"
            )


# -- workload sse_decoder: the decoders alone -----------------------------------------


def decoder_entries(
    kind: Kind, chunking: Chunking
) -> dict[str, Callable[[int], Awaitable[object]]]:
    """The decoder-alone entries for one stream and chunking, by role."""

    async def theirs(n: int) -> Summary:
        chunks = get_chunks(kind, n, chunking)
        decoder = HttpxSSEDecoder()
        feed = decoder.feed
        count = size = digest = 0
        last = None
        for chunk in chunks:
            for last in feed(chunk):
                data = last.data
                count += 1
                size += len(data)
                digest ^= hash(data)
        for last in decoder.close():
            data = last.data
            count += 1
            size += len(data)
            digest ^= hash(data)
        return count, size, digest, last.id if last is not None else ""

    async def theirs_generators(n: int) -> Summary:
        chunks = get_chunks(kind, n, chunking)
        count = size = digest = 0
        last = None
        for last in httpx_sse_generators(chunks):
            data = last.data
            count += 1
            size += len(data)
            digest ^= hash(data)
        return count, size, digest, last.id if last is not None else ""

    async def ours(n: int) -> Summary:
        chunks = get_chunks(kind, n, chunking)
        feed = Decoder().feed
        count = size = digest = 0
        last = None
        for chunk in chunks:
            for last in feed(chunk):
                data = last.data
                count += 1
                size += len(data)
                digest ^= hash(data)
        return count, size, digest, last.id if last is not None else ""

    theirs.__doc__ = (
        "per chunk: httpx TextDecoder.decode -> TextChunker.decode -> httpx_sse "
        "SSELineDecoder.decode -> line.rstrip('\\n') -> SSEDecoder.decode (aiter_sse's steps, "
        "sync, no generators); then flush"
    )
    theirs_generators.__doc__ = (
        "aiter_sse as three sync generators: aiter_text -> _aiter_sse_lines -> aiter_sse's loop"
    )
    ours.__doc__ = "feed = sluiceway.sse.Decoder().feed; for chunk in chunks: for ev in feed(chunk)"
    return {"theirs": theirs, "theirs_generators": theirs_generators, "ours": ours}


async def prepare_decoder(kind: Kind, chunking: Chunking, n: int) -> None:
    """Generate the stream and its chunks (not timed) and check both decoders on it."""
    get_chunks(kind, n, chunking)
    verify_decoders(kind, n, chunking)


# -- the loopback HTTP server ---------------------------------------------------------

ServerMode = Literal["thread", "process"]

_RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n"
    b"\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


@functools.cache
def framed(kind: Kind, n: int, chunking: Chunking) -> list[bytes]:
    """The chunks as HTTP/1.1 chunked-encoding frames, one ``sendall`` each."""
    return [b"%x\r\n%b\r\n" % (len(c), c) for c in get_chunks(kind, n, chunking)]


def parse_path(path: str) -> tuple[Kind, int, Chunking] | None:
    """``/token/150000/random`` -> ("token", 150000, "random")."""
    try:
        _, kind, n, chunking = path.split("/")
        if kind in ("token", "mixed") and chunking in ("64k", "random"):
            return kind, int(n), chunking  # type: ignore[return-value]
    except ValueError:
        pass
    return None


def _handle(conn: socket.socket) -> None:
    """Serve GET requests on one keep-alive connection until the client closes it."""
    with conn:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                part = conn.recv(65536)
                if not part:
                    return
                buf += part
            head, _, buf = buf.partition(b"\r\n\r\n")
            target = parse_path(head.split(b" ", 2)[1].decode("latin-1"))
            if target is None:
                conn.sendall(_NOT_FOUND)
                continue
            frames = framed(*target)
            conn.sendall(_RESPONSE_HEAD)
            for frame in frames:  # exactly one write per chunk
                conn.sendall(frame)
            conn.sendall(b"0\r\n\r\n")


def _serve_forever(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_handle, args=(conn,), daemon=True).start()


def _listen() -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.listen(16)
    return listener


class Server:
    """The loopback server: in a process of its own, or in a thread of this one."""

    def __init__(self, mode: ServerMode) -> None:
        self.mode = mode
        self._process: subprocess.Popen[str] | None = None
        if mode == "thread":
            listener = _listen()
            self.port = listener.getsockname()[1]
            threading.Thread(target=_serve_forever, args=(listener,), daemon=True).start()
        else:
            # The child exits when its stdin closes: when this process ends, however it ends.
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._process.stdout is not None
            self.port = int(self._process.stdout.readline())
            atexit.register(self.close)

    def url(self, kind: Kind, n: int, chunking: Chunking) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{n}/{chunking}"

    def close(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(5)


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


def _main(argv: list[str]) -> None:
    if argv != ["serve"]:
        sys.exit("usage: sse_bench.py serve  (the loopback server run.py starts)")
    listener = _listen()
    threading.Thread(target=_serve_forever, args=(listener,), daemon=True).start()
    print(listener.getsockname()[1], flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin or ends


if __name__ == "__main__":
    _main(sys.argv[1:])
