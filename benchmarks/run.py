"""sluiceway against hand-written async generators, sync loops and the peer libraries.

Every workload runs the same computation through several implementations in
one process: a plain sync for-loop (calling the same functions, and with the
arithmetic inlined), hand-written async generators, sluiceway, aiostream,
asyncstdlib and aioitertools. Each entry is timed with ``time.perf_counter``
around one complete run (building its source included), after a
``gc.collect()``; runs are interleaved (run 1 of every entry, then run 2, ...)
so machine noise spreads evenly, and the median is reported.

How to read the ratios: ``x async`` is an entry's median over the median of
the workload's hand-written async baseline (1.00): for the pipelines an async
generator, the cost of plain async iteration that a library can at best
match, or beat by doing less per item (fusing stages, moving batches); for
merge4 an ``asyncio.Queue`` + ``TaskGroup`` merge; for amap_conc and
prefetch_overlap a sequential ``await`` loop. prefetch_overlap is paced by
sleeps and reports seconds per run instead of ns/item. ``x sync`` is the same over the
sync for-loop that calls the same functions: how far from "just a for-loop"
an entry is. Absolute ns/item move with the machine (run-to-run noise of 1.5x
or more on small shared VMs); compare ratios within one run.

The Server-Sent Events workloads (``sse_decoder`` and ``sse_http``, from
``sse_bench.py``) compare sluiceway.sse with httpx-sse on generated streams:
the decoders alone, and end to end through httpx from a loopback server. They
report ns/event, events/s and the speedup over httpx-sse (1.00), and say
whether the project's acceptance targets are met.

Every entry's result is checked against the expected value, so a broken entry
stops the run instead of reporting a fast wrong answer. A peer that is not
installed is skipped and shown as n/a.

Usage::

    python benchmarks/run.py [--runs 5] [--n 300000] [--loop asyncio|uvloop] [--quick]
        [--workload NAME] [--sse-server process|thread]

Writes ``benchmarks/results.md`` and ``benchmarks/results.png`` (``--quick``
writes them to a temporary directory unless ``--out-dir`` is given).

Adding a workload: write its entries as ``async def run(n: int) -> object``
functions and add a :class:`Workload` to ``WORKLOADS``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio

import db_bench
import pages_bench
import sluiceway as sw
import sse_bench

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable

HERE = Path(__file__).resolve().parent
PEERS = ("aiostream", "asyncstdlib", "aioitertools", "httpx", "httpx_sse")
BATCH_SOURCE_SIZE = 1000
CHUNK = 100

# -- the functions every entry applies ----------------------------------------------


def double(x: int) -> int:
    return x * 2


def keep(y: int) -> bool:
    return y % 4 == 0


def drop(y: int) -> bool:
    """``not keep(y)``, for aioitertools' filterfalse (it has no filter)."""
    return y % 4 != 0


def add(a: int, b: int) -> int:
    return a + b


async def adouble(x: int) -> int:
    """An async function that never suspends: measures the per-call await overhead."""
    return x * 2


async def source(n: int) -> AsyncIterator[int]:
    """The async source of single items."""
    for i in range(n):
        yield i


async def batch_source(n: int, size: int = BATCH_SOURCE_SIZE) -> AsyncIterator[list[int]]:
    """An async source of ``size``-item lists, like a DB cursor's ``fetch(1000)``."""
    for start in range(0, n, size):
        yield list(range(start, min(start + size, n)))


def expected_pipe(n: int) -> int:
    """Sum of 2x over even x < n (``double``, then ``keep``, then sum)."""
    evens = (n + 1) // 2
    return 2 * evens * (evens - 1)


def expected_amap(n: int) -> int:
    return n * (n - 1)


def expected_chunks(n: int) -> tuple[int, int]:
    """(items, chunks): every item is in a chunk and chunks are ``CHUNK`` long."""
    return n, -(-n // CHUNK)


# -- hand-written async generators (the baselines) ---------------------------------


async def map_agen(fn: Callable[[int], int], src: AsyncIterable[int]) -> AsyncIterator[int]:
    async for x in src:
        yield fn(x)


async def filter_agen(pred: Callable[[int], bool], src: AsyncIterable[int]) -> AsyncIterator[int]:
    async for x in src:
        if pred(x):
            yield x


async def amap_agen(
    fn: Callable[[int], Awaitable[int]], src: AsyncIterable[int]
) -> AsyncIterator[int]:
    async for x in src:
        yield await fn(x)


async def chunk_agen(src: AsyncIterable[int], size: int) -> AsyncIterator[list[int]]:
    buf: list[int] = []
    async for x in src:
        buf.append(x)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


# -- workload 1: pipe_async_for -------------------------------------------------------


async def pipe_sync_calls(n: int) -> int:
    """for x in range(n): y = double(x); if keep(y): total += y"""
    total = 0
    for x in range(n):
        y = double(x)
        if keep(y):
            total += y
    return total


async def pipe_sync_inline(n: int) -> int:
    """for x in range(n): y = x * 2; if y % 4 == 0: total += y"""
    total = 0
    for x in range(n):
        y = x * 2
        if y % 4 == 0:
            total += y
    return total


async def pipe_agen(n: int) -> int:
    """async for y in filter_agen(keep, map_agen(double, source(n))): total += y"""
    total = 0
    async for y in filter_agen(keep, map_agen(double, source(n))):
        total += y
    return total


async def pipe_sluiceway(n: int) -> int:
    """async for y in sw.stream(source(n)).map(double).filter(keep): total += y"""
    total = 0
    async for y in sw.stream(source(n)).map(double).filter(keep):
        total += y
    return total


async def pipe_sluiceway_with(n: int) -> int:
    """async with sw.stream(source(n)).map(double).filter(keep) as s: async for y in s"""
    total = 0
    async with sw.stream(source(n)).map(double).filter(keep) as s:
        async for y in s:
            total += y
    return total


async def pipe_sluiceway_reduce(n: int) -> int:
    """await sw.stream(source(n)).map(double).filter(keep).reduce(add, 0)"""
    return await sw.stream(source(n)).map(double).filter(keep).reduce(add, 0)


async def pipe_aiostream(n: int) -> int:
    """stream.iterate(source(n)) | pipe.map(double) | pipe.filter(keep); async with xs.stream() as s: async for y in s"""

    from aiostream import pipe, stream

    xs = stream.iterate(source(n)) | pipe.map(double) | pipe.filter(keep)
    total = 0
    async with xs.stream() as s:
        async for y in s:
            total += y
    return total


async def pipe_asyncstdlib(n: int) -> int:
    """async for y in a.filter(keep, a.map(double, source(n)))"""

    import asyncstdlib as a

    total = 0
    async for y in a.filter(keep, a.map(double, source(n))):
        total += y
    return total


async def pipe_aioitertools(n: int) -> int:
    """async for y in aioitertools.map(double, source(n)): if keep(y): total += y  (aioitertools has no filter)"""

    import aioitertools

    total = 0
    async for y in aioitertools.map(double, source(n)):
        if keep(y):
            total += y
    return total


async def pipe_aioitertools_filterfalse(n: int) -> int:
    """async for y in filterfalse(drop, aioitertools.map(double, source(n)))  (drop = not keep; aioitertools.itertools.filterfalse)"""

    import aioitertools
    from aioitertools.itertools import filterfalse

    total = 0
    async for y in filterfalse(drop, aioitertools.map(double, source(n))):
        total += y
    return total


# -- workload 2: pipe_batched_reduce ------------------------------------------------


async def reduce_sync_calls(n: int) -> int:
    """for x in range(n): y = double(x); if keep(y): total = add(total, y)"""
    total = 0
    for x in range(n):
        y = double(x)
        if keep(y):
            total = add(total, y)
    return total


async def reduce_agen(n: int) -> int:
    """async for batch in batch_source(n): for x in batch: y = double(x); if keep(y): total = add(total, y)"""
    total = 0
    async for batch in batch_source(n):
        for x in batch:
            y = double(x)
            if keep(y):
                total = add(total, y)
    return total


async def reduce_sluiceway_range(n: int) -> int:
    """await sw.stream(range(n)).map(double).filter(keep).reduce(add, 0)"""
    return await sw.stream(range(n)).map(double).filter(keep).reduce(add, 0)


async def reduce_sluiceway_batches(n: int) -> int:
    """await sw.from_batches(batch_source(n)).map(double).filter(keep).reduce(add, 0)"""
    return await sw.from_batches(batch_source(n)).map(double).filter(keep).reduce(add, 0)


async def reduce_aiostream(n: int) -> int:
    """await (stream.iterate(range(n)) | pipe.map(double) | pipe.filter(keep) | pipe.reduce(add, 0))"""

    from aiostream import pipe, stream

    xs = stream.iterate(range(n)) | pipe.map(double) | pipe.filter(keep) | pipe.reduce(add, 0)
    result: int = await xs  # awaiting a stream gives its last item
    return result


async def reduce_asyncstdlib(n: int) -> int:
    """await a.reduce(add, a.filter(keep, a.map(double, range(n))), 0)"""

    import asyncstdlib as a

    return await a.reduce(add, a.filter(keep, a.map(double, range(n))), 0)


async def reduce_aioitertools(n: int) -> int:
    """async for y in aioitertools.map(double, range(n)): if keep(y): total = add(total, y)  (no filter, no reduce)"""

    import aioitertools

    total = 0
    async for y in aioitertools.map(double, range(n)):
        if keep(y):
            total = add(total, y)
    return total


# -- workload 3: amap_seq -------------------------------------------------------------


async def amap_sync_calls(n: int) -> int:
    """for x in range(n): total += double(x)  (the sync function)"""
    total = 0
    for x in range(n):
        total += double(x)
    return total


async def amap_sync_inline(n: int) -> int:
    """for x in range(n): total += x * 2"""
    total = 0
    for x in range(n):
        total += x * 2
    return total


async def amap_agen_run(n: int) -> int:
    """async for y in amap_agen(adouble, source(n)), amap_agen: async for x in src: yield await fn(x)"""
    total = 0
    async for y in amap_agen(adouble, source(n)):
        total += y
    return total


async def amap_sluiceway(n: int) -> int:
    """async for y in sw.stream(source(n)).map(adouble): total += y"""
    total = 0
    async for y in sw.stream(source(n)).map(adouble):
        total += y
    return total


async def amap_aiostream(n: int) -> int:
    """stream.iterate(source(n)) | pipe.map(adouble, task_limit=1); async with xs.stream() as s: async for y in s"""

    from aiostream import pipe, stream

    xs = stream.iterate(source(n)) | pipe.map(adouble, task_limit=1)
    total = 0
    async with xs.stream() as s:
        async for y in s:
            total += y
    return total


async def amap_asyncstdlib(n: int) -> int:
    """async for y in a.map(adouble, source(n))"""

    import asyncstdlib as a

    total = 0
    async for y in a.map(adouble, source(n)):
        total += y
    return total


async def amap_aioitertools(n: int) -> int:
    """async for y in aioitertools.map(adouble, source(n))"""

    import aioitertools

    total = 0
    async for y in aioitertools.map(adouble, source(n)):
        total += y
    return total


# -- workload 4: batch100 -------------------------------------------------------------


async def chunks_sync(n: int) -> tuple[int, int]:
    """for x in range(n): buf.append(x); if len(buf) == 100: ...  (the same chunking, sync)"""
    items = chunks = 0
    buf: list[int] = []
    for x in range(n):
        buf.append(x)
        if len(buf) == CHUNK:
            items += len(buf)
            chunks += 1
            buf = []
    if buf:
        items += len(buf)
        chunks += 1
    return items, chunks


async def count_chunks(chunked: AsyncIterable[Any]) -> tuple[int, int]:
    items = chunks = 0
    async for chunk in chunked:
        items += len(chunk)
        chunks += 1
    return items, chunks


async def chunks_agen(n: int) -> tuple[int, int]:
    """chunk_agen(source(n), 100): append to a list, yield it when full, then the rest"""
    return await count_chunks(chunk_agen(source(n), CHUNK))


async def chunks_sluiceway(n: int) -> tuple[int, int]:
    """sw.stream(source(n)).batch(100)"""
    return await count_chunks(sw.stream(source(n)).batch(CHUNK))


async def chunks_aiostream(n: int) -> tuple[int, int]:
    """stream.iterate(source(n)) | pipe.chunks(100); async with xs.stream() as s: async for chunk in s"""

    from aiostream import pipe, stream

    xs = stream.iterate(source(n)) | pipe.chunks(CHUNK)
    async with xs.stream() as s:
        return await count_chunks(s)


async def chunks_asyncstdlib(n: int) -> tuple[int, int]:
    """a.batched(source(n), 100)  (tuples)"""

    import asyncstdlib as a

    return await count_chunks(a.batched(source(n), CHUNK))


async def chunks_aioitertools_batched(n: int) -> tuple[int, int]:
    """aioitertools.itertools.batched(source(n), 100)  (tuples)"""

    from aioitertools.itertools import batched

    return await count_chunks(batched(source(n), CHUNK))


async def chunks_aioitertools_chunked(n: int) -> tuple[int, int]:
    """aioitertools.more_itertools.chunked(source(n), 100)  (lists)"""

    from aioitertools.more_itertools import chunked

    return await count_chunks(chunked(source(n), CHUNK))


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


# -- the registry ---------------------------------------------------------------------

Kind = Literal["sync", "baseline", "reference", "sluiceway", "peer"]
Unit = Literal["ns/item", "s", "ns/event"]


@dataclass(frozen=True)
class Entry:
    """One implementation of a workload."""

    name: str
    run: Callable[[int], Awaitable[object]]
    kind: Kind
    #: The import name of the peer library this entry needs, if any.
    requires: str | None = None
    #: The entry runs ``n // divisor`` items (for entries too slow for the full n).
    divisor: int = 1
    #: The entry's own expected result, when it computes less than the workload's.
    expected: Callable[[int], object] | None = None
    #: Compare with this entry instead of the workload's baseline (same work on both sides).
    versus: str | None = None

    @property
    def api(self) -> str:
        """What the entry calls: the first line of its function's docstring."""
        doc = self.run.__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclass(frozen=True)
class Workload:
    """The same computation through several implementations."""

    title: str
    expected: Callable[[int], object]
    entries: tuple[Entry, ...]
    #: Name of the hand-written async generator entry (ratio 1.00).
    baseline: str
    #: Name of the sync for-loop that calls the same functions, if the workload has one.
    sync_baseline: str | None = None
    #: Items per run regardless of ``--n`` (sleep-paced workloads, the SSE streams' events).
    fixed_n: int | None = None
    #: Items per run in ``--quick`` for a ``fixed_n`` workload (default ``QUICK_FIXED_N``).
    quick_n: int | None = None
    #: Items of the result check before timing (default: 3 when sleep-paced, else 2,000).
    check_n: int | None = None
    #: What the table reports: ns per item, seconds per run (sleep-paced workloads), or
    #: ns per event with events/s and the speedup over the baseline (the SSE workloads).
    unit: Unit = "ns/item"
    #: ``--workload`` also selects a workload by its group (e.g. all of ``sse_http``).
    group: str | None = None
    #: Called with the items of a run before any check or timing (not timed): builds
    #: inputs, starts servers, checks what can be checked once.
    prepare: Callable[[int], Awaitable[None]] | None = None
    #: Called once after the last run (closes clients, stops servers).
    cleanup: Callable[[], Awaitable[None]] | None = None
    #: A line under the title, from the items of a run (what the input was).
    detail: Callable[[int], str] | None = None
    #: At most this many timed runs, whatever ``--runs`` says (for heavy workloads).
    max_runs: int | None = None
    #: An acceptance target: (entry, least speedup over the baseline).
    target: tuple[str, float] | None = None
    #: More targets: (entry, the entry it is compared with (None: the baseline), least speedup).
    targets: tuple[tuple[str, str | None, float], ...] = ()
    #: What the ratio columns call the baseline.
    baseline_label: str = "async baseline"

    def items(self, n: int, entry: Entry, *, quick: bool = False) -> int:
        """How many items ``entry`` runs when the command line asks for ``n``.

        A ``fixed_n`` workload runs its ``fixed_n`` items, or fewer in a
        ``--quick`` smoke run (a sleep-paced one's seconds are then not the real figure).
        """
        if self.fixed_n is not None:
            if quick:
                return min(self.fixed_n, self.quick_n or QUICK_FIXED_N)
            return self.fixed_n
        return max(n // entry.divisor, 1)

    def check_items(self, items: int) -> int:
        """A small input for the result check before timing (a few items when sleep-paced)."""
        if self.check_n is not None:
            return min(items, self.check_n)
        return min(items, 3 if self.unit == "s" else 2_000)

    def runs(self, runs: int) -> int:
        return min(runs, self.max_runs) if self.max_runs else runs

    def expected_for(self, entry: Entry, n: int) -> object:
        return (entry.expected or self.expected)(n)


#: Items of a sleep-paced (``fixed_n``) workload in a ``--quick`` run.
QUICK_FIXED_N = 5

SYNC_CALLS = "sync for-loop (same functions)"
SYNC_INLINE = "sync for-loop (inlined)"
AGEN = "hand-written async generators"


def sync(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    return Entry(name, run, "sync")


def base(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    return Entry(name, run, "baseline")


def ref(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    """A hand-written reference point that is not the baseline (e.g. a sequential chain)."""
    return Entry(name, run, "reference")


def ours(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    return Entry(name, run, "sluiceway")


def peer(name: str, run: Callable[[int], Awaitable[object]], divisor: int = 1) -> Entry:
    """An entry that needs the peer library named by the first word of ``name``."""
    return Entry(name, run, "peer", requires=name.split()[0], divisor=divisor)


WORKLOADS: dict[str, Workload] = {
    "pipe_async_for": Workload(
        title="map(double) -> filter(keep) -> sum; async generator source, consumed with async for",
        expected=expected_pipe,
        baseline=AGEN,
        sync_baseline=SYNC_CALLS,
        entries=(
            sync(SYNC_CALLS, pipe_sync_calls),
            sync(SYNC_INLINE, pipe_sync_inline),
            base(AGEN, pipe_agen),
            ours("sluiceway", pipe_sluiceway),
            ours("sluiceway (async with)", pipe_sluiceway_with),
            ours("sluiceway .reduce(add, 0)", pipe_sluiceway_reduce),
            peer("aiostream", pipe_aiostream),
            peer("asyncstdlib", pipe_asyncstdlib),
            peer("aioitertools (map + if)", pipe_aioitertools),
            peer("aioitertools (filterfalse)", pipe_aioitertools_filterfalse),
        ),
    ),
    "pipe_batched_reduce": Workload(
        title="map(double) -> filter(keep) -> reduce(add, 0); batched source, terminal operation",
        expected=expected_pipe,
        baseline="hand-written async for over batches",
        sync_baseline=SYNC_CALLS,
        entries=(
            sync(SYNC_CALLS, reduce_sync_calls),
            sync(SYNC_INLINE, pipe_sync_inline),
            base("hand-written async for over batches", reduce_agen),
            ours("sluiceway stream(range(n))", reduce_sluiceway_range),
            ours("sluiceway from_batches(1000-item lists)", reduce_sluiceway_batches),
            peer("aiostream", reduce_aiostream),
            peer("asyncstdlib", reduce_asyncstdlib),
            peer("aioitertools (map + if + add)", reduce_aioitertools),
        ),
    ),
    "amap_seq": Workload(
        title="map(async adouble), one call at a time; async generator source, summed with async for",
        expected=expected_amap,
        baseline=AGEN,
        sync_baseline=SYNC_CALLS,
        entries=(
            sync(SYNC_CALLS, amap_sync_calls),
            sync(SYNC_INLINE, amap_sync_inline),
            base(AGEN, amap_agen_run),
            ours("sluiceway", amap_sluiceway),
            peer("aiostream", amap_aiostream, divisor=10),  # ~5-9 us/item: N/10 keeps it short
            peer("asyncstdlib", amap_asyncstdlib),
            peer("aioitertools", amap_aioitertools),
        ),
    ),
    "batch100": Workload(
        title=f"chunk into lists of {CHUNK}; async generator source; result (items, chunks)",
        expected=expected_chunks,
        baseline=AGEN,
        sync_baseline="sync for-loop",
        entries=(
            sync("sync for-loop", chunks_sync),
            base(AGEN, chunks_agen),
            ours("sluiceway", chunks_sluiceway),
            peer("aiostream", chunks_aiostream),
            peer("asyncstdlib", chunks_asyncstdlib),
            peer("aioitertools batched", chunks_aioitertools_batched),
            peer("aioitertools chunked", chunks_aioitertools_chunked),
        ),
    ),
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


# -- workloads 8 and 9: sse_decoder and sse_http (the entries are in sse_bench.py) ----

#: Events of each stream: (default run, --quick).
SSE_EVENTS: dict[sse_bench.Kind, tuple[int, int]] = {
    "token": (sse_bench.TOKEN_EVENTS, sse_bench.QUICK_TOKEN_EVENTS),
    "mixed": (sse_bench.MIXED_EVENTS, sse_bench.QUICK_MIXED_EVENTS),
}
SSE_CHUNKINGS: dict[sse_bench.Chunking, str] = {"64k": "64 KiB chunks", "random": "random chunks"}
#: Events of the result check before timing (a separate, small stream).
SSE_CHECK_EVENTS = 300
#: Timed runs of an sse_http table at most (a run of all four takes ~28 s here).
SSE_HTTP_RUNS = 5
#: The project's acceptance targets: least speedup over httpx-sse's events/s.
SSE_DECODER_TARGET: dict[sse_bench.Chunking, float] = {"64k": 1.2}
SSE_HTTP_TARGET: dict[sse_bench.Kind, float] = {"token": 2.0, "mixed": 1.3}

HTTPX_SSE_DECODER = "httpx-sse decoder (aiter_sse's steps per chunk)"
SW_DECODER = "sluiceway Decoder.feed"
HTTPX_SSE_HTTP = "httpx-sse aconnect_sse + aiter_sse"
HTTPX_SSE_HTTP_COUNT = "httpx-sse aiter_sse, count only"
SW_HTTP = "sluiceway connect(), async for"


def sse_expected(kind: sse_bench.Kind) -> Callable[[int], object]:
    return lambda n: sse_bench.get_stream(kind, n).summary


def sse_decoder_workload(kind: sse_bench.Kind, chunking: sse_bench.Chunking) -> Workload:
    fns = sse_bench.decoder_entries(kind, chunking)
    target = SSE_DECODER_TARGET.get(chunking)

    async def prepare(n: int) -> None:
        await sse_bench.prepare_decoder(kind, chunking, n)

    return Workload(
        title=f"SSE decoder alone, {kind} stream in {SSE_CHUNKINGS[chunking]}: decode every "
        "chunk, count the events and checksum their data",
        expected=sse_expected(kind),
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
        fixed_n=SSE_EVENTS[kind][0],
        quick_n=SSE_EVENTS[kind][1],
        check_n=SSE_CHECK_EVENTS,
        unit="ns/event",
        baseline_label="httpx-sse",
        group="sse_decoder",
        prepare=prepare,
        detail=lambda n: sse_bench.describe(kind, n, chunking),
        target=(SW_DECODER, target) if target else None,
    )


def sse_http_workload(kind: sse_bench.Kind, chunking: sse_bench.Chunking) -> Workload:
    fns = sse_bench.http_entries(kind, chunking)

    async def prepare(n: int) -> None:
        await sse_bench.prepare_http(kind, chunking, n)

    return Workload(
        title=f"SSE end to end through httpx from a loopback server, {kind} stream written in "
        f"{SSE_CHUNKINGS[chunking]}: count the events and checksum their data",
        expected=sse_expected(kind),
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
                expected=lambda n: len(sse_bench.get_stream(kind, n).body),
            ),
            Entry(
                "httpx response.stream, no SSE decoding",
                fns["raw_stream"],
                "reference",
                requires="httpx",
                expected=lambda n: len(sse_bench.get_stream(kind, n).body),
            ),
        ),
        fixed_n=SSE_EVENTS[kind][0],
        quick_n=SSE_EVENTS[kind][1],
        check_n=SSE_CHECK_EVENTS,
        unit="ns/event",
        baseline_label="httpx-sse",
        group="sse_http",
        prepare=prepare,
        cleanup=sse_bench.cleanup,
        detail=lambda n: sse_bench.http_detail(kind, n, chunking),
        max_runs=SSE_HTTP_RUNS,
        target=(SW_HTTP, SSE_HTTP_TARGET[kind]),
    )


for _group, _build in (("sse_decoder", sse_decoder_workload), ("sse_http", sse_http_workload)):
    for _kind in SSE_EVENTS:
        for _chunking in SSE_CHUNKINGS:
            WORKLOADS[f"{_group}:{_kind}:{_chunking}"] = _build(_kind, _chunking)


# -- workload 10: pages (the entries are in pages_bench.py) ----------------------------

#: The project's acceptance target: paginate()'s time at most 0.6x the seed recipe's.
PAGES_TARGET = 0.6
PAGES_SEED = "seed recipe paginated_fetch (fetch, yield, then fetch the next)"
PAGES_OURS = "sluiceway paginate(prefetch=1)"
_pages = pages_bench.entries()
WORKLOADS["pages"] = Workload(
    title=f"paginated API: {pages_bench.PAGES} pages ({pages_bench.QUICK_PAGES} in --quick), "
    f"{pages_bench.LATENCY * 1000:.0f} ms server latency and {pages_bench.WORK * 1000:.0f} ms "
    "of consumer work per page; seconds per run",
    expected=pages_bench.expected,
    baseline=PAGES_SEED,
    fixed_n=pages_bench.PAGES,
    quick_n=pages_bench.QUICK_PAGES,
    unit="s",
    entries=(
        Entry(PAGES_SEED, _pages["seed"], "baseline", requires="httpx"),
        Entry(PAGES_OURS, _pages["ours_1"], "sluiceway", requires="httpx"),
        Entry("sluiceway paginate(prefetch=2)", _pages["ours_2"], "sluiceway", requires="httpx"),
        Entry("sluiceway paginate(prefetch=0)", _pages["ours_0"], "sluiceway", requires="httpx"),
    ),
    baseline_label="seed recipe",
    prepare=pages_bench.prepare,
    cleanup=pages_bench.cleanup,
    detail=pages_bench.detail,
    target=(PAGES_OURS, 1 / PAGES_TARGET),
)
# -- db:asyncpg, db:psycopg, db:aiosqlite (the entries are in db_bench.py) --------------

DB_KINDS: dict[str, Kind] = {
    "baseline": "baseline",
    "reference": "reference",
    "peer": "peer",
    "sluiceway": "sluiceway",
}


def db_workload(driver: str) -> Workload:
    prepare, baseline, entries = db_bench.DRIVERS[driver]
    return Workload(
        title=f"{driver}: rows read from a server-side cursor and folded with "
        "add(total, row) (count-only pair at the end)",
        expected=db_bench.expected_sum,
        baseline=baseline,
        entries=tuple(
            Entry(name, run, DB_KINDS[kind], versus=versus, expected=expected)
            for name, kind, run, versus, expected in entries
        ),
        fixed_n=db_bench.ROWS,
        quick_n=db_bench.QUICK_ROWS,
        baseline_label=baseline,
        group="db",
        prepare=prepare,
        cleanup=db_bench.cleanup,
        detail=db_bench.detail(driver),
        targets=db_bench.TARGETS.get(driver, ()),
    )


for _driver in db_bench.DRIVERS:
    WORKLOADS[f"db:{_driver}"] = db_workload(_driver)


# -- running --------------------------------------------------------------------------


class WrongResult(AssertionError):
    """An entry computed something other than the expected value."""


@dataclass
class Measurement:
    entry: Entry
    n: int
    seconds: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def ns_per_item(self) -> float | None:
        if not self.seconds:
            return None
        return statistics.median(self.seconds) / self.n * 1e9

    def value(self, unit: Unit) -> float | None:
        """The median in ``unit``: ns per item, or seconds per run."""
        if unit != "s":
            return self.ns_per_item
        return statistics.median(self.seconds) if self.seconds else None


@dataclass
class Environment:
    python: str
    loop: str
    n: int
    runs: int
    date: str
    versions: dict[str, str | None]
    sluiceway: str


def peer_versions() -> dict[str, str | None]:
    """Each peer's version, or None when it cannot be imported."""
    found: dict[str, str | None] = {}
    for name in PEERS:
        try:
            importlib.import_module(name)
        except ImportError:
            found[name] = None
            print(f"note: {name} is not installed; its entries are skipped (n/a)", file=sys.stderr)
            continue
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "?"
    return found


def sluiceway_version() -> str:
    described = sw.__version__
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        described += f" (git {sha}{', src/ modified' if dirty else ''})"
    return described


#: At most this many loop iterations to drain; a peer that never settles stops counting here.
_DRAIN_LIMIT = 10_000


async def drain() -> None:
    """Let the event loop finish the work an entry left behind.

    An async generator abandoned without ``aclose()`` (aioitertools' ``islice``
    leaves one per chunk) is finalized by asyncio in a new task on a later
    loop iteration. Without this, those tasks run inside whichever later entry
    first yields to the loop (sluiceway checkpoints between batches of a sync
    source) and are charged to it.
    """
    current = asyncio.current_task()
    for i in range(_DRAIN_LIMIT):
        await asyncio.sleep(0)
        if i >= 2 and all(t is current for t in asyncio.all_tasks()):
            return


async def run_once(workload: Workload, m: Measurement) -> float:
    """One timed, checked run of one entry.

    The time includes draining the loop of the tasks the entry scheduled (cleanup
    of abandoned async generators), so that work is charged to the entry that
    caused it; the ``gc.collect()`` before and after is not timed.
    """
    gc.collect()
    await drain()
    start = time.perf_counter()
    result = await m.entry.run(m.n)
    await drain()
    elapsed = time.perf_counter() - start
    gc.collect()
    await drain()
    expected = workload.expected_for(m.entry, m.n)
    if result != expected:
        raise WrongResult(f"{m.entry.name} computed {result!r} for n={m.n}, expected {expected!r}")
    return elapsed


async def bench(
    workloads: dict[str, Workload],
    n: int,
    runs: int,
    versions: dict[str, str | None],
    quick: bool = False,
) -> tuple[dict[str, list[Measurement]], str]:
    """Run every entry ``runs`` times, interleaved; returns measurements and the loop's name."""
    loop = type(asyncio.get_running_loop())
    loop_name = f"{loop.__module__}.{loop.__qualname__}"
    table: dict[str, list[Measurement]] = {}
    for key, workload in workloads.items():
        row: list[Measurement] = []
        for entry in workload.entries:
            m = Measurement(entry, workload.items(n, entry, quick=quick))
            if entry.requires is not None and versions.get(entry.requires) is None:
                m.skipped = f"{entry.requires} not installed"
            row.append(m)
        table[key] = row

    cleanups = list({id(w.cleanup): w.cleanup for w in workloads.values() if w.cleanup}.values())
    try:
        # Inputs that take building (the SSE streams, the server) are made before timing.
        for key, workload in workloads.items():
            if workload.prepare is not None and any(m.skipped is None for m in table[key]):
                print(f"preparing {key}...", file=sys.stderr)
                sizes = {m.n for m in table[key]} | {workload.check_items(m.n) for m in table[key]}
                try:
                    for size in sorted(sizes):
                        await workload.prepare(size)
                except db_bench.Unavailable as exc:  # a database that is not there
                    print(f"note: {key} skipped: {exc}", file=sys.stderr)
                    for m in table[key]:
                        m.skipped = m.skipped or str(exc)

        # Check every entry on a small input first (this also compiles sluiceway's
        # pipelines), so a wrong entry fails in seconds rather than after minutes.
        print("checking results on a small input...", file=sys.stderr)
        for key, workload in workloads.items():
            for m in table[key]:
                if m.skipped is None:
                    await run_once(workload, Measurement(m.entry, workload.check_items(m.n)))

        for run in range(1, runs + 1):
            started = time.perf_counter()
            for key, workload in workloads.items():
                if run > workload.runs(runs):
                    continue  # a heavy workload that has had its runs
                for m in table[key]:
                    if m.skipped is None:
                        m.seconds.append(await run_once(workload, m))
            took = time.perf_counter() - started
            print(f"run {run}/{runs} done in {took:.1f} s", file=sys.stderr)
    finally:
        for cleanup in cleanups:
            await cleanup()
    return table, loop_name


# -- reporting ------------------------------------------------------------------------


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "n/a"
    return f"{value / base:.2f}"


def fmt(value: float | None, unit: Unit = "ns/item") -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if unit == "s" else f"{value:,.0f}"


def per_second(ns: float | None) -> str:
    return "n/a" if not ns else f"{1e9 / ns:,.0f}"


def rows(workload: Workload, measurements: list[Measurement]) -> list[tuple[str, ...]]:
    """(implementation, ns/item or s/run, x async, [x sync,] notes) for each entry.

    An ``ns/event`` workload has (implementation, ns/event, events/s, x baseline
    (time), speedup (events/s over the baseline's), notes) instead.
    """
    unit = workload.unit
    by_name = {m.entry.name: m.value(unit) for m in measurements}
    base = by_name.get(workload.baseline)
    sync = by_name.get(workload.sync_baseline) if workload.sync_baseline else None
    out: list[tuple[str, ...]] = []
    for m in measurements:
        value = m.value(unit)
        versus = by_name.get(m.entry.versus) if m.entry.versus else base
        notes: list[str] = []
        if workload.fixed_n is not None and workload.detail is None:
            notes.append(f"{m.n} items")
        elif m.entry.divisor != 1:
            notes.append(f"N={m.n:,} (N/{m.entry.divisor})")
        if m.entry.versus:
            notes.append(f"ratios vs {m.entry.versus}")
        if m.skipped:
            notes.append(m.skipped)
        if unit == "ns/event":
            numbers = (fmt(value), per_second(value), ratio(value, versus), ratio(versus, value))
            out.append((m.entry.name, *numbers, "; ".join(notes)))
            continue
        sync_ratio = (ratio(value, sync),) if workload.sync_baseline else ()
        out.append(
            (m.entry.name, fmt(value, unit), ratio(value, versus), *sync_ratio, "; ".join(notes))
        )
    return out


HEADERS = ("implementation", "ns/item (median)", "x async baseline", "x sync for-loop", "notes")
UNIT_HEADER: dict[Unit, str] = {
    "ns/item": "ns/item (median)",
    "s": "s/run (median)",
    "ns/event": "ns/event (median)",
}
UNIT_AXIS: dict[Unit, str] = {"ns/item": "ns/item", "s": "seconds per run", "ns/event": "ns/event"}


def headers(workload: Workload) -> tuple[str, ...]:
    """The table's columns; no "x sync for-loop" when the workload has no sync loop."""
    label = workload.baseline_label
    if workload.unit == "ns/event":
        return (
            HEADERS[0],
            UNIT_HEADER["ns/event"],
            "events/s",
            f"x {label} (time)",
            f"speedup vs {label}",
            HEADERS[4],
        )
    sync = HEADERS[3:4] if workload.sync_baseline else ()
    return (HEADERS[0], UNIT_HEADER[workload.unit], f"x {label}", *sync, HEADERS[4])


def target_line(workload: Workload, measurements: list[Measurement]) -> str | None:
    """Whether the workload's acceptance target is met, as one line."""
    goals = list(workload.targets)
    if workload.target is not None:
        goals.insert(0, (workload.target[0], None, workload.target[1]))
    if not goals:
        return None
    by_name = {m.entry.name: m.value(workload.unit) for m in measurements}
    what = "events/s" if workload.unit == "ns/event" else "speed"
    lines: list[str] = []
    for name, versus, least in goals:
        label = workload.baseline_label if versus is None else versus
        ours_value, base = by_name.get(name), by_name.get(versus or workload.baseline)
        if workload.unit == "s":  # a time target: at most this fraction of the baseline's time
            goal = f"{name} at most {1 / least:.2f}x {label}'s time"
            if not ours_value or not base:
                lines.append(f"{goal}: not measured")
                continue
            share = ours_value / base
            met = share <= 1 / least + 1e-9
            lines.append(f"{goal}: {share:.2f}x, {'met' if met else 'NOT met'}")
            continue
        goal = f"{name} at least {least:.2f}x {label}'s {what}"
        if not ours_value or not base:
            lines.append(f"{goal}: not measured")
            continue
        speedup = base / ours_value
        lines.append(f"{goal}: {speedup:.2f}x, {'met' if speedup >= least else 'NOT met'}")
    return "target: " + "; ".join(lines)


def describe_input(workload: Workload, measurements: list[Measurement], env: Environment) -> str:
    """The workload's detail line (what the input was), with its runs if fewer than asked."""
    measured = [m for m in measurements if m.skipped is None]
    if workload.detail is None or not measured:
        return ""
    line = workload.detail(measured[0].n)
    runs = len(measured[0].seconds)
    if runs != env.runs:
        line += f"; median of {runs} runs"
    return line


def header_line(env: Environment) -> str:
    peers = ", ".join(f"{k} {v or 'n/a (not installed)'}" for k, v in env.versions.items())
    return (
        f"Python {env.python} · loop {env.loop} · N={env.n:,} · runs={env.runs} (median) · "
        f"{env.date} · sluiceway {env.sluiceway} · {peers}"
    )


def print_tables(table: dict[str, list[Measurement]], env: Environment) -> None:
    print(header_line(env))
    targets: list[str] = []
    for key, measurements in table.items():
        workload = WORKLOADS[key]
        body = [headers(workload), *rows(workload, measurements)]
        widths = [max(len(r[i]) for r in body) for i in range(len(body[0]) - 1)]
        print(f"\n{key}: {workload.title}")
        if detail := describe_input(workload, measurements, env):
            print(f"  ({detail})")
        for name, *numbers, notes in body:
            cells = [name.ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(numbers, widths[1:], strict=True)]
            print("  ".join(cells) + (f"  {notes}" if notes and notes != "notes" else ""))
        if line := target_line(workload, measurements):
            print(line)
            targets.append(f"{key}: {line.removeprefix('target: ')}")
    if targets:
        print("\nacceptance targets:")
        for line in targets:
            print(f"  {line}")


def markdown(table: dict[str, list[Measurement]], env: Environment) -> str:
    lines = [
        "# sluiceway benchmarks",
        "",
        header_line(env),
        "",
        "Written by `benchmarks/run.py`. ns/item is the median over the runs; *x async "
        "baseline* divides it by the workload's hand-written async baseline (1.00), *x sync "
        "for-loop* by the plain for-loop that calls the same functions. Workloads paced by "
        "sleeps report seconds per run instead of ns/item. The SSE workloads report ns/event, "
        "events/s and the speedup over httpx-sse (its events/s over theirs). Compare ratios "
        "within one run: absolute times move with the machine.",
    ]
    targets: list[str] = []
    for key, measurements in table.items():
        workload = WORKLOADS[key]
        lines += ["", f"## {key}", "", workload.title, ""]
        if detail := describe_input(workload, measurements, env):
            lines += [f"Input: {detail}.", ""]
        lines.append("| " + " | ".join(headers(workload)) + " |")
        lines.append("|---|" + "---:|" * (len(headers(workload)) - 2) + "---|")
        lines += ["| " + " | ".join(r) + " |" for r in rows(workload, measurements)]
        if line := target_line(workload, measurements):
            lines += ["", f"**{line}**"]
            targets.append(f"- `{key}`: {line.removeprefix('target: ')}")
        lines += ["", "<details><summary>API calls</summary>", ""]
        lines += [f"- {m.entry.name}: `{m.entry.api}`" for m in measurements]
        lines += ["", "</details>"]
    if targets:
        lines += ["", "## Acceptance targets", "", *targets]
    return "\n".join(lines) + "\n"


COLORS: dict[Kind, str] = {
    "sync": "#9e9e9e",
    "baseline": "#4c72b0",
    "reference": "#8172b3",
    "sluiceway": "#dd8452",
    "peer": "#55a868",
}

LEGEND: dict[Kind, str] = {
    "sync": "sync for-loop",
    "baseline": "hand-written async (1.00)",
    "reference": "hand-written reference",
    "sluiceway": "sluiceway",
    "peer": "peer library",
}


def chart(table: dict[str, list[Measurement]], env: Environment, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    heights = [len(ms) for ms in table.values()]
    fig, axes = plt.subplots(
        len(table),
        1,
        figsize=(10, 1.2 + 0.32 * sum(heights) + 0.6 * len(table)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (key, measurements) in zip(axes[:, 0], table.items(), strict=True):
        names = [m.entry.name for m in measurements]
        unit = WORKLOADS[key].unit
        values = [m.value(unit) or 0.0 for m in measurements]
        colors = [COLORS[m.entry.kind] for m in measurements]
        ypos = range(len(names))
        ax.barh(ypos, values, color=colors)
        ax.set_yticks(list(ypos), names, fontsize=8)
        ax.invert_yaxis()
        shown = [v for v in values if v > 0]
        if shown and max(shown) / min(shown) > 20:
            ax.set_xscale("log")
        for y, m, v in zip(ypos, measurements, values, strict=True):
            label = fmt(m.value(unit), unit)
            ax.text(max(v, min(shown, default=1.0)), y, f" {label}", va="center", fontsize=7)
        ax.set_title(key, fontsize=9, loc="left")
        ax.set_xlabel(f"{UNIT_AXIS[unit]} (median, lower is better)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(
        f"sluiceway vs peers · Python {env.python} · {env.loop} · N={env.n:,} · runs={env.runs}",
        fontsize=9,
    )
    kinds = {m.entry.kind for ms in table.values() for m in ms}
    legend = [Patch(color=COLORS[k], label=LEGEND[k]) for k in COLORS if k in kinds]
    top = 1 - 0.7 / fig.get_figheight()  # room for the title and the legend
    fig.legend(
        handles=legend,
        fontsize=7,
        ncol=len(legend),
        loc="upper center",
        frameon=False,
        bbox_to_anchor=(0.5, top + 0.2 / fig.get_figheight()),
    )
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- command line ---------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=None, help="timed runs per entry (default 5)")
    parser.add_argument("--n", type=int, default=None, help="items per run (default 300000)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=20000, 1 run")
    groups = {w.group for w in WORKLOADS.values() if w.group}
    parser.add_argument(
        "--workload",
        action="append",
        choices=sorted(WORKLOADS.keys() | groups),
        metavar="NAME",
        help="run only this workload or group of workloads (repeatable): "
        + ", ".join(sorted(WORKLOADS.keys() | groups)),
    )
    parser.add_argument(
        "--sse-server",
        choices=("process", "thread"),
        default="process",
        help="where sse_http's loopback server runs (default: a process of its own)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="where results.md and results.png go (default benchmarks/; --quick: a temp dir)",
    )
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    if args.n is None:
        args.n = 20_000 if args.quick else 300_000
    if args.runs < 1 or args.n < 1:
        parser.error("--runs and --n must be at least 1")
    if args.out_dir is None:
        args.out_dir = Path(tempfile.mkdtemp(prefix="sluiceway-bench-")) if args.quick else HERE
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    chosen = args.workload
    workloads = {
        k: w for k, w in WORKLOADS.items() if not chosen or k in chosen or w.group in chosen
    }
    sse_bench.server_mode = args.sse_server
    versions = peer_versions()
    backend_options: dict[str, object] = {}
    if args.loop == "uvloop":
        try:
            importlib.import_module("uvloop")
        except ImportError:
            sys.exit("--loop uvloop needs uvloop: pip install uvloop")
        backend_options["use_uvloop"] = True
    print(
        f"N={args.n:,}, {args.runs} run(s), loop {args.loop}, {len(workloads)} workload(s)",
        file=sys.stderr,
    )
    table, loop_name = anyio.run(
        bench,
        workloads,
        args.n,
        args.runs,
        versions,
        args.quick,
        backend="asyncio",
        backend_options=backend_options,
    )
    loop = args.loop + (f" {version('uvloop')}" if args.loop == "uvloop" else "")
    env = Environment(
        python=platform.python_version(),
        loop=f"{loop} ({loop_name})",
        n=args.n,
        runs=args.runs,
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=versions,
        sluiceway=sluiceway_version(),
    )
    print_tables(table, env)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    md_path = args.out_dir / "results.md"
    md_path.write_text(markdown(table, env), encoding="utf-8")
    png_path = args.out_dir / "results.png"
    chart(table, env, png_path)
    print(f"\nwrote {md_path} and {png_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
