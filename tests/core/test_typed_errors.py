"""The errors a stream raises when its own machinery is cut short are typed (sluiceway.errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import sluiceway as sw
from sluiceway.errors import CloseTimeoutError, StreamInterruptedError


async def forever() -> AsyncIterator[int]:
    n = 0
    while True:
        await anyio.sleep(0.01)
        yield n
        n += 1


async def stubborn() -> AsyncIterator[int]:
    """A source whose cleanup ignores cancellation: it never finishes closing."""
    with anyio.CancelScope():
        try:
            while True:
                await anyio.lowlevel.checkpoint()
                yield 1
        finally:
            while True:
                try:
                    await anyio.sleep(1)
                except anyio.get_cancelled_exc_class():
                    pass


class TestStreamInterrupted:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: sw.merge(forever()),
            lambda: sw.stream(forever()).prefetch(2),
            lambda: sw.stream(forever()).map(lambda x: x, concurrency=2),
        ],
        ids=["merge", "prefetch", "map"],
    )
    async def test_tasks_cancelled_under_a_consumer_in_another_task(self, make: Any) -> None:
        """The stream's tasks cancelled from outside while another task consumes: typed error."""
        stream = make()
        got: list[int] = []
        failure: list[BaseException] = []
        started = anyio.Event()
        finished = anyio.Event()

        async def consume() -> None:
            try:
                async for item in stream:
                    got.append(item)
                    started.set()
            except StreamInterruptedError as exc:
                failure.append(exc)
            finally:
                finished.set()

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                with anyio.CancelScope() as outer:
                    async with stream:
                        tg.start_soon(consume)
                        await started.wait()
                        outer.cancel()  # the stream's tasks, not the consumer
                        with anyio.CancelScope(shield=True):
                            await finished.wait()
        assert got
        assert len(failure) == 1
        assert isinstance(failure[0], RuntimeError)
        assert "background tasks were cancelled" in str(failure[0])


class TestCloseTimeout:
    async def test_an_abandoned_close_mid_run_fails_the_operation(self) -> None:
        """A source abandoned after the grace period while the run goes on: CloseTimeoutError."""

        async def handle(batch: list[int]) -> list[int]:
            await anyio.lowlevel.checkpoint()  # the run goes on after the close: cut here
            return batch

        with (
            anyio.fail_after(5),
            pytest.warns(RuntimeWarning, match="did not finish closing"),
            sw.grace_period(0.1),
            pytest.raises(CloseTimeoutError, match="could not collect it") as caught,
        ):
            pipeline = sw.stream([1, 2]).flat_map(lambda _: stubborn()).take(1).batch(10)
            await pipeline.map(handle).to_list()
        assert isinstance(caught.value, RuntimeError)
