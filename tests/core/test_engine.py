"""The fusing engine: long chains, batch paths, tracebacks."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator

import anyio
import pytest

import sluiceway as sw


async def agen(n: int, log: list[str]) -> AsyncIterator[int]:
    try:
        for i in range(n):
            await anyio.lowlevel.checkpoint()
            yield i
    finally:
        log.append("closed")


class TestLongChains:
    async def test_hundreds_of_stages(self) -> None:
        """A chain longer than one generated function can hold is cut into segments."""
        log: list[str] = []
        s = sw.stream(agen(100, log))
        for _ in range(150):
            s = s.filter(lambda x: x >= 0).map(lambda x: x)
        assert await s.take(5).to_list() == [0, 1, 2, 3, 4]
        assert log == ["closed"]

    async def test_many_flat_maps_and_batches(self) -> None:
        """Nested flat_map and batch stages across segments give the plain-Python result."""
        s = sw.stream(range(50))
        for _ in range(8):
            s = s.flat_map(lambda x: [x, -x] if x > 40 else [x])
        for _ in range(3):
            s = s.batch(2)
        flat: list[int] = list(range(50))
        for _ in range(8):
            flat = [y for x in flat for y in ([x, -x] if x > 40 else [x])]
        expected: list[object] = list(flat)
        for _ in range(3):
            expected = [expected[i : i + 2] for i in range(0, len(expected), 2)]
        assert await s.to_list() == expected

    async def test_segments_close_once(self) -> None:
        """Closing a segmented pipeline early closes the source exactly once."""
        log: list[str] = []
        s = sw.stream(agen(10**6, log))
        for _ in range(100):
            s = s.skip(0).drop_while(lambda x: False)
        async with s:
            async for _ in s:
                break
        assert log == ["closed"]


class TestTracebacks:
    async def test_user_error_traceback_names_the_pipeline(self) -> None:
        """An error in a user function shows the generated pipeline line in its traceback."""

        def boom(x: int) -> int:
            raise ArithmeticError(x)

        with pytest.raises(ArithmeticError) as caught:
            await sw.stream([1]).map(boom).to_list()
        text = "".join(traceback.format_exception(caught.value))
        assert "sluiceway pipeline" in text
        assert "x = f0(x)" in text


class TestBatchPaths:
    async def test_sync_iterator_error_keeps_items_read_before_it(self) -> None:
        """Items a sync generator produced before raising are delivered, then the error."""
        err = LookupError("gen")

        def gen() -> object:
            yield 1
            yield 2
            raise err

        got: list[object] = []
        with pytest.raises(LookupError) as caught:
            async for x in sw.stream(gen()):  # type: ignore[call-overload]
                got.append(x)
        assert got == [1, 2]
        assert caught.value is err

    async def test_large_list_is_sliced(self) -> None:
        """A list longer than one batch arrives whole and in order."""
        data = list(range(5000))
        batches = await sw.stream(data).batches().to_list()
        assert [x for b in batches for x in b] == data
        assert len(batches) > 1
        assert all(type(b) is list for b in batches)

    async def test_long_sync_source_stays_cancellable(self) -> None:
        """A terminal over a huge range checkpoints between batches, so a timeout stops it."""
        with anyio.move_on_after(0.05) as scope:
            await sw.stream(range(10**10)).count()
        assert scope.cancelled_caught


class TestErrorsAreNotHidden:
    async def test_error_after_a_partial_batch_is_raised_even_when_take_is_satisfied(
        self,
    ) -> None:
        """An upstream error is raised even if the partial batch flushed before it ends take()."""
        err = LookupError("source")

        async def src() -> AsyncIterator[int]:
            yield 1
            raise err

        with pytest.raises(LookupError) as caught:
            await sw.stream(src()).batch(2).take(1).to_list()
        assert caught.value is err
        got: list[list[int]] = []
        with pytest.raises(LookupError):
            async for b in sw.stream(src()).batch(2).take(1):
                got.append(b)
        assert got == [[1]]

    async def test_batches_are_fresh_lists(self) -> None:
        """batches() hands out lists the consumer owns, never the source's own list."""
        data = [1, 2, 3]
        (batch,) = await sw.stream(data).batches().to_list()
        assert batch == data
        assert batch is not data

    async def test_from_batches_accepts_iterators_as_batches(self) -> None:
        """Batches that are not sequences are read into lists, for every terminal."""
        assert await sw.from_batches([iter([1, 2]), {3}]).count() == 3
        assert await sw.from_batches([iter([1, 2]), iter([3])]).last() == 3


def test_pipelines_are_built_outside_an_event_loop() -> None:
    """Every operator can be applied at import time, before any event loop runs."""

    async def f(x: int) -> int:
        return x

    built = [
        sw.stream(range(3)).map(f, concurrency=4),
        sw.merge([1], [2]),
        sw.stream([1]).prefetch(2),
        sw.stream([1]).batch(2, timeout=1),
        sw.stream([1]).throttle(2).timeout(1),
        *sw.stream([1]).tee(2),
    ]
    assert all(isinstance(s, sw.Stream) for s in built)

    async def consume() -> list[object]:
        return [await s.to_list() for s in built]

    results = anyio.run(consume)
    assert sorted(results.pop(1)) == [1, 2]  # merge: in order of arrival
    assert results == [[0, 1, 2], [1], [[1]], [1], [1], [1]]
