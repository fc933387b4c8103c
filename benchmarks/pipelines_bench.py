"""Sequential pipelines: fused sync stages, batched sources, async map, chunking.

Four workloads, each one computation through a plain sync for-loop,
hand-written async generators (the baseline, 1.00), sluiceway and the peers
(aiostream, asyncstdlib, aioitertools):

- ``pipe_async_for``: ``map(double) -> filter(keep) -> sum`` over the async
  source, consumed with ``async for``;
- ``pipe_batched_reduce``: the same from a batched source, consumed by a
  terminal operation;
- ``amap_seq``: ``map(adouble)``, one call at a time;
- ``batch100``: chunks of 100 from the async source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sluiceway as sw
from functions import (
    CHUNK,
    add,
    adouble,
    amap_agen,
    batch_source,
    chunk_agen,
    double,
    drop,
    expected_amap,
    expected_chunks,
    expected_pipe,
    filter_agen,
    keep,
    map_agen,
    source,
)
from harness import Workload, base, ours, peer, sync

if TYPE_CHECKING:
    from collections.abc import AsyncIterable


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


# -- the workloads --------------------------------------------------------------------

SYNC_CALLS = "sync for-loop (same functions)"
SYNC_INLINE = "sync for-loop (inlined)"
AGEN = "hand-written async generators"

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
}
