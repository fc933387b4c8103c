"""The Server-Sent Events streams of the SSE workloads, generated once per size.

Two streams, generated deterministically (fixed seeds) and kept in memory:

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
the events (:func:`expected`).
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

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

#: Events of each stream in the workloads: (default run, --quick).
EVENTS: dict[Kind, tuple[int, int]] = {
    "token": (TOKEN_EVENTS, QUICK_TOKEN_EVENTS),
    "mixed": (MIXED_EVENTS, QUICK_MIXED_EVENTS),
}
#: The chunkings, as the tables' titles name them.
CHUNKINGS: dict[Chunking, str] = {"64k": "64 KiB chunks", "random": "random chunks"}
#: Events of the result check before timing (a separate, small stream).
CHECK_EVENTS = 300

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


def expected(kind: Kind) -> Callable[[int], object]:
    """A workload's expected result: the summary of the ``kind`` stream of ``n`` events."""
    return lambda n: get_stream(kind, n).summary
