"""Consumer groups: sluiceway.brokers against hand-written loops over the same clients.

``broker:redis``: one stream of ``n`` entries in the local Redis
(``SLUICEWAY_BENCH_REDIS``, default ``redis://127.0.0.1:6379/0``); every run
reads all of them through a consumer group of its own (created at the
stream's start, destroyed after: the same two calls on both sides), 100 per
read, sums a field of each entry and acknowledges each batch of 100 with one
XACK. The baseline is that loop written by hand over redis-py; sluiceway's
entry is ``redis_stream(...).batch(100)`` with ``await ack(batch)``.

``broker:jetstream``: one JetStream stream of ``n`` messages on the local
NATS (``SLUICEWAY_BENCH_NATS``, default ``nats://127.0.0.1:4222``); every run
reads all of them through a durable pull consumer of its own (deleted
after), sums the payloads and acknowledges each batch of 100 with
server-confirmed acks (``ack_sync``, sent together). The baseline is a
hand-written ``fetch(100)`` loop over nats-py; sluiceway's entry is
``jetstream(...).batch(100)`` with ``await ack(batch)``.
"""

from __future__ import annotations

import asyncio
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


NATS_URL = os.environ.get("SLUICEWAY_BENCH_NATS", "nats://127.0.0.1:4222")
STREAM = "SLUICEWAY_BENCH_ORDERS"
SUBJECT = "sluiceway-bench.orders"
JS_HAND = "hand-written fetch(100) + ack_sync loop"
JS_OURS = "sluiceway jetstream().batch(100) + ack(batch)"

_nc: Any = None
_durables = itertools.count()


async def js() -> Any:
    global _nc
    if _nc is None:
        import nats

        _nc = await nats.connect(NATS_URL)
    return _nc.jetstream()


async def js_prepare(n: int) -> None:
    """The stream of at least ``n`` messages ``b"i"`` (a run reads the first ``n``)."""
    import nats.js.errors

    context = await js()
    try:
        info = await context.stream_info(STREAM)
        if info.state.messages >= n:
            return
        await context.delete_stream(STREAM)
    except nats.js.errors.NotFoundError:
        pass
    await context.add_stream(name=STREAM, subjects=[SUBJECT])
    for start in range(0, n, 1000):
        acks = [
            context.publish(SUBJECT, str(i).encode()) for i in range(start, min(start + 1000, n))
        ]
        await asyncio.gather(*acks)


async def js_cleanup() -> None:
    global _nc
    if _nc is not None:
        await _nc.jetstream().delete_stream(STREAM)
        await _nc.close()
        _nc = None


async def js_hand(n: int) -> int:
    """while: msgs = await sub.fetch(100) -> sum -> gather(m.ack_sync() for m in msgs)"""
    context = await js()
    durable = f"bench-{next(_durables)}"
    sub = await context.pull_subscribe(SUBJECT, durable=durable, stream=STREAM)
    total = seen = 0
    try:
        while seen < n:
            msgs = await sub.fetch(BATCH, timeout=1)
            for msg in msgs:
                total += int(msg.data)
            await asyncio.gather(*(msg.ack_sync() for msg in msgs))
            seen += len(msgs)
    finally:
        await sub.unsubscribe()
        await context.delete_consumer(STREAM, durable)
    return total


async def js_ours(n: int) -> int:
    """async with jetstream(js, subject, durable=d).batch(100): ... await ack(batch)"""
    from sluiceway.brokers import ack, jetstream

    context = await js()
    durable = f"bench-{next(_durables)}"
    total = seen = 0
    stream: Any = jetstream(context, SUBJECT, durable=durable, stream=STREAM, max_in_flight=BATCH)
    try:
        async with stream.batch(BATCH) as batches:
            async for batch in batches:
                for delivery in batch:
                    total += int(delivery.value)
                await ack(batch)
                seen += len(batch)
                if seen >= n:
                    break
    finally:
        await context.delete_consumer(STREAM, durable)
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
    ),
    "broker:jetstream": Workload(
        title="JetStream durable pull consumer: fetch 100 at a time, sum, ack_sync per batch",
        expected=expected,
        baseline=JS_HAND,
        fixed_n=20_000,
        quick_n=2_000,
        check_n=500,
        entries=(
            Entry(JS_HAND, js_hand, "baseline", requires="nats"),
            Entry(JS_OURS, js_ours, "sluiceway", requires="nats"),
        ),
        baseline_label="hand loop",
        group="broker",
        prepare=js_prepare,
        cleanup=js_cleanup,
        detail=lambda n: f"{n:,} messages in one stream on the local NATS ({NATS_URL})",
        target=(JS_OURS, 0.9),
    ),
}
