"""jetstream() against the real NATS server: at least once, bounded, heartbeats, dead letters."""

from __future__ import annotations

import contextvars
from typing import Any

import anyio
import nats.js.errors
import pytest

import sluiceway as sw
from sluiceway.brokers import Delivery, ack, jetstream, jetstream_sink
from sluiceway.brokers._jetstream import subject_matches
from sluiceway.errors import UnsupportedBackendError

#: Short waits: a test never sits on an empty fetch for long.
FAST = {"fetch_timeout": 0.2}


async def publish(js: Any, subject: str, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        await js.publish(subject, str(n).encode())


async def consumer_state(js: Any, subject: str, durable: str = "d") -> Any:
    """The server's ConsumerInfo (num_ack_pending, num_pending, num_redelivered, ...)."""
    stream = await js.find_stream_name_by_subject(subject)
    return await js.consumer_info(stream, durable)


def numbers(deliveries: list[Delivery]) -> list[int]:
    return [int(d.value) for d in deliveries]


async def take(stream: sw.Stream[Delivery], count: int, *, within: float = 10) -> list[Delivery]:
    with anyio.fail_after(within):
        return await stream.take(count).to_list()


class TestDelivery:
    async def test_every_message_once_and_acked(self, js: Any, subject: str) -> None:
        """In order, with the stream sequence as id and checkpoint, attempt 1; acks confirmed."""
        await publish(js, subject, 5)
        got: list[Delivery] = []
        stream = jetstream(js, subject, durable="d", **FAST)
        with anyio.fail_after(10):
            async with stream:
                async for delivery in stream:
                    got.append(delivery)
                    assert not delivery.acked
                    await delivery.ack()
                    assert delivery.acked
                    if len(got) == 5:
                        break
        assert numbers(got) == [0, 1, 2, 3, 4]
        assert [d.id for d in got] == ["1", "2", "3", "4", "5"] == [d.checkpoint for d in got]
        assert {d.attempt for d in got} == {1}
        assert {d.message.subject for d in got} == {subject}
        state = await consumer_state(js, subject)
        assert (state.num_ack_pending, state.num_pending, state.num_redelivered) == (0, 0, 0)

    async def test_never_acked_on_receipt(self, js: Any, subject: str) -> None:
        """Handed out and not acknowledged: pending on the server, still the consumer's to ack."""
        await publish(js, subject, 3)
        first = await take(jetstream(js, subject, durable="d", **FAST), 3)
        assert numbers(first) == [0, 1, 2]
        assert (await consumer_state(js, subject)).num_ack_pending == 3
        assert await ack(first) == 3  # after the stream closed, as with to_list()
        state = await consumer_state(js, subject)
        assert (state.num_ack_pending, state.num_pending) == (0, 0)

    async def test_unacked_ones_come_again_after_ack_wait(self, js: Any, subject: str) -> None:
        """Not acknowledged within ack_wait: delivered again, attempt 2."""
        await publish(js, subject, 3)
        first = await take(jetstream(js, subject, durable="d", ack_wait=0.5, **FAST), 3)
        assert [d.attempt for d in first] == [1, 1, 1]
        again = await take(jetstream(js, subject, durable="d", ack_wait=0.5, **FAST), 3)
        assert numbers(again) == [0, 1, 2]
        assert [d.attempt for d in again] == [2, 2, 2]
        await ack(again)
        assert (await consumer_state(js, subject)).num_ack_pending == 0

    async def test_read_ahead_is_handed_back_at_once(self, js: Any, subject: str) -> None:
        """Fetched but never handed out: NAKed on close, the next run gets it without waiting."""
        await publish(js, subject, 4)
        stream = jetstream(js, subject, durable="d", **FAST)
        with anyio.fail_after(10):
            async with stream:
                async for delivery in stream:
                    await delivery.ack()
                    break
        # The other three came in the same fetch (max_in_flight 100).
        again = await take(jetstream(js, subject, durable="d", **FAST), 3, within=5)
        assert numbers(again) == [1, 2, 3]
        await ack(again)

    async def test_an_ack_after_an_error_is_refused(self, js: Any, subject: str) -> None:
        """Handed back (NAKed) when the consumer left with an exception: ack() says so."""
        await publish(js, subject, 1)
        stream = jetstream(js, subject, durable="d", **FAST)
        kept: list[Delivery] = []
        with pytest.raises(KeyError), anyio.fail_after(10):
            async with stream:
                async for delivery in stream:
                    kept.append(delivery)
                    raise KeyError("handler failed")
        with pytest.raises(RuntimeError, match="handed back"):
            await kept[0].ack()

    async def test_a_batch_is_acked_at_once(self, js: Any, subject: str) -> None:
        """ack(batch) confirms a whole batch; already acked ones are not counted."""
        await publish(js, subject, 10)
        stream = jetstream(js, subject, durable="d", **FAST)
        counts = []
        with anyio.fail_after(10):
            async with stream.batch(5) as batches:
                async for batch in batches:
                    await batch[0].ack()
                    counts.append(await ack(batch))
                    assert all(d.acked for d in batch)
                    if len(counts) == 2:
                        break
        assert counts == [4, 4]
        assert (await consumer_state(js, subject)).num_ack_pending == 0

    async def test_messages_published_later_come_at_once(self, js: Any, subject: str) -> None:
        """An empty fetch is "nothing yet"; a message published later comes without delay."""
        stream = jetstream(js, subject, durable="d", fetch_timeout=5.0)
        seen: list[float] = []
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def later() -> None:
                    await anyio.sleep(0.3)
                    for n in range(3):
                        seen.append(anyio.current_time())
                        await js.publish(subject, str(n).encode())
                        await anyio.sleep(0.1)

                tg.start_soon(later)
                got = []
                async with stream:
                    async for delivery in stream:
                        got.append((delivery, anyio.current_time()))
                        await delivery.ack()
                        if len(got) == 3:
                            break
        assert numbers([d for d, _ in got]) == [0, 1, 2]
        # Well within the 5 s fetch: each one as it was published.
        assert max(at - sent for (_, at), sent in zip(got, seen, strict=True)) < 0.5

    async def test_empty_fetches_are_not_errors(self, js: Any, subject: str) -> None:
        """Many fetch timeouts in a row, then a message: no exception reaches the consumer."""
        stream = jetstream(js, subject, durable="d", fetch_timeout=0.05)
        async with anyio.create_task_group() as tg:

            async def later() -> None:
                await anyio.sleep(0.5)  # about ten empty fetches
                await js.publish(subject, b"7")

            tg.start_soon(later)
            got = await take(stream, 1)
        assert numbers(got) == [7]


class TestAckOnNext:
    async def test_acked_when_the_next_is_asked(self, js: Any, subject: str) -> None:
        """Each delivery is acknowledged when the loop comes back for the next one."""
        await publish(js, subject, 3)
        stream = jetstream(js, subject, durable="d", ack="on_next", **FAST)
        got: list[Delivery] = []
        with anyio.fail_after(10):
            async with stream:
                async for delivery in stream:
                    if got:
                        assert got[-1].acked
                    got.append(delivery)
                    if len(got) == 3:
                        break
        assert all(d.acked for d in got)  # the last on the clean exit
        assert (await consumer_state(js, subject)).num_ack_pending == 0

    async def test_a_raising_body_leaves_its_delivery_unacked(self, js: Any, subject: str) -> None:
        """The ones before are acked; the one in hand comes again (NAKed), attempt 2."""
        await publish(js, subject, 3)
        stream = jetstream(js, subject, durable="d", ack="on_next", nak_delay=0.05, **FAST)
        with pytest.raises(ValueError, match="boom"), anyio.fail_after(10):
            async with stream:
                async for delivery in stream:
                    if delivery.value == b"1":
                        raise ValueError("boom")
        again = await take(jetstream(js, subject, durable="d", **FAST), 2)
        # 1 was NAKed with the delay after the error, 2 (read ahead) at once: 2 may come first.
        assert sorted(numbers(again)) == [1, 2]
        assert [d.attempt for d in again] == [2, 2]
        await ack(again)


class TestBounds:
    async def test_max_in_flight_on_the_server(self, js: Any, subject: str) -> None:
        """Never more than max_in_flight unacknowledged, as the server counts them."""
        await publish(js, subject, 20)
        stream = jetstream(js, subject, durable="d", max_in_flight=5, **FAST)
        held: list[Delivery] = []
        peak = 0
        with anyio.fail_after(20):
            async with stream:
                async for delivery in stream:
                    held.append(delivery)
                    state = await consumer_state(js, subject)
                    peak = max(peak, state.num_ack_pending)
                    if len(held) == 5:
                        # The sixth is not read until one is acknowledged.
                        await anyio.sleep(0.3)
                        assert (await consumer_state(js, subject)).num_ack_pending == 5
                        await ack(held)
                        held.clear()
                    if delivery.value == b"19":
                        break
        assert state.config.max_ack_pending == 5
        assert 0 < peak <= 5

    async def test_cancelled_mid_delivery_comes_again(self, js: Any, subject: str) -> None:
        """A cancellation leaves the message unacknowledged: it comes again, attempt 2."""
        await publish(js, subject, 1)
        stream = jetstream(js, subject, durable="d", **FAST)
        with anyio.move_on_after(0.5) as waited:
            async with stream:
                async for _delivery in stream:
                    await anyio.sleep(10)  # cancelled here, in the handler
        assert waited.cancelled_caught
        (again,) = await take(jetstream(js, subject, durable="d", **FAST), 1)
        assert (int(again.value), again.attempt) == (0, 2)
        await again.ack()


class TestHeartbeat:
    async def test_slow_work_is_not_redelivered(self, js: Any, subject: str) -> None:
        """Work three times ack_wait: in_progress() keeps the message with this worker."""
        await publish(js, subject, 1)
        slow = jetstream(js, subject, durable="d", ack_wait=0.5, **FAST)
        other = jetstream(js, subject, durable="d", ack_wait=0.5, **FAST)
        stolen: list[Delivery] = []
        async with anyio.create_task_group() as tg:

            async def second_worker() -> None:
                async with other:
                    async for delivery in other:
                        stolen.append(delivery)

            with anyio.fail_after(10):
                async with slow:
                    async for delivery in slow:
                        tg.start_soon(second_worker)
                        await anyio.sleep(1.5)
                        await delivery.ack()
                        break
                await anyio.sleep(0.3)
                tg.cancel_scope.cancel()
        assert stolen == []
        state = await consumer_state(js, subject)
        assert (state.num_redelivered, state.num_ack_pending) == (0, 0)

    async def test_without_heartbeat_slow_work_is_redelivered(self, js: Any, subject: str) -> None:
        """heartbeat=False: past ack_wait the server gives the message to another worker."""
        await publish(js, subject, 1)
        slow = jetstream(js, subject, durable="d", ack_wait=0.5, heartbeat=False, **FAST)
        other = jetstream(js, subject, durable="d", ack_wait=0.5, **FAST)
        with anyio.fail_after(10):
            async with slow:
                async for _delivery in slow:
                    (stolen,) = await take(other, 1)
                    break
        assert (int(stolen.value), stolen.attempt) == (0, 2)
        await stolen.ack()


class TestDeadLetter:
    async def test_a_poison_message_reaches_the_dead_letter(self, js: Any, subject: str) -> None:
        """After max_attempts failures: published to <subject>.dead with its error, terminated."""
        await publish(js, subject, 1)
        attempts = []
        for _ in range(3):
            with pytest.raises(ValueError, match="cannot parse"), anyio.fail_after(10):
                stream = jetstream(js, subject, durable="d", max_attempts=3, nak_delay=0.05, **FAST)
                async with stream:
                    async for delivery in stream:
                        attempts.append(delivery.attempt)
                        raise ValueError(f"cannot parse {delivery.value!r}")
        assert attempts == [1, 2, 3]
        # The fourth delivery goes to the dead letter; the consumer goes on past it.
        await publish(js, subject, 1, start=1)
        stream = jetstream(js, subject, durable="d", max_attempts=3, **FAST)
        handled: list[bytes] = []
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def consume() -> None:
                    async with stream:
                        async for delivery in stream:
                            handled.append(delivery.value)
                            await delivery.ack()

                tg.start_soon(consume)
                while True:  # until the dead letter's stream exists and holds it
                    try:
                        dead = await js.pull_subscribe(f"{subject}.dead", durable="reader")
                        (msg,) = await dead.fetch(1, timeout=1)
                        break
                    except (nats.js.errors.NotFoundError, TimeoutError):
                        await anyio.sleep(0.05)
                while not handled:  # noqa: ASYNC110  # filled by the consumer task
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
        assert handled == [b"1"]
        assert msg.data == b"0"
        assert msg.headers["Sluiceway-Dead-Letter-Subject"] == subject
        assert msg.headers["Sluiceway-Dead-Letter-Sequence"] == "1"
        assert msg.headers["Sluiceway-Dead-Letter-Attempts"] == "3"
        assert msg.headers["Sluiceway-Dead-Letter-Error"] == "ValueError: cannot parse b'0'"
        state = await consumer_state(js, subject)
        assert (state.num_ack_pending, state.num_pending) == (0, 0)


class TestSink:
    async def test_every_message_is_stored(self, js: Any, subject: str) -> None:
        """bytes and str, in order, each acknowledged by the server; the count returned."""

        async def messages() -> Any:
            for n in range(250):
                yield str(n) if n % 2 else str(n).encode()

        assert await jetstream_sink(messages(), js, subject, max_in_flight=16) == 250
        got = await take(jetstream(js, subject, durable="d", max_in_flight=250, **FAST), 250)
        assert numbers(got) == list(range(250))
        await ack(got)

    async def test_a_bad_message_stops_it(self, js: Any, subject: str) -> None:
        """A payload that is neither bytes nor str: TypeError; the ones before are stored."""
        with pytest.raises(TypeError, match="bytes or str, got dict"):
            await jetstream_sink([b"0", b"1", {"n": 2}, b"3"], js, subject)
        state = await js.stream_info(await js.find_stream_name_by_subject(subject))
        assert state.state.messages == 2

    async def test_a_subject_no_stream_holds(self, js: Any) -> None:
        with pytest.raises(LookupError, match="no JetStream stream holds subject"):
            await jetstream_sink([b"x"], js, "sluiceway-test.nobody.listens")


class TestWithOperators:
    async def test_a_concurrent_map_and_context_variables(self, js: Any, subject: str) -> None:
        """map(concurrency=4) over deliveries, with a context variable set around it."""
        await publish(js, subject, 12)
        var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
        var.set("outer")

        async def handle(delivery: Delivery) -> tuple[int, str]:
            await anyio.sleep(0.01)
            await delivery.ack()
            return int(delivery.value), var.get()

        stream = jetstream(js, subject, durable="d", **FAST)
        with anyio.fail_after(10):
            got = await stream.map(handle, concurrency=4).take(12).to_list()
        assert sorted(n for n, _ in got) == list(range(12))
        assert {seen for _, seen in got} == {"outer"}
        assert (await consumer_state(js, subject)).num_ack_pending == 0


class TestBadInput:
    async def test_no_stream_holds_the_subject(self, js: Any) -> None:
        stream = jetstream(js, "sluiceway-test.nobody.here", durable="d", **FAST)
        with pytest.raises(LookupError, match="no JetStream stream holds subject"):
            await stream.take(1).to_list()

    def test_arguments(self) -> None:
        class NotJetStream:
            pass

        with pytest.raises(TypeError, match="JetStream context"):
            jetstream(NotJetStream(), "a", durable="d")
        fake: Any = type("JS", (), {"pull_subscribe": None})()
        with pytest.raises(ValueError, match="needs dead_letter"):
            jetstream(fake, "orders.*", durable="d")
        with pytest.raises(ValueError, match="cannot hold"):
            jetstream(fake, "orders", durable="a.b")
        with pytest.raises(ValueError, match="ack="):
            jetstream(fake, "orders", durable="d", ack="always")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="max_in_flight"):
            jetstream(fake, "orders", durable="d", max_in_flight=0)
        with pytest.raises(ValueError, match="wildcards"):
            jetstream(fake, "orders", durable="d", dead_letter="dead.>")

    def test_a_dead_letter_under_the_subject(self) -> None:
        """Dead letters that the consumer itself would read again are refused at once."""
        fake: Any = type("JS", (), {"pull_subscribe": None})()
        with pytest.raises(ValueError, match="would be consumed again"):
            jetstream(fake, "orders.>", durable="d", dead_letter="orders.x.dead")

    def test_subject_matches(self) -> None:
        assert subject_matches("a.*", "a.b")
        assert subject_matches("a.>", "a.b.c")
        assert not subject_matches("a.>", "a")
        assert not subject_matches("a.*", "a.b.c")
        assert subject_matches("a.b", "a.b")
        assert not subject_matches("a.b", "a.c")


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_is_refused(anyio_backend: str) -> None:
    """nats-py runs on asyncio alone: a clear error on trio, not a crash inside the client."""
    fake: Any = type("JS", (), {"pull_subscribe": None})()
    with pytest.raises(UnsupportedBackendError, match="asyncio"):
        await jetstream(fake, "orders", durable="d").take(1).to_list()
