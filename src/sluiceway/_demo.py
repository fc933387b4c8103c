"""`sluiceway demo`: real pipelines, end to end, with what they cost."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, TextIO

import anyio
import anyio.abc
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


async def run(out: TextIO) -> None:
    """Print what each demo pipeline does and how fast the engine runs it."""
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

    await _concurrency(out)
    await _sse(out)


async def _ticker(name: str, every: float, produced: dict[str, int]) -> AsyncIterator[str]:
    """An endless feed that counts what it has produced."""
    n = 0
    while True:
        await anyio.sleep(every)
        n += 1
        produced[name] += 1
        yield f"{name}{n}"


async def _concurrency(out: TextIO) -> None:
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


async def _sse(out: TextIO) -> None:
    """A server on loopback streams tokens and hangs up mid-event; the client resumes."""
    try:
        from .sse import Reconnect, connect
    except ImportError:
        out.write("\n7. Server-Sent Events: skipped (pip install 'sluiceway[http]')\n")
        return
    out.write("\n7. Server-Sent Events: the server hangs up mid-event; the client resumes\n")
    words = [
        "streams",
        "arrive",
        "over",
        "time",
        "and",
        "a",
        "good",
        "client",
        "never",
        "loses",
        "one",
        "of",
        "them",
    ]
    connections: list[str] = []

    async def serve(client: anyio.abc.SocketStream) -> None:
        async with client:
            request = b""
            while b"\r\n\r\n" not in request:
                request += await client.receive()
            last = ""
            for line in request.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "last-event-id":
                    last = value.strip()
            connections.append(last)
            start = int(last) + 1 if last else 0
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            await client.send(head + b"retry: 50\n\n")
            for n in range(start, len(words)):
                await client.send(f"id: {n}\ndata: {words[n]}\n\n".encode())
                await anyio.sleep(0.01)
                if n == 4 and not last:
                    await client.send(b"id: 99\ndata: half an eve")
                    return  # hang up without finishing the event

    notices: list[Reconnect] = []
    tokens: list[str] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        stream = connect(f"http://127.0.0.1:{port}/tokens", on_reconnect=notices.append)
        tokens = await stream.map(lambda event: event.data).take(len(words)).to_list()
        tg.cancel_scope.cancel()
    out.write(f"   {' '.join(tokens)}\n")
    out.write(
        f"   {len(tokens)} tokens, none lost or repeated; {len(connections)} connections, "
        f"resumed with Last-Event-ID {notices[0].last_event_id!r} "
        f"after {notices[0].delay * 1000:.0f} ms\n"
    )
