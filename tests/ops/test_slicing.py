"""Where a stream starts and stops: take, skip, take_while, drop_while.

What every operator shares (each source closed exactly once on every way out,
errors as the same object, break, cancellation) is tests/ops/test_contract.py;
these are the operators' own results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest
from ops_support import Boom, items_then_error

import sluiceway as sw

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from .conftest import Probe, Source

    Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]

pytestmark = pytest.mark.anyio


async def forever() -> AsyncIterator[int]:
    """0, 1, 2, ... without end."""
    i = 0
    while True:
        await anyio.lowlevel.checkpoint()
        yield i
        i += 1


class TestTake:
    @pytest.mark.parametrize("n", [1, 3, 9])
    async def test_first_n_items(self, make: Source, n: int) -> None:
        """take(n) gives the first n items."""
        assert await make(range(10)).take(n).to_list() == list(range(n))

    async def test_n_beyond_the_end(self, make: Source) -> None:
        """take(n) with n larger than the stream gives every item."""
        assert await make(range(3)).take(10).to_list() == [0, 1, 2]

    async def test_zero(self, make: Source) -> None:
        """take(0) gives nothing."""
        assert await make(range(3)).take(0).to_list() == []

    async def test_empty_source(self, make: Source) -> None:
        """take over an empty source gives nothing."""
        assert await make([]).take(3).to_list() == []

    async def test_none_items(self, make: Source) -> None:
        """None items count and pass like any other."""
        assert await make([None, None, None]).take(2).to_list() == [None, None]

    async def test_pulls_exactly_n(self, probe: type[Probe]) -> None:
        """take(3) over an async iterator pulls exactly 3 items and closes it."""
        source = probe(range(10))
        assert await sw.stream(source).take(3).to_list() == [0, 1, 2]
        assert source.pulls == 3
        assert source.closes == 1

    async def test_pulls_exactly_n_with_async_for(self, probe: type[Probe]) -> None:
        """An async for over take(3) pulls exactly 3 items from an async iterator."""
        source = probe(range(10))
        s = sw.stream(source).take(3)
        async with s:
            got = [item async for item in s]
        assert got == [0, 1, 2]
        assert source.pulls == 3
        assert source.closes == 1

    async def test_zero_pulls_nothing(self, probe: type[Probe]) -> None:
        """take(0) never pulls from the source, and still closes it."""
        source = probe(range(10))
        assert await sw.stream(source).take(0).to_list() == []
        assert source.pulls == 0
        assert source.closes == 1

    @pytest.mark.parametrize("make", ["iter", "agen", "abatches"], indirect=True)
    async def test_closes_generator_source(self, make: Source) -> None:
        """take(n) stopping early closes a generator source before to_list() returns."""
        assert await make(range(10)).take(2).to_list() == [0, 1]
        assert make.finalized == 1

    async def test_infinite_source(self) -> None:
        """take(n) ends a stream over an endless source."""
        assert await sw.stream(forever()).take(4).to_list() == [0, 1, 2, 3]

    async def test_error_after_n_is_not_reached(self, make: Source) -> None:
        """A source error after the n-th item is never raised."""
        assert await make([1, 2], error=Boom("late")).take(2).to_list() == [1, 2]

    async def test_after_map_calls_fn_n_times(self, probe: type[Probe]) -> None:
        """map before take(2) runs only for the two items taken."""
        calls: list[int] = []
        source = probe(range(10))
        result = await sw.stream(source).map(lambda x: calls.append(x) or x).take(2).to_list()
        assert result == [0, 1]
        assert calls == [0, 1]

    async def test_consecutive_takes(self, make: Source) -> None:
        """take(5).take(2) gives 2 items and take(2).take(5) too."""
        assert await make(range(10)).take(5).take(2).to_list() == [0, 1]
        assert await make(range(10)).take(2).take(5).to_list() == [0, 1]

    def test_negative(self) -> None:
        """take(-1) raises ValueError at the call."""
        with pytest.raises(ValueError, match="-1"):
            sw.stream([1]).take(-1)

    @pytest.mark.parametrize("n", [1.5, "3", None, True])
    def test_not_an_int(self, n: object) -> None:
        """take() of a non-int raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).take(n)  # type: ignore[arg-type]


class TestSkip:
    @pytest.mark.parametrize("n", [1, 3, 9])
    async def test_drops_first_n(self, make: Source, n: int) -> None:
        """skip(n) gives everything after the first n items."""
        assert await make(range(10)).skip(n).to_list() == list(range(n, 10))

    async def test_zero(self, make: Source) -> None:
        """skip(0) gives every item."""
        assert await make(range(3)).skip(0).to_list() == [0, 1, 2]

    async def test_n_beyond_the_end(self, make: Source) -> None:
        """skip(n) with n at least the length gives nothing."""
        assert await make(range(3)).skip(3).to_list() == []
        assert await make(range(3)).skip(10).to_list() == []

    async def test_empty_source(self, make: Source) -> None:
        """skip over an empty source gives nothing."""
        assert await make([]).skip(2).to_list() == []

    async def test_none_items(self, make: Source) -> None:
        """None items count and pass like any other."""
        assert await make([None, 1, None]).skip(1).to_list() == [1, None]

    async def test_source_error_while_skipping(self, make: Source) -> None:
        """A source error while still skipping is raised as the same object."""
        error = Boom("source")
        got, raised = await items_then_error(make([1], error=error).skip(5))
        assert got == []
        assert raised is error

    async def test_break_closes_source(self, probe: type[Probe]) -> None:
        """Breaking out of async for inside async with closes the source once."""
        source = probe(range(10))
        s = sw.stream(source).skip(2)
        async with s:
            async for _ in s:
                break
        assert source.pulls == 3
        assert source.closes == 1

    def test_negative(self) -> None:
        """skip(-1) raises ValueError at the call."""
        with pytest.raises(ValueError, match="-1"):
            sw.stream([1]).skip(-1)

    @pytest.mark.parametrize("n", [1.5, "3", None, True])
    def test_not_an_int(self, n: object) -> None:
        """skip() of a non-int, such as skip(1.5), raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).skip(n)  # type: ignore[arg-type]


class TestTakeWhile:
    async def test_stops_at_first_false(self, make: Source, wrap: Wrap) -> None:
        """take_while gives items until pred is first false; that item and all later are left."""
        result = await make([1, 2, 3, 10, 1, 2]).take_while(wrap(lambda x: x < 5)).to_list()
        assert result == [1, 2, 3]

    async def test_all_true(self, make: Source, wrap: Wrap) -> None:
        """A pred true for every item gives every item."""
        assert await make(range(4)).take_while(wrap(lambda x: True)).to_list() == [0, 1, 2, 3]

    async def test_first_false(self, make: Source, wrap: Wrap) -> None:
        """A pred false for the first item gives nothing."""
        assert await make(range(4)).take_while(wrap(lambda x: x > 0)).to_list() == []

    async def test_uses_truthiness(self, make: Source, wrap: Wrap) -> None:
        """pred's result is judged by truthiness."""
        assert await make([2, 1, 0, 3]).take_while(wrap(lambda x: x)).to_list() == [2, 1]

    async def test_empty_source(self, make: Source, wrap: Wrap) -> None:
        """take_while over an empty source gives nothing."""
        assert await make([]).take_while(wrap(bool)).to_list() == []

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items are judged and passed like any other."""
        s = make([None, None, 1, None]).take_while(wrap(lambda x: x is None))
        assert await s.to_list() == [None, None]

    async def test_pulls_up_to_the_first_false(self, probe: type[Probe], wrap: Wrap) -> None:
        """Over an async iterator, take_while pulls the items it gives plus the failing one."""
        source = probe(range(10))
        assert await sw.stream(source).take_while(wrap(lambda x: x < 3)).to_list() == [0, 1, 2]
        assert source.pulls == 4
        assert source.closes == 1

    async def test_pred_not_called_after_false(self, make: Source, wrap: Wrap) -> None:
        """pred is not called again once it was false."""
        calls: list[int] = []

        def pred(x: int) -> bool:
            calls.append(x)
            return x < 2

        assert await make(range(6)).take_while(wrap(pred)).to_list() == [0, 1]
        assert calls == [0, 1, 2]

    async def test_infinite_source(self, wrap: Wrap) -> None:
        """take_while ends a stream over an endless source."""
        assert await sw.stream(forever()).take_while(wrap(lambda x: x < 3)).to_list() == [0, 1, 2]

    async def test_error_after_false_is_not_reached(self, make: Source, wrap: Wrap) -> None:
        """A source error after the failing item is never raised."""
        s = make([1, 2, 9], error=Boom("late")).take_while(wrap(lambda x: x < 5))
        assert await s.to_list() == [1, 2]

    def test_not_callable(self) -> None:
        """take_while(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).take_while(42)  # type: ignore[arg-type]


class TestDropWhile:
    async def test_drops_prefix_only(self, make: Source, wrap: Wrap) -> None:
        """drop_while drops items while pred holds, then keeps every later item."""
        result = await make([1, 2, 3, 10, 1, 2]).drop_while(wrap(lambda x: x < 5)).to_list()
        assert result == [10, 1, 2]

    async def test_all_true(self, make: Source, wrap: Wrap) -> None:
        """A pred true for every item gives nothing."""
        assert await make(range(4)).drop_while(wrap(lambda x: True)).to_list() == []

    async def test_first_false(self, make: Source, wrap: Wrap) -> None:
        """A pred false for the first item gives every item."""
        assert await make(range(4)).drop_while(wrap(lambda x: x > 0)).to_list() == [0, 1, 2, 3]

    async def test_uses_truthiness(self, make: Source, wrap: Wrap) -> None:
        """pred's result is judged by truthiness."""
        assert await make([2, 1, 0, 3]).drop_while(wrap(lambda x: x)).to_list() == [0, 3]

    async def test_empty_source(self, make: Source, wrap: Wrap) -> None:
        """drop_while over an empty source gives nothing."""
        assert await make([]).drop_while(wrap(bool)).to_list() == []

    async def test_none_items(self, make: Source, wrap: Wrap) -> None:
        """None items are judged and passed like any other."""
        s = make([None, 1, None]).drop_while(wrap(lambda x: x is None))
        assert await s.to_list() == [1, None]

    async def test_pred_not_called_after_false(self, make: Source, wrap: Wrap) -> None:
        """pred is not called again once it was false."""
        calls: list[int] = []

        def pred(x: int) -> bool:
            calls.append(x)
            return x < 2

        assert await make(range(5)).drop_while(wrap(pred)).to_list() == [2, 3, 4]
        assert calls == [0, 1, 2]

    async def test_break_closes_source(self, probe: type[Probe], wrap: Wrap) -> None:
        """Breaking out of async for inside async with closes the source once."""
        source = probe(range(10))
        s = sw.stream(source).drop_while(wrap(lambda x: x < 3))
        async with s:
            async for _ in s:
                break
        assert source.pulls == 4
        assert source.closes == 1

    def test_not_callable(self) -> None:
        """drop_while(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).drop_while(42)  # type: ignore[arg-type]


class TestSlicingCombinations:
    async def test_across_engine_batches(self, make: Source) -> None:
        """skip and take cut a long source read in engine batches at the right items."""
        assert await make(range(5000)).skip(1000).take(2100).to_list() == list(range(1000, 3100))

    async def test_take_while_across_engine_batches(self, make: Source) -> None:
        """take_while and drop_while stop at the right item of a long source."""
        assert await make(range(3000)).take_while(lambda x: x < 2049).count() == 2049
        assert await make(range(3000)).drop_while(lambda x: x < 2049).first() == 2049

    async def test_skip_then_take(self, make: Source) -> None:
        """skip(2).take(3) is islice(2, 5)."""
        assert await make(range(10)).skip(2).take(3).to_list() == [2, 3, 4]

    async def test_take_then_skip(self, make: Source) -> None:
        """take(5).skip(3) gives items 3 and 4."""
        assert await make(range(10)).take(5).skip(3).to_list() == [3, 4]

    async def test_take_while_then_take(self, probe: type[Probe]) -> None:
        """take(2) after take_while stops pulling after 2 items."""
        source = probe(range(10))
        assert await sw.stream(source).take_while(lambda x: x < 5).take(2).to_list() == [0, 1]
        assert source.pulls == 2

    async def test_drop_while_then_take(self, make: Source) -> None:
        """drop_while then take gives the first items after the dropped prefix."""
        assert await make(range(10)).drop_while(lambda x: x < 4).take(2).to_list() == [4, 5]
