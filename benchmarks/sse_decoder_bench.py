"""SSE decoder alone: sluiceway.sse.Decoder against httpx-sse's decoding, fed from memory.

One table per stream and chunking, ``sse_decoder:<stream>:<chunking>``. The
baseline (1.00) is httpx-sse's decoding as ``EventSource.aiter_sse`` does it
per chunk, run synchronously without its async generators
(:class:`HttpxSSEDecoder`); a reference runs the same steps as sync
generators. Before timing, both decoders' full event lists (type, data, id,
retry) are compared with the generator's record once.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from harness import Entry, Workload, ours
from sluiceway.sse import Decoder
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
    from collections.abc import Awaitable, Callable, Iterable, Iterator

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


# -- the workloads --------------------------------------------------------------------

#: The project's acceptance target: least speedup over httpx-sse's events/s.
TARGET: dict[Chunking, float] = {"64k": 1.2}

HTTPX_SSE_DECODER = "httpx-sse decoder (aiter_sse's steps per chunk)"
SW_DECODER = "sluiceway Decoder.feed"


def workload(kind: Kind, chunking: Chunking) -> Workload:
    """The ``sse_decoder`` table of one stream and chunking."""
    fns = decoder_entries(kind, chunking)
    target = TARGET.get(chunking)

    async def prepare(n: int) -> None:
        await prepare_decoder(kind, chunking, n)

    return Workload(
        title=f"SSE decoder alone, {kind} stream in {CHUNKINGS[chunking]}: decode every "
        "chunk, count the events and checksum their data",
        expected=expected(kind),
        baseline=HTTPX_SSE_DECODER,
        entries=(
            Entry(HTTPX_SSE_DECODER, fns["theirs"], "peer", requires="httpx_sse"),
            Entry(
                "httpx-sse as sync generators",
                fns["theirs_generators"],
                "peer",
                requires="httpx_sse",
            ),
            ours(SW_DECODER, fns["ours"]),
        ),
        fixed_n=EVENTS[kind][0],
        quick_n=EVENTS[kind][1],
        check_n=CHECK_EVENTS,
        unit="ns/event",
        baseline_label="httpx-sse",
        group="sse_decoder",
        prepare=prepare,
        detail=lambda n: describe(kind, n, chunking),
        target=(SW_DECODER, target) if target else None,
    )


WORKLOADS: dict[str, Workload] = {
    f"sse_decoder:{kind}:{chunking}": workload(kind, chunking)
    for kind in EVENTS
    for chunking in CHUNKINGS
}
