"""What the item workloads share: the per-item functions, the sources, the baselines' generators.

``double``, ``keep``, ``add`` and the never-suspending ``adouble`` are what
every entry of a workload calls, so the entries differ only in how items move;
``source(n)`` is the async source of single items and ``batch_source(n)`` the
batched one (1000-item lists, like a DB cursor's ``fetch(1000)``). The
hand-written async generators are the baselines' building blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable

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
