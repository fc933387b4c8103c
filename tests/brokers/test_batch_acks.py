"""ack="on_next" over .batch(n): a whole batch is acknowledged when the next one is asked for.

On both engines: the batch in the consumer's hands is not acknowledged; asking
for the next batch acknowledges it (all of it, at once); a clean exit
acknowledges the last one; a batch the consumer raised in is acknowledged not
at all and comes again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from sluiceway.brokers import Delivery, DeliveryStream, ack, jetstream, redis_stream

if TYPE_CHECKING:
    from sluiceway import Stream

Engine = tuple[
    Callable[..., DeliveryStream],  # a fresh stream of the test's messages
    Callable[[], Awaitable[int]],  # unacknowledged, as the server counts them
    Callable[[Delivery], int],  # the number a delivery carries
]


@pytest.fixture(params=["redis", "jetstream"])
def engine_parts(request: pytest.FixtureRequest) -> tuple[Engine, Callable[[], Awaitable[None]]]:
    """How to read the test's messages on one engine, and how to write 0..6 there first."""
    if request.param == "redis":
        redis: Any = request.getfixturevalue("redis")
        key: str = request.getfixturevalue("key")

        async def fill_redis() -> None:
            for n in range(7):
                await redis.xadd(key, {"n": str(n)})

        def make_redis(**options: Any) -> DeliveryStream:
            return redis_stream(redis, key, group="g", consumer="c1", block=0.05, **options)

        async def pending_redis() -> int:
            return int((await redis.xpending(key, "g"))["pending"])

        return (make_redis, pending_redis, lambda d: int(d.value["n"])), fill_redis
    js: Any = request.getfixturevalue("js")
    subject: str = request.getfixturevalue("subject")

    async def fill_js() -> None:
        for n in range(7):
            await js.publish(subject, str(n).encode())

    def make_js(**options: Any) -> DeliveryStream:
        options.setdefault("nak_delay", 0.05)
        return jetstream(js, subject, durable="d", fetch_timeout=0.2, **options)

    async def pending_js() -> int:
        state = await js.consumer_info(await js.find_stream_name_by_subject(subject), "d")
        return int(state.num_ack_pending)

    return (make_js, pending_js, lambda d: int(d.value)), fill_js


@pytest.fixture
async def engine(engine_parts: tuple[Engine, Callable[[], Awaitable[None]]]) -> Engine:
    """Seven messages 0..6 on the engine; how to read them, and the server's pending count."""
    parts, fill = engine_parts
    await fill()
    return parts


@pytest.mark.parametrize("within", [None, 0.2], ids=["batch", "batch-timeout"])
async def test_each_batch_is_acked_when_the_next_is_asked(
    engine: Engine, within: float | None
) -> None:
    make, pending, number = engine
    batches: Stream[list[Delivery]] = make(ack="on_next", max_in_flight=3).batch(3, timeout=within)
    seen: list[list[Delivery]] = []
    with anyio.fail_after(10):
        async with batches:
            async for batch in batches:
                assert not any(d.acked for d in batch)  # in hand: not yet
                if seen:
                    assert all(d.acked for d in seen[-1])  # asking for this one acked the last
                seen.append(batch)
                if len(seen) == 2:
                    assert await pending() == 3  # only this batch: the bound held
                    break
    assert [[number(d) for d in b] for b in seen] == [[0, 1, 2], [3, 4, 5]]
    assert all(d.acked for b in seen for d in b)  # the last one on the clean exit
    await only_six_is_left(make, pending, number)


async def test_a_batch_that_raised_is_not_acked(engine: Engine) -> None:
    make, pending, number = engine
    batches = make(ack="on_next").batch(3)
    seen: list[list[Delivery]] = []
    with pytest.raises(RuntimeError, match="bad batch"), anyio.fail_after(10):
        async with batches:
            async for batch in batches:
                seen.append(batch)
                if len(seen) == 2:
                    raise RuntimeError("bad batch")
    assert all(d.acked for d in seen[0])
    assert not any(d.acked for d in seen[1])
    # The second batch comes again, with the one never handed out.
    with anyio.fail_after(10):
        again = await make().take(4).to_list()
    assert sorted(number(d) for d in again) == [3, 4, 5, 6]
    assert {d.attempt for d in again if number(d) in (3, 4, 5)} == {2}
    await ack(again)
    assert await pending() == 0


async def test_manual_batches_are_left_to_the_consumer(engine: Engine) -> None:
    """ack="manual": .batch() acknowledges nothing by itself."""
    make, pending, number = engine
    with anyio.fail_after(10):
        got = await make().batch(3).take(2).to_list()
    assert not any(d.acked for b in got for d in b)
    assert await ack([d for b in got for d in b]) == 6
    await only_six_is_left(make, pending, number)


async def only_six_is_left(
    make: Callable[..., DeliveryStream],
    pending: Callable[[], Awaitable[int]],
    number: Callable[[Delivery], int],
) -> None:
    """The next run gets 6 alone (read ahead, handed back or still pending), then nothing is."""
    with anyio.fail_after(10):
        (last,) = await make().take(1).to_list()
    assert number(last) == 6
    await last.ack()
    assert await pending() == 0
