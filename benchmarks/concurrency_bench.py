"""Concurrent stages: merge, map with concurrency, prefetch.

- ``merge4``: four async generator sources merged and summed, against an
  ``asyncio.Queue`` + ``TaskGroup`` merge by hand (1.00);
- ``amap_conc``: ``map(adouble)`` with concurrency 1 and 64, against a
  sequential ``await`` loop (1.00);
- ``prefetch_overlap``: a source and a consumer that each sleep 20 ms per
  item, in seconds per run, against the sequential loop (1.00).

``adouble`` never suspends and the merge sources never wait, so the first two
measure coordination overhead, not concurrency; only ``prefetch_overlap`` has
waiting to overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import anyio

import sluiceway as sw
from functions import add, adouble, expected_amap, source
from harness import QUICK_FIXED_N, Workload, base, ours, peer, ref
from pipelines_bench import amap_agen_run

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

# -- workload 5: merge4 ---------------------------------------------------------------

MERGE_SOURCES = 4
MERGE_QUEUE_SIZE = 256


async def range_source(start: int, n: int) -> AsyncGenerator[int, None]:
    """An async source of ``range(start, start + n)``."""
    for i in range(start, start + n):
        yield i


def merge_sources(n: int) -> list[AsyncGenerator[int, None]]:
    """``MERGE_SOURCES`` async generators that together give ``range(n)``, ~n/4 items each."""
    starts = [k * n // MERGE_SOURCES for k in range(MERGE_SOURCES)]
    ends = [*starts[1:], n]
    return [range_source(lo, hi - lo) for lo, hi in zip(starts, ends, strict=True)]


def expected_sum(n: int) -> int:
    return n * (n - 1) // 2


async def merge_queue(n: int) -> int:
    """asyncio.Queue(maxsize=256) + asyncio.TaskGroup: one feeder task per source puts its items, then a unique sentinel; the consumer counts sentinels"""
    sources = merge_sources(n)
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=MERGE_QUEUE_SIZE)
    done = object()

    async def feed(src: AsyncGenerator[int, None]) -> None:
        async with contextlib.aclosing(src):
            async for x in src:
                await queue.put(x)
        await queue.put(done)

    total = 0
    async with asyncio.TaskGroup() as tg:
        for src in sources:
            tg.create_task(feed(src))
        finished = 0
        while finished < len(sources):
            x = await queue.get()
            if x is done:
                finished += 1
            else:
                total += x  # type: ignore[operator]
    return total


async def merge_chain(n: int) -> int:
    """for src in sources: async for x in src: total += x  (sequential, no tasks: not a merge)"""
    total = 0
    for src in merge_sources(n):
        async for x in src:
            total += x
    return total


async def merge_sluiceway(n: int) -> int:
    """async with sw.merge(*sources) as s: async for x in s  (default buffer)"""
    total = 0
    async with sw.merge(*merge_sources(n)) as s:
        async for x in s:
            total += x
    return total


async def merge_sluiceway_256(n: int) -> int:
    """async with sw.merge(*sources, buffer=256) as s: async for x in s"""
    total = 0
    async with sw.merge(*merge_sources(n), buffer=MERGE_QUEUE_SIZE) as s:
        async for x in s:
            total += x
    return total


async def merge_aiostream(n: int) -> int:
    """xs = stream.merge(*sources); async with xs.stream() as s: async for x in s"""

    from aiostream import stream

    xs = stream.merge(*merge_sources(n))
    total = 0
    async with xs.stream() as s:
        async for x in s:
            total += x
    return total


async def merge_aioitertools(n: int) -> int:
    """async for x in aioitertools.asyncio.as_generated(sources)  (unbounded queue: no backpressure)"""

    from aioitertools.asyncio import as_generated

    total = 0
    async for x in as_generated(merge_sources(n)):
        total += x
    return total


# -- workload 6: amap_conc ------------------------------------------------------------

WIDE = 64


async def aconc_loop(n: int) -> int:
    """async for x in source(n): total += await adouble(x)"""
    total = 0
    async for x in source(n):
        total += await adouble(x)
    return total


async def aconc_sluiceway_1(n: int) -> int:
    """async for y in sw.stream(source(n)).map(adouble, concurrency=1)"""
    total = 0
    async for y in sw.stream(source(n)).map(adouble, concurrency=1):
        total += y
    return total


async def aconc_sluiceway_1_reduce(n: int) -> int:
    """await sw.stream(source(n)).map(adouble, concurrency=1).reduce(add, 0)"""
    result: int = await sw.stream(source(n)).map(adouble, concurrency=1).reduce(add, 0)
    return result


async def aconc_sluiceway_64_reduce(n: int) -> int:
    """await sw.stream(source(n)).map(adouble, concurrency=64).reduce(add, 0)"""
    result: int = await sw.stream(source(n)).map(adouble, concurrency=WIDE).reduce(add, 0)
    return result


async def aconc_sluiceway_64(n: int) -> int:
    """async with sw.stream(source(n)).map(adouble, concurrency=64) as s: async for y in s"""
    total = 0
    async with sw.stream(source(n)).map(adouble, concurrency=WIDE) as s:
        async for y in s:
            total += y
    return total


async def aconc_sluiceway_64_unordered(n: int) -> int:
    """async with sw.stream(source(n)).map(adouble, concurrency=64, ordered=False) as s: async for y in s"""
    total = 0
    async with sw.stream(source(n)).map(adouble, concurrency=WIDE, ordered=False) as s:
        async for y in s:
            total += y
    return total


async def aconc_aiostream(n: int, task_limit: int) -> int:
    from aiostream import pipe, stream

    xs = stream.iterate(source(n)) | pipe.map(adouble, task_limit=task_limit)
    total = 0
    async with xs.stream() as s:
        async for y in s:
            total += y
    return total


async def aconc_aiostream_1(n: int) -> int:
    """stream.iterate(source(n)) | pipe.map(adouble, task_limit=1); async with xs.stream() as s: async for y in s"""
    return await aconc_aiostream(n, 1)


async def aconc_aiostream_64(n: int) -> int:
    """stream.iterate(source(n)) | pipe.map(adouble, task_limit=64); async with xs.stream() as s: async for y in s"""
    return await aconc_aiostream(n, WIDE)


# -- workload 7: prefetch_overlap -----------------------------------------------------

OVERLAP_ITEMS = 20
OVERLAP_DELAY = 0.02  # seconds to produce one item, and again to consume it
SEED_BUFFER = 10


async def slow_source(n: int) -> AsyncIterator[int]:
    """Each item takes ``OVERLAP_DELAY`` to produce (anyio.sleep: asyncio.sleep here)."""
    for i in range(n):
        await anyio.sleep(OVERLAP_DELAY)
        yield i


async def overlap_loop(n: int) -> int:
    """async for x in slow_source(): await asyncio.sleep(0.02)  (produce, then consume, one after the other)"""
    total = 0
    async for x in slow_source(n):
        await asyncio.sleep(OVERLAP_DELAY)
        total += x
    return total


class BufferedAsyncIterator:
    """The seed document's "Buffered Async Iterator" recipe, as written there.

    ``_fill_buffer`` reads up to ``buffer_size`` items from the source, inline,
    then ``__anext__`` hands them out: nothing reads ahead while the consumer works.
    """

    def __init__(self, source: AsyncIterator[int], buffer_size: int = 100) -> None:
        self.source = source
        self.buffer_size = buffer_size
        self.buffer: list[int] = []
        self.index = 0
        self.exhausted = False

    def __aiter__(self) -> BufferedAsyncIterator:
        return self

    async def _fill_buffer(self) -> None:
        self.buffer = []
        self.index = 0
        count = 0
        async for item in self.source:
            self.buffer.append(item)
            count += 1
            if count >= self.buffer_size:
                break
        if count == 0:
            self.exhausted = True

    async def __anext__(self) -> int:
        if self.index >= len(self.buffer):
            if self.exhausted:
                raise StopAsyncIteration
            await self._fill_buffer()
            if self.exhausted:
                raise StopAsyncIteration
        item = self.buffer[self.index]
        self.index += 1
        return item


async def overlap_seed(n: int) -> int:
    """async for x in BufferedAsyncIterator(slow_source(), buffer_size=10): await asyncio.sleep(0.02)  (the seed's _fill_buffer recipe)"""
    total = 0
    async for x in BufferedAsyncIterator(slow_source(n), buffer_size=SEED_BUFFER):
        await asyncio.sleep(OVERLAP_DELAY)
        total += x
    return total


async def overlap_sluiceway(n: int, ahead: int) -> int:
    total = 0
    async with sw.stream(slow_source(n)).prefetch(ahead) as s:
        async for x in s:
            await asyncio.sleep(OVERLAP_DELAY)
            total += x
    return total


async def overlap_sluiceway_2(n: int) -> int:
    """async with sw.stream(slow_source()).prefetch(2) as s: async for x in s: await asyncio.sleep(0.02)"""
    return await overlap_sluiceway(n, 2)


async def overlap_sluiceway_1(n: int) -> int:
    """async with sw.stream(slow_source()).prefetch(1) as s: async for x in s: await asyncio.sleep(0.02)"""
    return await overlap_sluiceway(n, 1)


# -- the workloads --------------------------------------------------------------------

WORKLOADS: dict[str, Workload] = {
    "merge4": Workload(
        title=f"merge of {MERGE_SOURCES} async generator sources of N/{MERGE_SOURCES} items "
        "each, summed with async for",
        expected=expected_sum,
        baseline=f"hand-written asyncio.Queue({MERGE_QUEUE_SIZE}) + TaskGroup",
        entries=(
            base(f"hand-written asyncio.Queue({MERGE_QUEUE_SIZE}) + TaskGroup", merge_queue),
            ref("raw sequential chain (not a merge)", merge_chain),
            ours("sluiceway merge (default buffer)", merge_sluiceway),
            ours(f"sluiceway merge (buffer={MERGE_QUEUE_SIZE})", merge_sluiceway_256),
            peer("aiostream merge", merge_aiostream, divisor=10),
            peer("aioitertools as_generated (unbounded)", merge_aioitertools),
        ),
    ),
    "amap_conc": Workload(
        title="map(async adouble) with concurrency, over an async generator source, summed",
        expected=expected_amap,
        baseline="hand-written sequential await loop",
        entries=(
            base("hand-written sequential await loop", aconc_loop),
            ref("hand-written async generator (amap_agen)", amap_agen_run),
            ours("sluiceway concurrency=1", aconc_sluiceway_1),
            ours("sluiceway concurrency=1, .reduce(add, 0)", aconc_sluiceway_1_reduce),
            ours(f"sluiceway concurrency={WIDE}", aconc_sluiceway_64),
            ours(f"sluiceway concurrency={WIDE}, .reduce(add, 0)", aconc_sluiceway_64_reduce),
            ours(f"sluiceway concurrency={WIDE}, ordered=False", aconc_sluiceway_64_unordered),
            peer("aiostream task_limit=1", aconc_aiostream_1, divisor=10),
            peer(f"aiostream task_limit={WIDE}", aconc_aiostream_64, divisor=100),
        ),
    ),
    "prefetch_overlap": Workload(
        title=f"{OVERLAP_ITEMS} items ({QUICK_FIXED_N} in --quick), each produced after a "
        f"{OVERLAP_DELAY * 1000:.0f} ms sleep and consumed with a {OVERLAP_DELAY * 1000:.0f} ms "
        "sleep; seconds per run",
        expected=expected_sum,
        baseline="hand-written sequential loop",
        fixed_n=OVERLAP_ITEMS,
        unit="s",
        entries=(
            base("hand-written sequential loop", overlap_loop),
            ref(f"seed recipe BufferedAsyncIterator({SEED_BUFFER})", overlap_seed),
            ours("sluiceway prefetch(2)", overlap_sluiceway_2),
            ours("sluiceway prefetch(1)", overlap_sluiceway_1),
        ),
    ),
}
