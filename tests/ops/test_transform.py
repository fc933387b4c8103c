"""Item-by-item transforms: map, filter, flat_map, flatten, scan, enumerate, distinct.

What every operator shares (each source closed exactly once on every way out,
errors as the same object, break, cancellation) is tests/ops/test_contract.py;
these are the operators' own results.
"""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest
from ops_support import Boom, failing_at, items_then_error

import sluiceway as sw
from sluiceway.errors import StreamConsumedError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from .conftest import Probe, Source

    Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]

pytestmark = pytest.mark.anyio


class Tracked:
    """An async generator factory whose generators record that their ``finally`` ran."""

    def __init__(self) -> None:
        self.started: list[object] = []
        self.finalized: list[object] = []

    async def __call__(self, tag: object, items: list[Any]) -> AsyncIterator[Any]:
        self.started.append(tag)
        try:
            for item in items:
                await anyio.lowlevel.checkpoint()
                yield item
        finally:
            self.finalized.append(tag)


class TestStream:
    @pytest.mark.parametrize("source", [42, None, object()])
    def test_not_iterable(self, source: object) -> None:
        """sw.stream(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream(source)  # type: ignore[arg-type]

    def test_stream_of_a_stream(self) -> None:
        """sw.stream() of a Stream is that Stream."""
        s = sw.stream([1])
        assert sw.stream(s) is s


class TestMap:
    async def test_applies_fn_to_each_item(self, make: Source, wrap: Wrap) -> None:
        """map(fn) gives fn(item) for each item, in order."""
        result = await make(range(10)).map(wrap(lambda x: x * 10)).to_list()
        assert result == [x * 10 for x in range(10)]

    async def test_async_for_consumer(self, make: Source, wrap: Wrap) -> None:
        """An async for over a mapped stream sees every mapped item."""
        s = make("abc").map(wrap(str.upper))
        async with s:
            got = [item async for item in s]
        assert got == ["A", "B", "C"]

    async def test_empty_source(self, make: Source, wrap: Wrap) -> None:
        """map over an empty source gives nothing and never calls fn."""
        calls: list[object] = []
        assert await make([]).map(wrap(calls.append)).to_list() == []
        assert calls == []

    async def test_none_items_flow_through(self, make: Source, wrap: Wrap) -> None:
        """None items reach fn and the result like any other value."""
        result = await make([None, 1, None]).map(wrap(lambda x: x)).to_list()
        assert result == [None, 1, None]

    async def test_fn_returning_none_keeps_the_item(self, make: Source, wrap: Wrap) -> None:
        """A result of None is an item, not a dropped one."""
        assert await make([1, 2]).map(wrap(lambda x: None)).to_list() == [None, None]

    async def test_chained_maps(self, make: Source, wrap: Wrap) -> None:
        """Several maps apply one after another."""
        s = make([1, 2, 3]).map(wrap(lambda x: x + 1)).map(wrap(lambda x: x * 2)).map(str)
        assert await s.to_list() == ["4", "6", "8"]

    async def test_fn_error_in_terminal(self, make: Source, wrap: Wrap) -> None:
        """A terminal operation raises fn's error as the same object."""
        error = Boom("fn")
        with pytest.raises(Boom) as info:
            await make([1, 2, 3]).map(wrap(failing_at(2, operator.neg, error))).to_list()
        assert info.value is error

    async def test_calls_fn_only_for_pulled_items(self, probe: type[Probe], wrap: Wrap) -> None:
        """Over an async source of single items, fn runs once per item pulled."""
        calls: list[int] = []

        def record(x: int) -> int:
            calls.append(x)
            return x

        source = probe(range(10))
        s = sw.stream(source).map(wrap(record))
        async with s:
            async for item in s:
                if item == 2:
                    break
        assert calls == [0, 1, 2]
        assert source.pulls == 3

    async def test_bare_async_for_then_aclose(self, probe: type[Probe], wrap: Wrap) -> None:
        """A bare async for may break out early; aclose() then closes the source once."""
        source = probe(range(10))
        s = sw.stream(source).map(wrap(operator.neg))
        async for item in s:
            assert item == 0
            break
        await s.aclose()
        assert source.closes == 1
        assert source.pulls == 1

    async def test_across_engine_batches(self, make: Source, wrap: Wrap) -> None:
        """A long source read in engine batches is mapped item by item, in order."""
        result = await make(range(3000)).map(wrap(operator.neg)).to_list()
        assert result == [-x for x in range(3000)]

    def test_not_callable(self) -> None:
        """map(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).map(42)  # type: ignore[call-overload]

    @pytest.mark.parametrize("concurrency", [0, -1])
    def test_concurrency_below_one(self, concurrency: int) -> None:
        """map(fn, concurrency=0) raises ValueError at the call."""
        with pytest.raises(ValueError, match="concurrency"):
            sw.stream([1]).map(str, concurrency=concurrency)

    async def test_takes_the_stream_over(self) -> None:
        """The stream map was called on cannot be used again."""
        s = sw.stream([1, 2])
        mapped = s.map(str)
        with pytest.raises(StreamConsumedError):
            await s.to_list()
        assert await mapped.to_list() == ["1", "2"]


class TestFilter:
    async def test_keeps_matching_items(self, make: Source, wrap: Wrap) -> None:
        """filter(pred) keeps the items for which pred is true, in order."""
        result = await make(range(20)).filter(wrap(lambda x: x % 3 == 0)).to_list()
        assert result == [0, 3, 6, 9, 12, 15, 18]

    async def test_uses_truthiness(self, make: Source, wrap: Wrap) -> None:
        """pred's result is judged by truthiness (0, '', None are false)."""
        result = await make([0, 1, "", "a", None, [], [0]]).filter(wrap(lambda x: x)).to_list()
        assert result == [1, "a", [0]]

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items are kept when pred says so."""
        result = await make([None, 1, None, 2]).filter(wrap(lambda x: x is None)).to_list()
        assert result == [None, None]

    async def test_nothing_matches(self, make: Source, wrap: Wrap) -> None:
        """A pred that is never true gives an empty stream."""
        assert await make(range(5)).filter(wrap(lambda x: False)).to_list() == []

    async def test_empty_source(self, make: Source, wrap: Wrap) -> None:
        """filter over an empty source gives nothing and never calls pred."""
        calls: list[object] = []
        assert await make([]).filter(wrap(calls.append)).to_list() == []
        assert calls == []

    def test_not_callable(self) -> None:
        """filter(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).filter(42)  # type: ignore[arg-type]


class TestFlatMap:
    async def test_sync_inner_iterables(self, make: Source, wrap: Wrap) -> None:
        """Inner lists, ranges and generators are flattened in order."""
        inner = {1: [1], 2: range(2, 4), 3: (x for x in "ab")}
        result = await make([1, 2, 3]).flat_map(wrap(inner.__getitem__)).to_list()
        assert result == [1, 2, 3, "a", "b"]

    async def test_async_inner_iterables(self, make: Source, wrap: Wrap) -> None:
        """Inner async iterables are flattened in order."""
        tracked = Tracked()
        s = make([1, 2, 3]).flat_map(wrap(lambda x: tracked(x, [x] * x)))
        assert await s.to_list() == [1, 2, 2, 3, 3, 3]
        assert tracked.finalized == [1, 2, 3]

    async def test_mixed_inner_iterables(self, make: Source, wrap: Wrap) -> None:
        """Sync and async inner values may alternate."""
        tracked = Tracked()
        s = make(range(4)).flat_map(wrap(lambda x: tracked(x, [x, x]) if x % 2 else [x]))
        assert await s.to_list() == [0, 1, 1, 2, 3, 3]

    async def test_empty_inner_iterables(self, make: Source, wrap: Wrap) -> None:
        """Empty inner values contribute nothing."""
        tracked = Tracked()
        s = make(range(4)).flat_map(wrap(lambda x: tracked(x, []) if x % 2 else []))
        assert await s.to_list() == []
        assert tracked.finalized == [1, 3]

    async def test_empty_source(self, make: Source, wrap: Wrap) -> None:
        """flat_map over an empty source gives nothing and never calls fn."""
        calls: list[object] = []
        s = make([]).flat_map(wrap(lambda x: calls.append(x) or [x]))
        assert await s.to_list() == []
        assert calls == []

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items inside inner iterables pass through."""
        result = await make([None, 1]).flat_map(wrap(lambda x: [x, None])).to_list()
        assert result == [None, None, 1, None]

    async def test_sync_inner_error_is_raised_unchanged(self, make: Source, wrap: Wrap) -> None:
        """An error from an inner sync generator arrives as the same object, after its items."""
        error = Boom("inner")

        def inner(x: int) -> Iterator[int]:
            yield x
            if x == 2:
                raise error

        s = make([1, 2, 3]).flat_map(wrap(inner))
        got, raised = await items_then_error(s)
        assert got == [1, 2]
        assert raised is error

    async def test_inner_error_is_raised_unchanged(self, make: Source, wrap: Wrap) -> None:
        """An error from an inner async iterable arrives as the same object, after its items."""
        error = Boom("inner")

        async def inner(x: int) -> AsyncIterator[int]:
            yield x
            if x == 2:
                raise error

        s = make([1, 2, 3]).flat_map(wrap(inner))
        got, raised = await items_then_error(s)
        assert got == [1, 2]
        assert raised is error

    async def test_abandoned_async_inner_is_closed(self, make: Source, wrap: Wrap) -> None:
        """An async inner iterable left early is closed by the time the stream is closed."""
        tracked = Tracked()
        s = make([1, 2]).flat_map(wrap(lambda x: tracked(x, [x, x, x])))
        async with s:
            async for _ in s:
                break
            assert tracked.finalized == []
        assert tracked.started == [1]
        assert tracked.finalized == [1]

    async def test_abandoned_inner_closed_by_take(self, make: Source, wrap: Wrap) -> None:
        """take() ending inside an async inner iterable closes it before to_list() returns."""
        tracked = Tracked()
        s = make([1, 2]).flat_map(wrap(lambda x: tracked(x, [x] * 5))).take(2)
        assert await s.to_list() == [1, 1]
        assert tracked.finalized == [1]

    async def test_abandoned_inner_closed_on_error(self, make: Source, wrap: Wrap) -> None:
        """A downstream error inside an async inner iterable closes it."""
        tracked = Tracked()
        error = Boom("downstream")
        s = make([1, 2]).flat_map(wrap(lambda x: tracked(x, [x, 9, x])))
        s = s.map(failing_at(9, lambda x: x, error))
        got, raised = await items_then_error(s)
        assert got == [1]
        assert raised is error
        assert tracked.finalized == [1]

    async def test_pulls_outer_items_as_needed(self, probe: type[Probe], wrap: Wrap) -> None:
        """Over an async source, take(3) after flat_map pulls only the outer items it needs."""
        source = probe(range(10))
        result = await sw.stream(source).flat_map(wrap(lambda x: [x, x])).take(3).to_list()
        assert result == [0, 0, 1]
        assert source.pulls == 2
        assert source.closes == 1

    async def test_inner_iterable_without_aclose(self, make: Source) -> None:
        """An inner async iterable whose iterator has no aclose() is read and left as it is."""

        class Countdown:
            def __init__(self, n: int) -> None:
                self.n = n

            def __aiter__(self) -> Countdown:
                return Countdown(self.n)  # a separate iterator, as a collection gives

            async def __anext__(self) -> int:
                await anyio.lowlevel.checkpoint()
                if self.n == 0:
                    raise StopAsyncIteration
                self.n -= 1
                return self.n

        assert await make([2, 1]).flat_map(Countdown).to_list() == [1, 0, 0]
        assert await make([3]).flat_map(Countdown).take(1).to_list() == [2]

    async def test_non_iterable_inner_value(self, make: Source) -> None:
        """An inner value that is not iterable raises TypeError."""
        with pytest.raises(TypeError):
            await make([1]).flat_map(lambda x: x).to_list()

    def test_not_callable(self) -> None:
        """flat_map(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).flat_map(42)  # type: ignore[call-overload]


class TestFlatten:
    async def test_sync_inner_iterables(self, make: Source) -> None:
        """Items that are lists, tuples, ranges or strings are replaced by their items."""
        result = await make([[1, 2], (), range(3, 5), "ab"]).flatten().to_list()
        assert result == [1, 2, 3, 4, "a", "b"]

    async def test_async_inner_iterables(self, make: Source) -> None:
        """Items that are async iterables are replaced by their items and closed."""
        tracked = Tracked()
        s = make([tracked(1, [1, 2]), [3], tracked(2, [])]).flatten()
        assert await s.to_list() == [1, 2, 3]
        assert tracked.finalized == [1, 2]

    async def test_streams_as_inner_values(self, make: Source) -> None:
        """Items that are Streams are flattened and closed."""
        inner = Tracked()
        s = make([sw.stream(inner(1, [1, 2])), sw.stream([3]).map(str)]).flatten()
        assert await s.to_list() == [1, 2, "3"]
        assert inner.finalized == [1]

    async def test_abandoned_async_inner_is_closed(self, make: Source) -> None:
        """An async inner iterable left early is closed when the stream is closed."""
        tracked = Tracked()
        s = make([tracked(1, [1, 2, 3])]).flatten()
        async with s:
            async for _ in s:
                break
        assert tracked.finalized == [1]

    async def test_empty_source(self, make: Source) -> None:
        """flatten over an empty source gives nothing."""
        assert await make([]).flatten().to_list() == []

    async def test_none_items(self, make: Source) -> None:
        """None inside inner iterables passes through."""
        assert await make([[None], [1, None]]).flatten().to_list() == [None, 1, None]

    async def test_non_iterable_item(self, make: Source) -> None:
        """An item that is not iterable raises TypeError."""
        with pytest.raises(TypeError):
            await make([[1], 2]).flatten().to_list()


class TestScan:
    async def test_yields_accumulated_values_not_initial(self, make: Source, wrap: Wrap) -> None:
        """scan(add, 0) over 1, 2, 3 gives 1, 3, 6 (initial itself is not yielded)."""
        assert await make([1, 2, 3]).scan(wrap(operator.add), 0).to_list() == [1, 3, 6]

    async def test_accumulator_type_differs(self, make: Source, wrap: Wrap) -> None:
        """The accumulator may have another type than the items."""
        result = await make("abc").scan(wrap(lambda acc, x: [*acc, x]), []).to_list()
        assert result == [["a"], ["a", "b"], ["a", "b", "c"]]

    async def test_empty_source(self, make: Source, wrap: Wrap) -> None:
        """scan over an empty source gives nothing (not even initial)."""
        assert await make([]).scan(wrap(operator.add), 0).to_list() == []

    async def test_none_initial_is_a_value(self, make: Source, wrap: Wrap) -> None:
        """An initial of None is passed to fn like any other value."""
        result = await make([1, 2]).scan(wrap(lambda acc, x: (acc, x)), None).to_list()
        assert result == [(None, 1), ((None, 1), 2)]

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items reach fn, and None accumulated values are yielded."""
        result = await make([None, None]).scan(wrap(lambda acc, x: x), 0).to_list()
        assert result == [None, None]

    async def test_without_initial_starts_with_first_item(self, make: Source, wrap: Wrap) -> None:
        """Without initial, the first item starts the accumulation (itertools.accumulate)."""
        assert await make([1, 2, 3]).scan(wrap(operator.add)).to_list() == [1, 3, 6]

    async def test_each_stream_has_its_own_accumulator(self, wrap: Wrap) -> None:
        """Two streams with the same scan, iterated in turn, do not share state."""
        a = sw.stream([1, 2, 3]).scan(wrap(operator.add), 0)
        b = sw.stream([10, 20, 30]).scan(wrap(operator.add), 100)
        got = []
        async with a, b:
            for _ in range(3):
                got.append((await anext(a), await anext(b)))
        assert got == [(1, 110), (3, 130), (6, 160)]

    def test_not_callable(self) -> None:
        """scan(42, 0) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).scan(42, 0)  # type: ignore[call-overload]


class TestEnumerate:
    async def test_counts_from_zero(self, make: Source) -> None:
        """enumerate() pairs each item with its index from 0."""
        assert await make("abc").enumerate().to_list() == [(0, "a"), (1, "b"), (2, "c")]

    @pytest.mark.parametrize("start", [1, 5, -2])
    async def test_counts_from_start(self, make: Source, start: int) -> None:
        """enumerate(start) counts from start, like the builtin."""
        result = await make("abcde").enumerate(start).to_list()
        assert result == list(enumerate("abcde", start))

    async def test_start_keyword(self, make: Source) -> None:
        """start may be given by keyword."""
        assert await make("ab").enumerate(start=7).to_list() == [(7, "a"), (8, "b")]

    async def test_counts_only_items_that_reach_it(self, make: Source) -> None:
        """After filter, indexes count the kept items only."""
        result = await make(range(10)).filter(lambda x: x % 3 == 0).enumerate().to_list()
        assert result == [(0, 0), (1, 3), (2, 6), (3, 9)]

    async def test_empty_source(self, make: Source) -> None:
        """enumerate over an empty source gives nothing."""
        assert await make([]).enumerate().to_list() == []

    async def test_none_items(self, make: Source) -> None:
        """None items are paired like any other."""
        assert await make([None, None]).enumerate().to_list() == [(0, None), (1, None)]

    def test_start_must_be_an_int(self) -> None:
        """enumerate('1') raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).enumerate("1")  # type: ignore[arg-type]


class TestDistinct:
    async def test_drops_every_later_duplicate(self, make: Source) -> None:
        """distinct() is global: a value seen anywhere before is dropped, first one wins."""
        result = await make([3, 1, 3, 2, 1, 1, 4, 3, 2]).distinct().to_list()
        assert result == [3, 1, 2, 4]

    async def test_key(self, make: Source, wrap: Wrap) -> None:
        """distinct(key=) compares keys and keeps the first item of each key."""
        result = await make(["a", "B", "A", "b", "c"]).distinct(key=wrap(str.lower)).to_list()
        assert result == ["a", "B", "c"]

    async def test_key_not_called_twice_per_item(self, make: Source, wrap: Wrap) -> None:
        """key is called once per item."""
        calls: list[int] = []

        def key(x: int) -> int:
            calls.append(x)
            return x % 2

        assert await make([1, 2, 3, 4]).distinct(key=wrap(key)).to_list() == [1, 2]
        assert calls == [1, 2, 3, 4]

    async def test_equal_values_of_other_types(self, make: Source) -> None:
        """Items that compare equal (1, 1.0, True) are duplicates, like dict keys."""
        assert await make([1, 1.0, True, 2]).distinct().to_list() == [1, 2]

    async def test_none_items(self, make: Source) -> None:
        """None is a value like any other: kept once."""
        assert await make([None, 1, None, 1]).distinct().to_list() == [None, 1]

    async def test_none_keys(self, make: Source, wrap: Wrap) -> None:
        """A key of None is a key like any other."""
        result = await make([1, 2, 3]).distinct(key=wrap(lambda x: None)).to_list()
        assert result == [1]

    async def test_unhashable_items(self, make: Source) -> None:
        """Unhashable items are compared with ==."""
        result = await make([[1], [2], [1], {"a": 1}, {"a": 1}]).distinct().to_list()
        assert result == [[1], [2], {"a": 1}]

    async def test_empty_source(self, make: Source) -> None:
        """distinct over an empty source gives nothing."""
        assert await make([]).distinct().to_list() == []

    async def test_each_stream_has_its_own_memory(self) -> None:
        """Two streams with distinct do not share the keys they have seen."""
        assert await sw.stream([1, 2]).distinct().to_list() == [1, 2]
        assert await sw.stream([2, 1]).distinct().to_list() == [2, 1]

    async def test_key_raising_type_error_is_not_swallowed(self, make: Source) -> None:
        """A TypeError from key is the user's error, raised unchanged."""
        error = TypeError("from key")

        def key(x: int) -> int:
            raise error

        with pytest.raises(TypeError) as info:
            await make([1]).distinct(key=key).to_list()
        assert info.value is error

    def test_key_not_callable(self) -> None:
        """distinct(key=42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).distinct(key=42)  # type: ignore[arg-type]


class TestCallableKinds:
    async def test_async_callable_object(self, make: Source) -> None:
        """An object whose __call__ is async def is awaited."""

        class Double:
            async def __call__(self, x: int) -> int:
                await anyio.lowlevel.checkpoint()
                return x * 2

        assert await make([1, 2]).map(Double()).to_list() == [2, 4]

    async def test_nested_partial_of_async_function(self, make: Source) -> None:
        """A partial of a partial of an async function is awaited."""

        async def add(a: int, b: int, x: int) -> int:
            await anyio.lowlevel.checkpoint()
            return a + b + x

        fn = functools.partial(functools.partial(add, 1), 2)
        assert await make([1, 2]).map(fn).to_list() == [4, 5]

    async def test_async_bound_method(self, make: Source) -> None:
        """A bound async method is awaited."""

        class Box:
            async def keep(self, x: int) -> bool:
                await anyio.lowlevel.checkpoint()
                return x > 1

        assert await make([1, 2, 3]).filter(Box().keep).to_list() == [2, 3]
