"""Consumer groups: sluiceway.brokers.redis_stream() against a hand-written XREADGROUP/XACK loop.

``broker:redis``: one stream of ``n`` entries in the local Redis
(``SLUICEWAY_BENCH_REDIS``, default ``redis://127.0.0.1:6379/0``); every run
reads all of them through a consumer group of its own (created at the
stream's start, destroyed after: the same two calls on both sides), 100 per
read, sums a field of each entry and acknowledges each batch of 100 with one
XACK. The baseline is that loop written by hand over redis-py; sluiceway's
entry is ``redis_stream(...).batch(100)`` with ``await ack(batch)``.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

from harness import Entry, Workload

if TYPE_CHECKING:
    import redis.asyncio

URL = os.environ.get("SLUICEWAY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
KEY = "sluiceway-bench:orders"
#: Entries per read and per acknowledgement, on both sides.
BATCH = 100
HAND = "hand-written XREADGROUP + XACK loop"
OURS = "sluiceway redis_stream().batch(100) + ack(batch)"

_client: redis.asyncio.Redis | None = None
_groups = itertools.count()


def client() -> redis.asyncio.Redis:
    global _client
    if _client is None:
        import redis.asyncio

        _client = redis.asyncio.Redis.from_url(URL, decode_responses=True)
    return _client


async def prepare(n: int) -> None:
    """The stream of at least ``n`` entries ``{"n": i}`` (a run reads the first ``n``)."""
    r = client()
    if await r.xlen(KEY) >= n:
        return
    await r.delete(KEY)
    for start in range(0, n, 1000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(start + 1000, n)):
            pipe.xadd(KEY, {"n": str(i)})
        await pipe.execute()


async def cleanup() -> None:
    global _client
    if _client is not None:
        await _client.delete(KEY)
        await (getattr(_client, "aclose", None) or _client.close)()
        _client = None


def expected(n: int) -> int:
    return n * (n - 1) // 2


async def hand(n: int) -> int:
    """while: xreadgroup(g, c, {key: ">"}, count=100) -> sum -> xack(key, g, *ids)"""
    r = client()
    group = f"bench-{next(_groups)}"
    await r.xgroup_create(KEY, group, id="0")
    total = seen = 0
    try:
        while seen < n:
            reply = await r.xreadgroup(group, "c", {KEY: ">"}, count=BATCH, block=1000)
            entries = reply[0][1]
            for _, fields in entries:
                total += int(fields["n"])
            await r.xack(KEY, group, *[entry_id for entry_id, _ in entries])
            seen += len(entries)
    finally:
        await r.xgroup_destroy(KEY, group)
    return total


async def ours(n: int) -> int:
    """async with redis_stream(client, key, group=g, consumer=c).batch(100): ... await ack(batch)"""
    from sluiceway.brokers import ack, redis_stream

    r = client()
    group = f"bench-{next(_groups)}"
    await r.xgroup_create(KEY, group, id="0")
    total = seen = 0
    stream: Any = redis_stream(r, KEY, group=group, consumer="c", max_in_flight=BATCH)
    try:
        async with stream.batch(BATCH) as batches:
            async for batch in batches:
                for delivery in batch:
                    total += int(delivery.value["n"])
                await ack(batch)
                seen += len(batch)
                if seen >= n:
                    break
    finally:
        await r.xgroup_destroy(KEY, group)
    return total


WORKLOADS: dict[str, Workload] = {
    "broker:redis": Workload(
        title="Redis Streams consumer group: read 100 at a time, sum a field, XACK per batch",
        expected=expected,
        baseline=HAND,
        fixed_n=20_000,
        quick_n=2_000,
        check_n=500,
        entries=(
            Entry(HAND, hand, "baseline", requires="redis"),
            Entry(OURS, ours, "sluiceway", requires="redis"),
        ),
        baseline_label="hand loop",
        group="broker",
        prepare=prepare,
        cleanup=cleanup,
        detail=lambda n: f"{n:,} entries in one stream on the local Redis ({URL})",
        target=(OURS, 0.9),
    )
}
