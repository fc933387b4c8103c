"""Ownership and closing: every source closed exactly once, on every way out."""

from __future__ import annotations

import gc
import operator
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import sluiceway as sw
from backends import virtual_time
from sluiceway._core._lifecycle import close_within
from sluiceway.errors import EmptyStreamError, StreamConsumedError


class Source:
    """An async iterator that records how it was used."""

    def __init__(self, items: Any = (), *, fail_with: BaseException | None = None) -> None:
        self.items = list(items)
        self.fail_with = fail_with
        self.pulled = 0
        self.aiter_calls = 0
        self.closed = 0

    def __aiter__(self) -> Source:
        self.aiter_calls += 1
        return self

    async def __anext__(self) -> Any:
        await anyio.lowlevel.checkpoint()
        if self.closed:
            raise StopAsyncIteration
        if self.pulled == len(self.items):
            if self.fail_with is not None:
                raise self.fail_with
            raise StopAsyncIteration
        self.pulled += 1
        return self.items[self.pulled - 1]

    async def aclose(self) -> None:
        self.closed += 1


class Events:
    """A log shared by generators under test."""

    def __init__(self) -> None:
        self.log: list[str] = []


async def agen(events: Events, name: str, n: int) -> AsyncIterator[int]:
    try:
        for i in range(n):
            await anyio.lowlevel.checkpoint()
            yield i
    finally:
        events.log.append(f"{name} closed")


class TestAsyncWith:
    async def test_enter_gives_the_stream_itself(self) -> None:
        """`async with s as x` gives x is s, and entering does not consume s."""
        s = sw.stream(Source([1, 2]))
        async with s as entered:
            assert entered is s
            assert await s.to_list() == [1, 2]

    async def test_break_closes_the_source_before_the_next_line(self) -> None:
        """Breaking out of `async for` inside `async with` closes the source on leaving."""
        events = Events()
        async with sw.stream(agen(events, "a", 10)).map(lambda x: x + 1) as s:
            async for item in s:
                assert item == 1
                break
            assert events.log == []
        assert events.log == ["a closed"]

    async def test_break_closes_an_operator_chain_from_the_first_stream(self) -> None:
        """Leaving `async with` of the stream an operator took over closes the pipeline."""
        src = Source(range(10))
        async with sw.stream(src) as s:
            async for _ in s.map(str).filter(bool):
                break
        assert src.closed == 1

    async def test_body_error_propagates_unchanged_and_sources_are_closed(self) -> None:
        """A KeyError raised in the body is the same object, not a group; the source is closed."""
        src = Source(range(10))
        err = KeyError("body")
        with pytest.raises(KeyError) as caught:
            async with sw.stream(src) as s:
                async for _ in s:
                    raise err
        assert caught.value is err
        assert src.closed == 1

    async def test_never_started_source_is_closed(self) -> None:
        """Entering and leaving without iterating closes the source anyway."""
        src = Source(range(3))
        async with sw.stream(src).map(str):
            pass
        assert src.closed == 1
        assert src.aiter_calls == 0

    @virtual_time
    async def test_cancellation_propagates_and_closes(self) -> None:
        """A cancel scope around the loop catches its cancellation; the source is closed."""
        src = Source(range(10**6))
        with anyio.move_on_after(0.05) as scope:
            async with sw.stream(src) as s:
                async for _ in s:
                    await anyio.sleep(0.01)
        assert scope.cancelled_caught
        assert src.closed == 1

    async def test_error_while_closing_propagates(self) -> None:
        """An error raised by a source's finally comes out of __aexit__."""

        async def failing_close() -> AsyncIterator[int]:
            try:
                yield 1
                yield 2
            finally:
                raise OSError("close failed")

        with pytest.raises(OSError, match="close failed"):
            async with sw.stream(failing_close()) as s:
                async for _ in s:
                    break

    async def test_error_while_closing_is_noted_on_the_body_error(self) -> None:
        """When the body raises, a close error is attached as a note, not raised instead."""

        async def failing_close() -> AsyncIterator[int]:
            try:
                yield 1
            finally:
                raise OSError("close failed")

        with pytest.raises(KeyError) as caught:
            async with sw.stream(failing_close()) as s:
                async for _ in s:
                    raise KeyError("body")
        assert any("close failed" in note for note in caught.value.__notes__)


class TestOwnership:
    async def test_iterating_twice_raises(self) -> None:
        """A second `async for` over the same Stream raises a RuntimeError subclass."""
        s = sw.stream([1, 2])
        assert [x async for x in s] == [1, 2]
        with pytest.raises(RuntimeError):
            async for _ in s:
                pass
        with pytest.raises(StreamConsumedError):
            await s.to_list()

    async def test_terminal_twice_raises(self) -> None:
        """A terminal operation uses the stream up."""
        s = sw.stream(Source([1]))
        assert await s.count() == 1
        with pytest.raises(StreamConsumedError):
            await s.count()

    async def test_operator_takes_the_stream_over(self) -> None:
        """After s.map(...), s itself cannot be iterated or given to another operator."""
        s = sw.stream([1, 2])
        t = s.map(str)
        with pytest.raises(StreamConsumedError, match="operator"):
            s.filter(bool)
        with pytest.raises(StreamConsumedError):
            await anext(s)
        assert await t.to_list() == ["1", "2"]

    async def test_anext_after_end_and_after_close(self) -> None:
        """__anext__ after the end or after aclose() raises StopAsyncIteration."""
        s = sw.stream(Source([1]))
        assert await anext(s) == 1
        with pytest.raises(StopAsyncIteration):
            await anext(s)
        with pytest.raises(StopAsyncIteration):
            await anext(s)
        closed = sw.stream(Source([1, 2]))
        await closed.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(closed)
        consumed = sw.stream([1])
        await consumed.to_list()
        with pytest.raises(StopAsyncIteration):
            await anext(consumed)

    async def test_anext_then_async_for_continues(self) -> None:
        """Items taken with anext() are not seen again by a following `async for`."""
        s = sw.stream(Source([1, 2, 3]))
        assert await anext(s) == 1
        assert [x async for x in s] == [2, 3]

    async def test_aiter_is_called_once_and_close_once(self) -> None:
        """The source's __aiter__ runs exactly once and aclose() exactly once."""
        src = Source(range(5))
        s = sw.stream(src).map(operator.neg)
        assert await s.to_list() == [0, -1, -2, -3, -4]
        await s.aclose()
        assert src.aiter_calls == 1
        assert src.closed == 1

    async def test_aclose_is_idempotent(self) -> None:
        """aclose() twice closes the source once."""
        src = Source(range(5))
        s = sw.stream(src)
        await s.aclose()
        await s.aclose()
        assert src.closed == 1

    async def test_bare_async_for_closes_at_exhaustion(self) -> None:
        """A sequential stream iterated without `async with` closes its source at the end."""
        src = Source(range(3))
        assert [x async for x in sw.stream(src).map(operator.neg)] == [0, -1, -2]
        assert src.closed == 1

    async def test_bare_async_for_closes_on_source_error(self) -> None:
        """At an error the source is closed before the error reaches the consumer."""
        err = ValueError("boom")
        src = Source([1, 2], fail_with=err)
        got: list[int] = []
        with pytest.raises(ValueError, match="boom") as caught:
            async for x in sw.stream(src):
                got.append(x)
        assert caught.value is err
        assert got == [1, 2]
        assert src.closed == 1

    async def test_sync_generator_is_closed(self) -> None:
        """An owned sync generator is closed when the stream stops early."""
        events = Events()

        def gen() -> Iterator[int]:
            try:
                yield from range(10**6)
            finally:
                events.log.append("closed")

        assert await sw.stream(gen()).take(3).to_list() == [0, 1, 2]
        assert events.log == ["closed"]

    async def test_never_started_sync_generator_is_closed(self) -> None:
        """A sync generator that was never read is closed too."""
        g = (i for i in range(3))
        await sw.stream(g).aclose()
        with pytest.raises(StopIteration):
            next(g)

    async def test_borrowed_source_is_left_open_where_it_stopped(self) -> None:
        """borrow() keeps the source open; take(3) leaves it at the fourth item."""
        src = Source(range(10))
        assert await sw.borrow(src).take(3).to_list() == [0, 1, 2]
        assert src.closed == 0
        assert await anext(src) == 3

    async def test_borrowed_sync_iterator_is_not_read_ahead(self) -> None:
        """A borrowed sync iterator is read one item at a time."""
        it = iter(range(10))
        assert await sw.borrow(it).take(2).to_list() == [0, 1]
        assert next(it) == 2

    async def test_a_long_borrowed_sync_iterator(self) -> None:
        """Read one at a time over thousands of items, it is still read to its end."""
        it = iter(range(3000))
        assert await sw.borrow(it).count() == 3000
        assert next(it, None) is None

    def test_a_stream_is_not_borrowed(self) -> None:
        """borrow() of a Stream is a TypeError: a Stream owns its pipeline."""
        with pytest.raises(TypeError, match="owns its pipeline"):
            sw.borrow(sw.stream([1]))

    async def test_stream_of_a_stream_takes_it_over(self) -> None:
        """Stream(s) takes s over, like an operator: s cannot be used again."""
        s = sw.stream([1, 2])
        t = sw.Stream(s)
        with pytest.raises(StreamConsumedError):
            await s.to_list()
        assert await t.to_list() == [1, 2]


class TestTerminalClosing:
    async def test_first_closes_after_one_pull(self) -> None:
        """first() pulls one item and closes the source."""
        src = Source(range(10))
        assert await sw.stream(src).first() == 0
        assert src.pulled == 1
        assert src.closed == 1

    async def test_function_error_closes(self) -> None:
        """An error in a reduce function reaches the caller unchanged and closes the source."""
        src = Source(range(10))
        err = ZeroDivisionError("x")

        def fail(acc: int, x: int) -> int:
            if x == 3:
                raise err
            return acc + x

        with pytest.raises(ZeroDivisionError) as caught:
            await sw.stream(src).reduce(fail, 0)
        assert caught.value is err
        assert src.closed == 1

    @virtual_time
    async def test_cancellation_closes(self) -> None:
        """A terminal cancelled by a cancel scope closes the source; the scope catches it."""
        src = Source(range(10**6))

        async def slow(x: int) -> None:
            await anyio.sleep(0.01)

        with anyio.move_on_after(0.05) as scope:
            await sw.stream(src).foreach(slow)
        assert scope.cancelled_caught
        assert src.closed == 1

    async def test_empty_first_and_last(self) -> None:
        """first()/last() on an empty stream raise EmptyStreamError; the source is closed."""
        for op in ("first", "last"):
            src = Source([])
            with pytest.raises(EmptyStreamError):
                await getattr(sw.stream(src), op)()
            assert src.closed == 1


class TestCombinedClosing:
    async def test_concat_closes_every_part_once(self) -> None:
        """concat closes a finished part at once and a never-reached one at the end."""
        a, b, c = Source([1]), Source([2]), Source([3])
        assert await sw.concat(a, b, c).take(2).to_list() == [1, 2]
        assert (a.closed, b.closed, c.closed) == (1, 1, 1)
        assert c.aiter_calls == 0

    async def test_zip_closes_every_part_once(self) -> None:
        """zip closes all its sources when the shortest ends."""
        a, b = Source(range(2)), Source(range(5))
        assert await sw.zip(a, b).to_list() == [(0, 0), (1, 1)]
        assert (a.closed, b.closed) == (1, 1)

    async def test_closing_an_input_closes_the_combination(self) -> None:
        """Leaving `async with` of a stream given to concat closes every part."""
        a, b = Source(range(3)), Source(range(3))
        async with sw.stream(a) as s:
            async for _ in sw.concat(s, b):
                break
        assert (a.closed, b.closed) == (1, 1)

    async def test_flat_map_closes_an_abandoned_inner_iterable(self) -> None:
        """An async inner iterable left early by take() is closed before the result returns."""
        events = Events()
        result = sw.stream([10, 20]).flat_map(lambda n: agen(events, str(n), n)).take(2)
        assert await result.to_list() == [0, 1]
        assert events.log == ["10 closed"]


class TestValues:
    async def test_none_flows_through(self) -> None:
        """None and other sentinel-like values are delivered as they are."""
        items = [1, None, 3, 0, "", False]
        assert await sw.stream(Source(items)).to_list() == items
        assert await sw.stream(items).map(lambda x: x).to_list() == items
        assert [x async for x in sw.from_batches([items[:2], items[2:]])] == items


@virtual_time
async def test_close_within_warns_about_a_source_that_does_not_close() -> None:
    """A close that takes longer than the grace period is cut there, with a RuntimeWarning."""

    async def hang() -> None:
        await anyio.sleep(10)

    start = anyio.current_time()
    with pytest.warns(RuntimeWarning, match="did not finish closing"):
        await close_within(hang, "the hanging source", grace=0.05)
    assert anyio.current_time() - start == pytest.approx(0.05)


@virtual_time
async def test_close_within_is_shielded() -> None:
    """Closing finishes even while the surrounding scope is cancelled."""
    done: list[bool] = []

    async def slow_close() -> None:
        await anyio.sleep(0.02)
        done.append(True)

    with anyio.CancelScope() as scope:
        scope.cancel()
        await close_within(slow_close, "slow")
    assert done == [True]
    gc.collect()


class TestSequentialScope:
    async def test_a_generator_may_yield_inside_async_with_a_sequential_stream(self) -> None:
        """A sequential stream opens no task group: yielding inside its async with is safe."""

        async def mine() -> AsyncIterator[int]:
            async with sw.stream(Source(range(5))).map(lambda x: x * 10) as s:
                async for x in s:
                    yield x

        async def other_work() -> None:
            await anyio.lowlevel.checkpoint()

        got: list[int] = []
        gen = mine()
        try:
            async for x in gen:
                got.append(x)
                with anyio.move_on_after(0.001):  # a scope of the consumer's own between items
                    await other_work()
        finally:
            await gen.aclose()  # type: ignore[attr-defined]
        assert got == [0, 10, 20, 30, 40]

    async def test_background_work_needs_the_stream_that_runs_it_entered(self) -> None:
        """Adding prefetch after entering a sequential stream asks for async with on the new one."""
        async with sw.stream(Source(range(3))) as s:
            prefetched = s.prefetch(2)
            with pytest.raises(RuntimeError, match="async with"):
                async for _ in prefetched:
                    pass
        async with sw.stream(Source(range(3))).prefetch(2) as t:
            assert [x async for x in t] == [0, 1, 2]

    async def test_entering_the_stream_an_operator_took_over(self) -> None:
        """async with on a stream after prefetch took it over opens the scope prefetch needs."""
        src = Source(range(3))
        s = sw.stream(src)
        prefetched = s.prefetch(2)
        async with s:
            assert [x async for x in prefetched] == [0, 1, 2]
        assert src.closed == 1

    async def test_merging_streams_already_entered(self) -> None:
        """Streams entered before merge took them over lend it their scope."""
        a, b = sw.stream(Source([1, 2])).prefetch(1), sw.stream(Source([3])).prefetch(1)
        async with a, b:
            assert sorted([x async for x in sw.merge(a, b)]) == [1, 2, 3]
