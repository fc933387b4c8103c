"""sluiceway against hand-written async generators, sync loops and the peer libraries.

Every workload runs the same computation through several implementations in
one process: a plain sync for-loop (calling the same functions, and with the
arithmetic inlined), hand-written async generators, sluiceway, aiostream,
asyncstdlib and aioitertools. Each entry is timed with ``time.perf_counter``
around one complete run (building its source included), after a
``gc.collect()``; runs are interleaved (run 1 of every entry, then run 2, ...)
so machine noise spreads evenly, and the median is reported.

How to read the ratios: ``x async`` is an entry's median over the median of
the workload's hand-written async generator baseline (1.00), the cost of
plain async iteration that a library can at best match, or beat by doing less
per item (fusing stages, moving batches). ``x sync`` is the same over the
sync for-loop that calls the same functions: how far from "just a for-loop"
an entry is. Absolute ns/item move with the machine (run-to-run noise of 1.5x
or more on small shared VMs); compare ratios within one run.

Every entry's result is checked against the expected value, so a broken entry
stops the run instead of reporting a fast wrong answer. A peer that is not
installed is skipped and shown as n/a.

Usage::

    python benchmarks/run.py [--runs 5] [--n 300000] [--loop asyncio|uvloop] [--quick]

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

import sluiceway as sw

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

HERE = Path(__file__).resolve().parent
PEERS = ("aiostream", "asyncstdlib", "aioitertools")
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


# -- the registry ---------------------------------------------------------------------

Kind = Literal["sync", "baseline", "sluiceway", "peer"]


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


SYNC_CALLS = "sync for-loop (same functions)"
SYNC_INLINE = "sync for-loop (inlined)"
AGEN = "hand-written async generators"


def sync(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    return Entry(name, run, "sync")


def base(name: str, run: Callable[[int], Awaitable[object]]) -> Entry:
    return Entry(name, run, "baseline")


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
}


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
    expected = workload.expected(m.n)
    if result != expected:
        raise WrongResult(f"{m.entry.name} computed {result!r} for n={m.n}, expected {expected!r}")
    return elapsed


async def bench(
    workloads: dict[str, Workload], n: int, runs: int, versions: dict[str, str | None]
) -> tuple[dict[str, list[Measurement]], str]:
    """Run every entry ``runs`` times, interleaved; returns measurements and the loop's name."""
    loop = type(asyncio.get_running_loop())
    loop_name = f"{loop.__module__}.{loop.__qualname__}"
    table: dict[str, list[Measurement]] = {}
    for key, workload in workloads.items():
        row: list[Measurement] = []
        for entry in workload.entries:
            m = Measurement(entry, max(n // entry.divisor, 1))
            if entry.requires is not None and versions.get(entry.requires) is None:
                m.skipped = f"{entry.requires} not installed"
            row.append(m)
        table[key] = row

    # Check every entry on a small input first (this also compiles sluiceway's
    # pipelines), so a wrong entry fails in seconds rather than after minutes.
    print("checking results on a small input...", file=sys.stderr)
    for key, workload in workloads.items():
        for m in table[key]:
            if m.skipped is None:
                await run_once(workload, Measurement(m.entry, min(m.n, 2_000)))

    for run in range(1, runs + 1):
        started = time.perf_counter()
        for key, workload in workloads.items():
            for m in table[key]:
                if m.skipped is None:
                    m.seconds.append(await run_once(workload, m))
        took = time.perf_counter() - started
        print(f"run {run}/{runs} done in {took:.1f} s", file=sys.stderr)
    return table, loop_name


# -- reporting ------------------------------------------------------------------------


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "n/a"
    return f"{value / base:.2f}"


def ns(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def rows(workload: Workload, measurements: list[Measurement]) -> list[tuple[str, ...]]:
    """(implementation, ns/item, x async, x sync, notes) for each entry."""
    by_name = {m.entry.name: m.ns_per_item for m in measurements}
    base = by_name.get(workload.baseline)
    sync = by_name.get(workload.sync_baseline) if workload.sync_baseline else None
    out: list[tuple[str, ...]] = []
    for m in measurements:
        value = m.ns_per_item
        notes: list[str] = []
        if m.entry.divisor != 1:
            notes.append(f"N={m.n:,} (N/{m.entry.divisor})")
        if m.skipped:
            notes.append(m.skipped)
        out.append(
            (
                m.entry.name,
                ns(value),
                ratio(value, base),
                ratio(value, sync) if workload.sync_baseline else "",
                "; ".join(notes),
            )
        )
    return out


HEADERS = ("implementation", "ns/item (median)", "x async baseline", "x sync for-loop", "notes")


def header_line(env: Environment) -> str:
    peers = ", ".join(f"{k} {v or 'n/a (not installed)'}" for k, v in env.versions.items())
    return (
        f"Python {env.python} · loop {env.loop} · N={env.n:,} · runs={env.runs} (median) · "
        f"{env.date} · sluiceway {env.sluiceway} · {peers}"
    )


def print_tables(table: dict[str, list[Measurement]], env: Environment) -> None:
    print(header_line(env))
    for key, measurements in table.items():
        workload = WORKLOADS[key]
        body = [HEADERS, *rows(workload, measurements)]
        widths = [max(len(r[i]) for r in body) for i in range(4)]
        print(f"\n{key}: {workload.title}")
        for name, *numbers, notes in body:
            cells = [name.ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(numbers, widths[1:], strict=True)]
            print("  ".join(cells) + (f"  {notes}" if notes and notes != "notes" else ""))


def markdown(table: dict[str, list[Measurement]], env: Environment) -> str:
    lines = [
        "# sluiceway benchmarks",
        "",
        header_line(env),
        "",
        "Written by `benchmarks/run.py`. ns/item is the median over the runs; *x async "
        "baseline* divides it by the workload's hand-written async generator (1.00), *x sync "
        "for-loop* by the plain for-loop that calls the same functions. Compare ratios within "
        "one run: absolute times move with the machine.",
    ]
    for key, measurements in table.items():
        workload = WORKLOADS[key]
        lines += ["", f"## {key}", "", workload.title, ""]
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|---|" + "---:|" * 3 + "---|")
        lines += ["| " + " | ".join(r) + " |" for r in rows(workload, measurements)]
        lines += ["", "<details><summary>API calls</summary>", ""]
        lines += [f"- {m.entry.name}: `{m.entry.api}`" for m in measurements]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


COLORS: dict[Kind, str] = {
    "sync": "#9e9e9e",
    "baseline": "#4c72b0",
    "sluiceway": "#dd8452",
    "peer": "#55a868",
}

LEGEND: dict[Kind, str] = {
    "sync": "sync for-loop",
    "baseline": "hand-written async (1.00)",
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
        values = [m.ns_per_item or 0.0 for m in measurements]
        colors = [COLORS[m.entry.kind] for m in measurements]
        ypos = range(len(names))
        ax.barh(ypos, values, color=colors)
        ax.set_yticks(list(ypos), names, fontsize=8)
        ax.invert_yaxis()
        shown = [v for v in values if v > 0]
        if shown and max(shown) / min(shown) > 20:
            ax.set_xscale("log")
        for y, m, v in zip(ypos, measurements, values, strict=True):
            label = "n/a" if m.ns_per_item is None else f"{v:,.0f}"
            ax.text(max(v, min(shown, default=1.0)), y, f" {label}", va="center", fontsize=7)
        ax.set_title(key, fontsize=9, loc="left")
        ax.set_xlabel("ns/item (median, lower is better)", fontsize=8)
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
    parser.add_argument(
        "--workload",
        action="append",
        choices=sorted(WORKLOADS),
        help="run only this workload (repeatable)",
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
    workloads = {k: w for k, w in WORKLOADS.items() if not args.workload or k in args.workload}
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
