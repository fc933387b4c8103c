"""Terminal operations: to_list, first, last, reduce, count, foreach.

What every operator shares (each source closed exactly once on every way out,
errors as the same object, break, cancellation) is tests/ops/test_contract.py;
these are the operators' own results.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import pytest
from ops_support import Boom, failing_at

import sluiceway as sw
from sluiceway.errors import EmptyStreamError, SluicewayError, StreamConsumedError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .conftest import Probe, Source

    Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]

pytestmark = pytest.mark.anyio


class TestToList:
    async def test_all_items_in_order(self, make: Source) -> None:
        """to_list() gives every item, in order."""
        assert await make(range(50)).to_list() == list(range(50))

    async def test_large_source(self, make: Source) -> None:
        """Items beyond the engine's batch size are all collected."""
        assert await make(range(2100)).to_list() == list(range(2100))

    async def test_empty(self, make: Source) -> None:
        """to_list() of an empty stream is an empty list."""
        assert await make([]).to_list() == []

    async def test_none_items(self, make: Source) -> None:
        """None items are collected."""
        assert await make([None, None]).to_list() == [None, None]

    async def test_returns_a_new_list(self) -> None:
        """to_list() of a list source returns a list, not the source itself."""
        source = [1, 2, 3]
        result = await sw.stream(source).to_list()
        assert result == source
        assert result is not source

    async def test_uses_the_stream_up(self) -> None:
        """After to_list(), the stream cannot be used again."""
        s = sw.stream([1])
        await s.to_list()
        with pytest.raises(StreamConsumedError):
            await s.to_list()


class TestFirst:
    async def test_first_item(self, make: Source) -> None:
        """first() is the first item."""
        assert await make([5, 6, 7]).first() == 5

    async def test_after_operators(self, make: Source) -> None:
        """first() is the first item that comes out of the operators."""
        assert await make(range(10)).filter(lambda x: x > 3).map(str).first() == "4"

    async def test_none_is_an_item(self, make: Source) -> None:
        """first() of a stream starting with None is None, not an error."""
        assert await make([None, 1]).first() is None

    async def test_empty(self, make: Source) -> None:
        """first() of an empty stream raises EmptyStreamError, a SluicewayError."""
        with pytest.raises(EmptyStreamError) as info:
            await make([]).first()
        assert isinstance(info.value, SluicewayError)

    async def test_empty_after_filter(self, make: Source) -> None:
        """first() when every item was filtered out raises EmptyStreamError."""
        with pytest.raises(EmptyStreamError):
            await make([1, 2]).filter(lambda x: False).first()

    async def test_pulls_exactly_one(self, probe: type[Probe]) -> None:
        """first() over an async iterator pulls exactly one item and closes it."""
        source = probe(range(10))
        assert await sw.stream(source).first() == 0
        assert source.pulls == 1
        assert source.closes == 1

    async def test_error_after_first_not_reached(self, make: Source) -> None:
        """A source error after the first item is never raised."""
        assert await make([1], error=Boom("late")).first() == 1


class TestLast:
    async def test_last_item(self, make: Source) -> None:
        """last() is the last item."""
        assert await make([5, 6, 7]).last() == 7

    async def test_large_source(self, make: Source) -> None:
        """last() of a source larger than the engine's batches is its last item."""
        assert await make(range(3000)).last() == 2999

    async def test_none_is_an_item(self, make: Source) -> None:
        """last() of a stream ending with None is None, not an error."""
        assert await make([1, None]).last() is None

    async def test_empty(self, make: Source) -> None:
        """last() of an empty stream raises EmptyStreamError, a SluicewayError."""
        with pytest.raises(EmptyStreamError) as info:
            await make([]).last()
        assert isinstance(info.value, SluicewayError)

    async def test_empty_after_filter(self, make: Source) -> None:
        """last() when every item was filtered out raises EmptyStreamError."""
        with pytest.raises(EmptyStreamError):
            await make([1, 2]).filter(lambda x: False).last()


class TestReduce:
    async def test_with_initial(self, make: Source, wrap: Wrap) -> None:
        """reduce(fn, initial) folds from initial."""
        assert await make([1, 2, 3]).reduce(wrap(operator.add), 10) == 16

    async def test_without_initial(self, make: Source, wrap: Wrap) -> None:
        """reduce(fn) folds starting from the first item."""
        assert await make([1, 2, 3]).reduce(wrap(operator.add)) == 6

    async def test_order_of_arguments(self, make: Source, wrap: Wrap) -> None:
        """fn is called as fn(accumulator, item), left to right."""
        assert await make("abc").reduce(wrap(lambda acc, x: f"({acc}{x})"), "") == "(((a)b)c)"
        assert await make("abc").reduce(wrap(lambda acc, x: f"({acc}{x})")) == "((ab)c)"

    async def test_single_item_without_initial(self, make: Source, wrap: Wrap) -> None:
        """reduce(fn) of one item is that item; fn is not called."""
        calls: list[object] = []
        assert await make([7]).reduce(wrap(lambda a, b: calls.append(b))) == 7
        assert calls == []

    async def test_empty_with_initial(self, make: Source, wrap: Wrap) -> None:
        """reduce(fn, initial) of an empty stream is initial."""
        assert await make([]).reduce(wrap(operator.add), 10) == 10

    async def test_empty_without_initial(self, make: Source, wrap: Wrap) -> None:
        """reduce(fn) of an empty stream raises EmptyStreamError."""
        with pytest.raises(EmptyStreamError):
            await make([]).reduce(wrap(operator.add))

    async def test_none_initial_is_a_value(self, make: Source, wrap: Wrap) -> None:
        """An initial of None is used, not taken as missing."""
        assert await make([1, 2]).reduce(wrap(lambda acc, x: (acc, x)), None) == ((None, 1), 2)
        assert await make([]).reduce(wrap(operator.add), None) is None

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items are folded like any other, also as the first item."""
        assert await make([None, None]).reduce(wrap(lambda acc, x: (acc, x))) == (None, None)

    async def test_not_callable(self) -> None:
        """reduce(42) raises TypeError."""
        with pytest.raises(TypeError):
            await sw.stream([1]).reduce(42, 0)  # type: ignore[call-overload]


class TestCount:
    async def test_number_of_items(self, make: Source) -> None:
        """count() is the number of items."""
        assert await make(range(37)).count() == 37

    async def test_large_source(self, make: Source) -> None:
        """count() of a source larger than the engine's batches counts every item."""
        assert await make(range(3000)).count() == 3000

    async def test_empty(self, make: Source) -> None:
        """count() of an empty stream is 0."""
        assert await make([]).count() == 0

    async def test_none_items(self, make: Source) -> None:
        """None items are counted."""
        assert await make([None, None, 1]).count() == 3

    async def test_after_operators(self, make: Source) -> None:
        """count() counts what comes out of the operators."""
        s = make(range(20)).filter(lambda x: x % 2).flat_map(lambda x: [x, x]).take(7)
        assert await s.count() == 7


class TestForeach:
    async def test_calls_fn_for_each_item_in_order(self, make: Source, wrap: Wrap) -> None:
        """foreach(fn) calls fn once per item, in order, and returns None."""
        seen: list[int] = []
        result = await make(range(10)).foreach(wrap(seen.append))
        assert result is None
        assert seen == list(range(10))

    async def test_empty(self, make: Source, wrap: Wrap) -> None:
        """foreach over an empty stream never calls fn."""
        seen: list[int] = []
        await make([]).foreach(wrap(seen.append))
        assert seen == []

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items are passed to fn."""
        seen: list[object] = []
        await make([None, 1, None]).foreach(wrap(seen.append))
        assert seen == [None, 1, None]

    async def test_fn_error_stops(self, make: Source, wrap: Wrap) -> None:
        """An error from fn is raised as the same object, and fn sees no later item."""
        error = Boom("fn")
        seen: list[int] = []
        with pytest.raises(Boom) as info:
            await make(range(10)).foreach(wrap(failing_at(3, seen.append, error)))
        assert info.value is error
        assert seen == [0, 1, 2]

    async def test_source_error_after_items(self, make: Source, wrap: Wrap) -> None:
        """fn sees every item before a source error, then the same exception is raised."""
        error = Boom("source")
        seen: list[int] = []
        with pytest.raises(Boom) as info:
            await make([1, 2, 3], error=error).foreach(wrap(seen.append))
        assert info.value is error
        assert seen == [1, 2, 3]

    async def test_not_callable(self) -> None:
        """foreach(42) raises TypeError."""
        with pytest.raises(TypeError):
            await sw.stream([1]).foreach(42)  # type: ignore[arg-type]

    async def test_concurrency_below_one(self) -> None:
        """foreach(fn, concurrency=0) raises ValueError."""
        with pytest.raises(ValueError, match="concurrency"):
            await sw.stream([1]).foreach(print, concurrency=0)


class TestTerminalOwnership:
    @pytest.mark.parametrize("terminal", ["to_list", "first", "last", "count"])
    async def test_stream_used_up(self, terminal: str) -> None:
        """After a terminal operation the stream cannot be used again (RuntimeError subclass)."""
        s = sw.stream([1, 2])
        await getattr(s, terminal)()
        with pytest.raises(StreamConsumedError) as info:
            await s.to_list()
        assert isinstance(info.value, RuntimeError)

    async def test_terminal_on_a_moved_stream(self) -> None:
        """A terminal operation on a stream handed to an operator raises StreamConsumedError."""
        s = sw.stream([1, 2])
        s.map(str)
        with pytest.raises(StreamConsumedError):
            await s.first()
