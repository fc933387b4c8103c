"""redis_stream() against the real Redis: at least once, bounded, taken over, dead-lettered."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import sluiceway as sw
from sluiceway.brokers import Delivery, ack, redis_stream, redis_stream_sink
from sluiceway.errors import UnsupportedBackendError


async def add(redis: Any, key: str, count: int, start: int = 0) -> list[str]:
    """``count`` entries ``{"n": str(i)}``; their ids."""
    return [await redis.xadd(key, {"n": str(i)}) for i in range(start, start + count)]


async def pending(redis: Any, key: str, group: str = "g") -> dict[str, int]:
    """consumer -> entries pending with it, as the server says (XPENDING)."""
    summary = await redis.xpending(key, group)
    return {c["name"]: int(c["pending"]) for c in summary["consumers"] or []}


def numbers(deliveries: list[Delivery]) -> list[int]:
    return [int(d.value["n"]) for d in deliveries]


class TestDelivery:
    async def test_every_entry_once_and_acked(self, redis: Any, key: str) -> None:
        """Entries come in order with id, attempt 1 and checkpoint; ack() empties the PEL."""
        ids = await add(redis, key, 5)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05)
        got: list[Delivery] = []
        async with stream:
            async for delivery in stream:
                got.append(delivery)
                assert not delivery.acked
                await delivery.ack()
                assert delivery.acked
                if len(got) == 5:
                    break
        assert numbers(got) == [0, 1, 2, 3, 4]
        assert [d.id for d in got] == ids == [d.checkpoint for d in got]
        assert {d.attempt for d in got} == {1}
        assert await pending(redis, key) == {}

    async def test_never_acked_on_receipt(self, redis: Any, key: str) -> None:
        """Read and not acknowledged: still pending with this consumer."""
        await add(redis, key, 3)
        got = await redis_stream(redis, key, group="g", consumer="c1", block=0.05).take(3).to_list()
        assert numbers(got) == [0, 1, 2]
        assert await pending(redis, key) == {"c1": 3}

    async def test_a_restart_gets_its_own_pending_first(self, redis: Any, key: str) -> None:
        """The same consumer, restarted, is given what it had not acknowledged, attempt 2."""
        await add(redis, key, 4)
        first = (
            await redis_stream(redis, key, group="g", consumer="c1", block=0.05).take(2).to_list()
        )
        await first[0].ack()
        await add(redis, key, 1, start=4)
        again = redis_stream(redis, key, group="g", consumer="c1", block=0.05)
        got = await again.take(4).to_list()
        # 1, 2 and 3 are pending from before: the first run read all four at once
        # (within max_in_flight) but handed out only 0 and 1, and gave 2 and 3 back
        # as never delivered; then the new one.
        assert numbers(got) == [1, 2, 3, 4]
        assert [d.attempt for d in got] == [2, 1, 1, 1]
        await ack(got)
        assert await pending(redis, key) == {}

    async def test_a_batch_is_acked_in_one_call(self, redis: Any, key: str) -> None:
        """ack(batch) acknowledges a whole batch; already acked ones are not counted."""
        await add(redis, key, 10)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05)
        async with stream.batch(5) as batches:
            done = 0
            async for batch in batches:
                await batch[0].ack()
                assert await ack(batch) == 4
                assert await ack(batch) == 0
                done += len(batch)
                if done == 10:
                    break
        assert await pending(redis, key) == {}

    async def test_a_group_that_exists_is_joined(self, redis: Any, key: str) -> None:
        """A group created elsewhere (at the stream's end) is used as it is: only new entries."""
        await add(redis, key, 2)
        await redis.xgroup_create(key, "g", id="$")
        await add(redis, key, 1, start=2)
        got = await redis_stream(redis, key, group="g", consumer="c1", block=0.05).take(1).to_list()
        assert numbers(got) == [2]


class TestFailures:
    async def test_an_exception_leaves_it_pending_and_records_the_error(
        self, redis: Any, key: str
    ) -> None:
        """The handler raised: not acknowledged; the error is kept for the dead letter."""
        ids = await add(redis, key, 1)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05)
        with pytest.raises(ZeroDivisionError):
            async with stream:
                async for _ in stream:
                    1 / 0
        assert await pending(redis, key) == {"c1": 1}
        error = await redis.hget(f"{key}:dead:errors", ids[0])
        assert error == "ZeroDivisionError: division by zero"

    async def test_cancelled_mid_delivery_stays_pending(self, redis: Any, key: str) -> None:
        """Cancelled while handling a delivery: it is not acknowledged."""
        await add(redis, key, 1)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05, ack="on_next")
        handling = anyio.Event()

        async def consume() -> None:
            async with stream:
                async for _ in stream:
                    handling.set()
                    await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await handling.wait()
            tg.cancel_scope.cancel()
        assert await pending(redis, key) == {"c1": 1}

    async def test_a_poison_entry_goes_to_the_dead_letter(self, redis: Any, key: str) -> None:
        """Failing every time: after max_attempts it is in the dead letter with its error."""
        ids = await add(redis, key, 1)
        for _ in range(3):
            stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05, max_attempts=3)
            with pytest.raises(ValueError, match="bad entry"):
                async with stream:
                    async for delivery in stream:
                        raise ValueError(f"bad entry {delivery.value['n']}")
        survivor = await add(redis, key, 1, start=1)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05, max_attempts=3)
        got = await stream.take(1).to_list()
        assert [d.id for d in got] == survivor  # the poison one was not delivered a 4th time
        dead = await redis.xrange(f"{key}:dead")
        assert len(dead) == 1
        fields = dead[0][1]
        assert fields["n"] == "0"
        assert fields["dead_letter.id"] == ids[0]
        assert fields["dead_letter.stream"] == key
        assert fields["dead_letter.attempts"] == "3"
        assert fields["dead_letter.error"] == "ValueError: bad entry 0"
        assert await redis.hget(f"{key}:dead:errors", ids[0]) is None
        assert await pending(redis, key) == {"c1": 1}  # only the survivor, not yet acked


class TestScaleOut:
    async def test_two_consumers_share_the_entries(self, redis: Any, key: str) -> None:
        """Two consumers of one group: each entry to one of them, all of them to someone."""
        await add(redis, key, 40)
        seen: dict[str, list[int]] = {"a": [], "b": []}

        done = anyio.Event()

        async def worker(name: str) -> None:
            stream = redis_stream(redis, key, group="g", consumer=name, block=0.05, max_in_flight=5)
            async with stream:
                async for delivery in stream:
                    seen[name].append(int(delivery.value["n"]))
                    await delivery.ack()
                    await anyio.sleep(0.001)
                    if len(seen["a"]) + len(seen["b"]) >= 40:
                        done.set()

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(worker, "a")
                tg.start_soon(worker, "b")
                await done.wait()
                tg.cancel_scope.cancel()
        assert sorted(seen["a"] + seen["b"]) == list(range(40))
        assert seen["a"]
        assert seen["b"]

    async def test_a_dead_consumers_entries_are_claimed(self, redis: Any, key: str) -> None:
        """What a consumer left unacknowledged is taken over after claim_idle."""
        await add(redis, key, 3)
        dead = redis_stream(redis, key, group="g", consumer="dead", block=0.05)
        assert numbers(await dead.take(3).to_list()) == [0, 1, 2]
        alive = redis_stream(redis, key, group="g", consumer="alive", block=0.05, claim_idle=0.2)
        with anyio.fail_after(10):
            got = await alive.take(3).to_list()
        assert numbers(got) == [0, 1, 2]
        assert {d.attempt for d in got} == {2}
        await ack(got)
        assert await pending(redis, key) == {}

    async def test_claimed_on_time_on_a_quiet_stream(self, redis: Any, key: str) -> None:
        """A long block does not hold the janitor back: the take-over comes after claim_idle.

        A consumer waiting on a quiet stream (block=5) takes a dead consumer's
        entries within claim_idle and a half pass, not after its 5 s wait.
        """
        await add(redis, key, 2)
        dead = redis_stream(redis, key, group="g", consumer="dead", block=0.05)
        assert numbers(await dead.take(2).to_list()) == [0, 1]
        alive = redis_stream(redis, key, group="g", consumer="alive", block=5.0, claim_idle=0.5)
        # The first pass at start finds nothing idle long enough; the next ones must.
        start = anyio.current_time()
        with anyio.fail_after(10):
            got = await alive.take(2).to_list()
        assert numbers(got) == [0, 1]
        assert anyio.current_time() - start < 2.0  # claim_idle 0.5, passes every 0.25 s
        await ack(got)

    async def test_max_in_flight_is_never_exceeded(self, redis: Any, key: str) -> None:
        """With 3 unacknowledged the consumer reads no more; the server's PEL shows 3."""
        await add(redis, key, 10)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05, max_in_flight=3)
        held: list[Delivery] = []
        arrived = anyio.Event()

        async def consume() -> None:
            async with stream:
                async for delivery in stream:
                    held.append(delivery)
                    arrived.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            with anyio.fail_after(5):
                while len(held) < 3:
                    await arrived.wait()
                    arrived = anyio.Event()
            await anyio.sleep(0.3)
            assert len(held) == 3  # no room for a fourth
            assert await pending(redis, key) == {"c1": 3}
            arrived = anyio.Event()
            await held[0].ack()
            with anyio.fail_after(5):
                await arrived.wait()
            assert int(held[3].value["n"]) == 3
            await anyio.sleep(0.1)
            assert len(held) == 4
            assert await pending(redis, key) == {"c1": 3}
            tg.cancel_scope.cancel()


class TestLostConnection:
    async def test_killed_connections_lose_nothing(self, redis: Any, key: str) -> None:
        """The consumer's connections are killed mid-stream: it reconnects, every entry once."""
        from redis.asyncio import Redis

        name = f"consumer-{key[-8:]}"
        own = Redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True, client_name=name)
        await add(redis, key, 20)
        got: list[int] = []
        halfway = anyio.Event()
        done = anyio.Event()

        async def consume() -> None:
            stream = redis_stream(own, key, group="g", consumer="c1", block=0.05, max_in_flight=5)
            async with stream:
                async for delivery in stream:
                    got.append(int(delivery.value["n"]))
                    await delivery.ack()
                    if len(got) == 10:
                        halfway.set()
                    if len(got) == 40:
                        done.set()

        try:
            with anyio.fail_after(20):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(consume)
                    await halfway.wait()
                    clients = await redis.client_list()
                    killed = [c["id"] for c in clients if c.get("name") == name]
                    assert killed
                    for client_id in killed:
                        await redis.client_kill_filter(_id=client_id)
                    await add(redis, key, 20, start=20)
                    await done.wait()
                    tg.cancel_scope.cancel()
        finally:
            await (getattr(own, "aclose", None) or own.close)()
        assert sorted(got) == list(range(40))
        assert await pending(redis, key) == {}


class TestAckOnNext:
    async def test_acked_when_the_next_is_asked_for(self, redis: Any, key: str) -> None:
        """ack="on_next": the previous delivery is acknowledged once the loop comes back."""
        await add(redis, key, 3)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05, ack="on_next")
        got: list[Delivery] = []
        async with stream:
            async for delivery in stream:
                got.append(delivery)
                assert [d.acked for d in got] == [True] * (len(got) - 1) + [False]
                if len(got) == 3:
                    break
        assert all(d.acked for d in got)  # the last on the clean exit
        assert await pending(redis, key) == {}


class TestAckOnNextFailures:
    async def test_a_body_that_raises_is_not_acked(self, redis: Any, key: str) -> None:
        """ack="on_next": the delivery whose loop body raised stays pending; those before not."""
        ids = await add(redis, key, 3)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05, ack="on_next")
        got: list[Delivery] = []
        with pytest.raises(RuntimeError, match="handler failed"):
            async with stream:
                async for delivery in stream:
                    got.append(delivery)
                    if len(got) == 2:
                        raise RuntimeError("handler failed")
        assert [d.acked for d in got] == [True, False]
        left = await redis.xpending_range(key, "g", min="-", max="+", count=10)
        # The failed one, delivered once; the third, read ahead and given back unseen.
        assert [(p["message_id"], p["times_delivered"]) for p in left] == [(ids[1], 1), (ids[2], 0)]


class TestArguments:
    def test_bad_arguments(self) -> None:
        with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis"):
            redis_stream(object(), "s", group="g", consumer="c")
        with pytest.raises(TypeError, match="group"):
            redis_stream(None, "s", group="", consumer="c")
        with pytest.raises(ValueError, match="ack="):
            redis_stream(None, "s", group="g", consumer="c", ack="later")  # type: ignore[arg-type]

    @pytest.mark.parametrize("anyio_backend", ["trio"])
    async def test_trio_is_refused(self, anyio_backend: str) -> None:
        """redis-py's asyncio client cannot run on trio: a typed error, not a hang."""

        class Fake:
            async def xreadgroup(self, *args: object, **kwargs: object) -> None:
                raise AssertionError("not reached")

        with pytest.raises(UnsupportedBackendError, match="asyncio"):
            await redis_stream(Fake(), "s", group="g", consumer="c").to_list()

    async def test_it_is_a_stream(self, redis: Any, key: str) -> None:
        """Operators apply: a Stream[Delivery]."""
        await add(redis, key, 4)
        stream = redis_stream(redis, key, group="g", consumer="c1", block=0.05)
        assert isinstance(stream, sw.Stream)
        values = await stream.take(4).map(lambda d: int(d.value["n"]) * 10).to_list()
        assert values == [0, 10, 20, 30]


class TestSink:
    async def test_every_message_is_written_and_counted(self, redis: Any, key: str) -> None:
        """A stream of mappings goes to the Redis stream, in order, counted."""
        messages = sw.stream(range(250)).map(lambda i: {"n": str(i)})
        assert await redis_stream_sink(messages, redis, key, max_in_flight=40) == 250
        entries = await redis.xrange(key)
        assert [fields["n"] for _, fields in entries] == [str(i) for i in range(250)]

    async def test_a_sink_feeds_a_consumer_group(self, redis: Any, key: str) -> None:
        """Written by the sink, read by redis_stream(): the same messages."""
        await redis_stream_sink(({"n": str(i)} for i in range(30)), redis, key)
        got = await redis_stream(redis, key, group="g", consumer="c", block=0.05).take(30).to_list()
        assert numbers(got) == list(range(30))

    async def test_a_bad_message_stops_after_the_good_ones(self, redis: Any, key: str) -> None:
        """A message that is not a mapping: TypeError, the ones before it written."""
        with pytest.raises(TypeError, match="mappings"):
            await redis_stream_sink([{"n": "0"}, {"n": "1"}, "oops", {"n": "3"}], redis, key)
        assert [fields["n"] for _, fields in await redis.xrange(key)] == ["0", "1"]

    async def test_maxlen_trims(self, redis: Any, key: str) -> None:
        await redis_stream_sink(({"n": str(i)} for i in range(2000)), redis, key, maxlen=100)
        assert await redis.xlen(key) < 2000

    def test_bad_arguments(self) -> None:
        with pytest.raises(TypeError, match=r"redis\.asyncio\.Redis"):
            anyio.run(redis_stream_sink, [], object(), "s")
