"""Closing that goes wrong: a source whose cleanup fails, hangs, or swallows cancellation.

A failure while closing is raised when the scope ends (never dropped), or
attached as a note to the exception already leaving it. A close that does
not end within the grace period is abandoned with a ``RuntimeWarning``;
with warnings turned into errors (as here, ``filterwarnings = error``),
that warning is raised when the scope ends instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import sluiceway as sw
from backends import virtual_time


class CloseFailed(Exception):
    """Raised by a source's cleanup."""


async def failing_cleanup(error: BaseException | None = None) -> AsyncIterator[int]:
    """Items without end; its finally raises (``error``, or a new CloseFailed)."""
    try:
        i = 0
        while True:
            await anyio.lowlevel.checkpoint()
            yield i
            i += 1
    finally:
        raise error if error is not None else CloseFailed("cleanup failed")


class UnclosableIterator:
    """An async iterator, never started here, whose ``aclose()`` fails."""

    def __aiter__(self) -> UnclosableIterator:
        return self

    async def __anext__(self) -> int:
        await anyio.lowlevel.checkpoint()
        return 1

    async def aclose(self) -> None:
        raise CloseFailed("aclose failed")


async def stuck_after_first() -> AsyncIterator[int]:
    """One item, then a pull that swallows every cancellation."""
    yield 1
    while True:
        try:
            await anyio.sleep(1)
        except anyio.get_cancelled_exc_class():
            pass


# Each builds a pipeline with background tasks over a source whose cleanup fails.
BACKGROUND: dict[str, Callable[[Any], sw.Stream[Any]]] = {
    "merge": lambda source: sw.merge(source, []),
    "prefetch": lambda source: sw.stream(source).prefetch(2),
    "map": lambda source: sw.stream(source).map(lambda x: x, concurrency=2),
}


class TestFailingCleanup:
    @pytest.mark.parametrize("build", BACKGROUND.values(), ids=BACKGROUND.keys())
    async def test_raised_when_the_scope_ends(self, build: Callable[[Any], sw.Stream[Any]]) -> None:
        """A background task's close of a source fails after break: raised on leaving."""
        with pytest.raises(CloseFailed):
            async with build(failing_cleanup()) as s:
                async for _ in s:
                    break

    @pytest.mark.parametrize("build", BACKGROUND.values(), ids=BACKGROUND.keys())
    async def test_noted_on_the_consumers_own_error(
        self, build: Callable[[Any], sw.Stream[Any]]
    ) -> None:
        """When the body's own error leaves the scope, the close failure is a note on it."""
        with pytest.raises(KeyError) as caught:
            async with build(failing_cleanup()) as s:
                async for _ in s:
                    raise KeyError("body")
        assert any("cleanup failed" in note for note in caught.value.__notes__)

    @pytest.mark.parametrize("build", BACKGROUND.values(), ids=BACKGROUND.keys())
    async def test_a_source_never_started(self, build: Callable[[Any], sw.Stream[Any]]) -> None:
        """Left before its task ran, the source is closed by the stream; its failure is raised."""
        with pytest.raises(CloseFailed, match="aclose failed"):
            async with build(UnclosableIterator()) as s:
                aiter(s)  # started: its tasks are spawned, and have not run yet

    async def test_every_input_of_a_zip_is_closed(self) -> None:
        """zip closes every input though the first close fails; the second failure is a note."""
        first, second = CloseFailed("first"), CloseFailed("second")
        s = sw.zip(failing_cleanup(first), failing_cleanup(second))
        with pytest.raises(CloseFailed) as caught:
            async with s:
                async for _ in s:
                    break
        assert caught.value is first
        assert any("second" in note for note in caught.value.__notes__)

    async def test_a_terminal_operation_raises_it(self) -> None:
        """first() over a source whose cleanup fails raises that failure."""
        with pytest.raises(CloseFailed):
            await sw.stream(failing_cleanup()).first()

    async def test_after_a_function_failure_it_is_a_note(self) -> None:
        """map(concurrency=n): the function's error is raised, the close failure noted on it."""
        error = LookupError("fn")

        def fail(x: int) -> int:
            raise error

        with pytest.raises(LookupError) as caught:
            await sw.stream(failing_cleanup()).map(fail, concurrency=2).to_list()
        assert caught.value is error
        assert any("cleanup failed" in note for note in caught.value.__notes__)


class TestAbandoned:
    @pytest.mark.parametrize("build", BACKGROUND.values(), ids=BACKGROUND.keys())
    async def test_a_pull_that_swallows_cancellation(
        self, build: Callable[[Any], sw.Stream[Any]]
    ) -> None:
        """A task stuck in such a pull is abandoned; as an error, the warning ends the scope."""
        with sw.grace_period(0.05), pytest.raises(RuntimeWarning, match="did not finish closing"):
            async with build(stuck_after_first()) as s:
                async for _ in s:
                    break

    async def test_a_call_that_swallows_cancellation(self) -> None:
        """A concurrent map call stuck that way is abandoned as well, the warning raised."""

        async def stuck(x: int) -> int:
            if x == 0:
                return x
            while True:
                try:
                    await anyio.sleep(1)
                except anyio.get_cancelled_exc_class():
                    pass

        with sw.grace_period(0.05), pytest.raises(RuntimeWarning, match=r"map\(.*stuck"):
            s = sw.stream(range(5)).map(stuck, concurrency=2)  # the grace period in force here
            async with s:
                async for _ in s:
                    break

    @pytest.mark.parametrize("build", BACKGROUND.values(), ids=BACKGROUND.keys())
    async def test_the_grace_period_where_the_stream_starts(
        self, build: Callable[[Any], sw.Stream[Any]]
    ) -> None:
        """A stream built outside grace_period() but started inside it gets that period."""
        s = build(stuck_after_first())
        with sw.grace_period(0.05), pytest.raises(RuntimeWarning, match=r"within 0\.05 s"):
            async with s:
                async for _ in s:
                    break

    async def test_a_close_that_swallows_cancellation_after_a_cancelled_pull(self) -> None:
        """A source cancelled in its pull whose aclose() then never ends is abandoned too."""

        class Stubborn:
            def __aiter__(self) -> Stubborn:
                return self

            async def __anext__(self) -> int:
                await anyio.sleep(10)  # cancelled here when the consumer leaves
                return 1

            async def aclose(self) -> None:
                while True:
                    try:
                        await anyio.sleep(1)
                    except anyio.get_cancelled_exc_class():
                        pass

        with sw.grace_period(0.05), pytest.raises(RuntimeWarning, match="Stubborn"):
            s = sw.merge(Stubborn(), [0])
            async with s:
                async for _ in s:
                    break

    @virtual_time
    async def test_a_terminal_operation_cuts_a_slow_cleanup(self) -> None:
        """first() gives a source whose finally takes too long the grace period, then warns."""

        async def slow_cleanup() -> AsyncIterator[int]:
            try:
                while True:
                    await anyio.lowlevel.checkpoint()
                    yield 1
            finally:
                await anyio.sleep(10)

        start = anyio.current_time()
        with sw.grace_period(1), pytest.warns(RuntimeWarning, match="did not finish closing"):
            assert await sw.stream(slow_cleanup()).first() == 1
        assert anyio.current_time() - start == pytest.approx(1)
