"""The engine's part of the demo: cleanup, speed, combinators and concurrency."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, TextIO

import anyio
import anyio.lowlevel

import sluiceway as sw

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


async def _readings(seed: int, log: list[str]) -> AsyncIterator[dict[str, float]]:
    """A sensor feed: one reading every few milliseconds, forever, until closed."""
    rng = random.Random(seed)
    n = 0
    try:
        while True:
            await anyio.sleep(0.002)
            n += 1
            yield {"seq": n, "celsius": round(rng.gauss(21.0, 3.0), 1)}
    finally:
        log.append(f"the sensor feed closed after {n} readings")


async def _to_fahrenheit(reading: dict[str, float]) -> dict[str, float]:
    await anyio.lowlevel.checkpoint()  # stands in for an async lookup or write
    return {**reading, "fahrenheit": round(reading["celsius"] * 9 / 5 + 32, 1)}


async def basics(out: TextIO) -> None:
    """Parts 1-3: cleanup, the batched engine against a for-loop, combinators."""
    log: list[str] = []
    out.write("1. An endless async source, cleaned up the moment we stop reading\n")
    pipeline = (
        sw.stream(_readings(seed=7, log=log))
        .filter(lambda r: r["celsius"] > 22.0)  # only the warm ones
        .map(_to_fahrenheit)  # an async step, fused into the same loop
        .enumerate(1)
        .batch(4)
        .take(3)
    )
    async with pipeline:
        async for batch in pipeline:
            temps = ", ".join(f"#{i} {r['fahrenheit']}F" for i, r in batch)
            out.write(f"   batch of {len(batch)}: {temps}\n")
    out.write(f"   {log[0]}\n\n")

    n = 1_000_000
    out.write(f"2. A batched source: map -> filter -> sum over {n:,} ints\n")

    def double(x: int) -> int:
        return x * 2

    def keep(y: int) -> bool:
        return y % 4 == 0

    def add(a: int, b: int) -> int:
        return a + b

    start = time.perf_counter()
    total = 0
    for x in range(n):
        y = double(x)
        if keep(y):
            total = add(total, y)
    loop_s = time.perf_counter() - start

    start = time.perf_counter()
    result = await sw.stream(range(n)).map(double).filter(keep).reduce(add, 0)
    engine_s = time.perf_counter() - start
    assert result == total
    out.write(f"   plain for-loop : {total} in {loop_s * 1e3:6.1f} ms\n")
    out.write(f"   sluiceway      : {result} in {engine_s * 1e3:6.1f} ms")
    out.write(f"  ({engine_s / loop_s:.2f}x the for-loop)\n\n")

    out.write("3. Several sources combined, each closed exactly once\n")
    letters = sw.stream(["a", "b", "c", "d"])
    pairs = await sw.zip(letters, sw.stream(range(1, 100)).map(lambda i: i * i)).to_list()
    out.write(f"   zip: {pairs}\n")
    words = sw.concat(["one", "two"], sw.from_batches([["three", "four"], ["five"]]))
    out.write(f"   concat: {await words.map(str.upper).to_list()}\n")


async def _ticker(name: str, every: float, produced: dict[str, int]) -> AsyncIterator[str]:
    """An endless feed that counts what it has produced."""
    n = 0
    while True:
        await anyio.sleep(every)
        n += 1
        produced[name] += 1
        yield f"{name}{n}"


async def concurrency(out: TextIO) -> None:
    """Parts 4-6: merge backpressure, prefetch overlap, concurrent map."""
    out.write("\n4. merge with backpressure: three feeds, a slow reader, buffer=4\n")
    produced = {"fast": 0, "mid": 0, "slow": 0}
    feeds = sw.merge(
        _ticker("fast", 0.001, produced),
        _ticker("mid", 0.005, produced),
        _ticker("slow", 0.02, produced),
        buffer=4,
    )
    taken = 0
    async with feeds:
        async for item in feeds:
            taken += 1
            await anyio.sleep(0.01)  # the reader is slower than the fast feed
            if taken % 5 == 0:
                ahead = sum(produced.values()) - taken
                out.write(f"   read {taken:2} (last {item:>6}); read ahead: {ahead} <= 4 + 3\n")
            if taken == 20:
                break
    out.write(f"   produced in all: {produced} -- the fast feed waited for the reader\n")

    out.write("\n5. prefetch: 20 items taking 20 ms each to make and 20 ms each to use\n")

    async def slow_source() -> AsyncIterator[int]:
        for i in range(20):
            await anyio.sleep(0.02)
            yield i

    start = time.perf_counter()
    async for _ in sw.stream(slow_source()):
        await anyio.sleep(0.02)
    taking_turns = time.perf_counter() - start
    start = time.perf_counter()
    async with sw.stream(slow_source()).prefetch(2) as s:
        async for _ in s:
            await anyio.sleep(0.02)
    overlapped = time.perf_counter() - start
    out.write(f"   one after another: {taking_turns:.2f} s; with prefetch(2): {overlapped:.2f} s\n")

    out.write("\n6. map(concurrency=10): 50 calls of 20 ms each\n")

    async def lookup(x: int) -> int:
        await anyio.sleep(0.02)
        return x * x

    start = time.perf_counter()
    squares = await sw.stream(range(50)).map(lookup, concurrency=10).to_list()
    elapsed = time.perf_counter() - start
    out.write(
        f"   {len(squares)} results in input order in {elapsed:.2f} s (one at a time: 1.0 s)\n"
    )
