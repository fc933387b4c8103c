"""Streams from several streams: sw.zip, sw.concat and Stream.chain.

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
from sluiceway.errors import StreamConsumedError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .conftest import Probe, Source

pytestmark = pytest.mark.anyio


async def agen(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        await anyio.lowlevel.checkpoint()
        yield item


class TestZip:
    async def test_tuples_of_items(self, make: Source) -> None:
        """zip gives one tuple per position, an item from each source."""
        result = await sw.zip(make([1, 2, 3]), make("abc")).to_list()
        assert result == [(1, "a"), (2, "b"), (3, "c")]

    @pytest.mark.parametrize("lengths", [(2, 5), (5, 2), (3, 3), (4, 1, 6)])
    async def test_stops_at_the_shortest(self, make: Source, lengths: tuple[int, ...]) -> None:
        """zip ends when its shortest source ends, whatever its position."""
        sources = [make(range(n)) for n in lengths]
        result = await sw.zip(*sources).to_list()
        assert result == list(zip(*(range(n) for n in lengths), strict=False))

    async def test_mixed_source_kinds(self) -> None:
        """zip accepts lists, async iterables, from_batches and Streams together."""
        result = await sw.zip(
            [1, 2, 3],
            agen(["a", "b", "c"]),
            sw.from_batches([[True], [False, None]]),
            sw.stream(range(10)).map(str),
        ).to_list()
        assert result == [(1, "a", True, "0"), (2, "b", False, "1"), (3, "c", None, "2")]

    async def test_one_source(self, make: Source) -> None:
        """zip of one source gives 1-tuples."""
        assert await sw.zip(make([1, 2])).to_list() == [(1,), (2,)]

    async def test_no_sources(self) -> None:
        """zip() of no sources is empty, like the builtin."""
        assert await sw.zip().to_list() == []

    async def test_an_empty_source(self, make: Source) -> None:
        """zip with an empty source is empty."""
        assert await sw.zip(make([1, 2]), make([])).to_list() == []
        assert await sw.zip(make([]), make([1, 2])).to_list() == []

    async def test_none_items(self, make: Source) -> None:
        """None items are zipped like any other."""
        assert await sw.zip(make([None, 1]), make([2, None])).to_list() == [(None, 2), (1, None)]

    async def test_async_for_consumer(self, make: Source) -> None:
        """An async for over zip sees every tuple."""
        s = sw.zip(make("ab"), make("xyz"))
        async with s:
            got = [t async for t in s]
        assert got == [("a", "x"), ("b", "y")]

    async def test_closes_every_source(self, probe: type[Probe]) -> None:
        """When zip ends, every source, the longer ones too, is closed once."""
        short, long = probe([1, 2]), probe(range(10))
        assert await sw.zip(short, long).to_list() == [(1, 0), (2, 1)]
        assert short.closes == 1
        assert long.closes == 1

    async def test_later_sources_not_pulled_past_the_end(self, probe: type[Probe]) -> None:
        """Like the builtin zip, once an earlier source ends no later source is pulled."""
        short, long = probe([1, 2]), probe(range(10))
        assert await sw.zip(short, long).to_list() == [(1, 0), (2, 1)]
        assert long.pulls == 2

    async def test_take_pulls_as_needed(self, probe: type[Probe]) -> None:
        """zip(...).take(2) pulls two items from each async source."""
        a, b = probe(range(10)), probe(range(10))
        assert await sw.zip(a, b).take(2).to_list() == [(0, 0), (1, 1)]
        assert (a.pulls, b.pulls) == (2, 2)
        assert (a.closes, b.closes) == (1, 1)

    @pytest.mark.parametrize("failing", [0, 1])
    async def test_source_error_after_items(self, make: Source, failing: int) -> None:
        """Tuples before a source error are delivered, then the same exception object."""
        error = Boom("source")
        sources = [make([1, 2, 3]), make("abc")]
        sources[failing] = make([7, 8], error=error)
        got, raised = await items_then_error(sw.zip(*sources))
        assert len(got) == 2
        assert [t[failing] for t in got] == [7, 8]
        assert raised is error

    async def test_operators_after_zip(self, make: Source) -> None:
        """zip's tuples flow into further operators."""
        s = sw.zip(make(range(5)), make(range(10, 15))).map(sum).filter(lambda x: x > 12)
        assert await s.to_list() == [14, 16, 18]

    async def test_takes_streams_over(self) -> None:
        """A Stream passed to zip cannot be used again."""
        s = sw.stream([1, 2])
        zipped = sw.zip(s, [3, 4])
        with pytest.raises(StreamConsumedError):
            await s.to_list()
        assert await zipped.to_list() == [(1, 3), (2, 4)]

    def test_not_iterable(self) -> None:
        """zip with a non-iterable argument raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.zip([1], 42)  # type: ignore[call-overload]


class TestConcat:
    async def test_one_after_another(self, make: Source) -> None:
        """concat gives all items of each source in turn."""
        result = await sw.concat(make([1, 2]), make([3]), make([4, 5])).to_list()
        assert result == [1, 2, 3, 4, 5]

    async def test_mixed_source_kinds(self) -> None:
        """concat accepts lists, async iterables, from_batches and Streams together."""
        result = await sw.concat(
            [1, 2],
            agen([3]),
            sw.from_batches([[4], [], [5]]),
            sw.stream(range(6, 8)).map(str),
        ).to_list()
        assert result == [1, 2, 3, 4, 5, "6", "7"]

    async def test_empty_sources(self, make: Source) -> None:
        """Empty sources contribute nothing, at any position."""
        result = await sw.concat(make([]), make([1]), make([]), make([2]), make([])).to_list()
        assert result == [1, 2]

    async def test_no_sources(self) -> None:
        """concat() of no sources is empty."""
        assert await sw.concat().to_list() == []

    async def test_one_source(self, make: Source) -> None:
        """concat of one source gives its items."""
        assert await sw.concat(make([1, 2])).to_list() == [1, 2]

    async def test_none_items(self, make: Source) -> None:
        """None items pass through."""
        assert await sw.concat(make([None]), make([None, 1])).to_list() == [None, None, 1]

    async def test_async_for_consumer(self, make: Source) -> None:
        """An async for over concat sees every item."""
        s = sw.concat(make("ab"), make("c"))
        async with s:
            got = [x async for x in s]
        assert got == ["a", "b", "c"]

    async def test_each_source_closed_when_done(self, probe: type[Probe]) -> None:
        """A source is closed once done, before the next one is pulled."""
        a, b = probe([1]), probe([2])
        s = sw.concat(a, b)
        async with s:
            assert await anext(s) == 1
            assert await anext(s) == 2
            assert a.closes == 1
            assert b.closes == 0
        assert (a.closes, b.closes) == (1, 1)

    async def test_break_closes_every_source(self, probe: type[Probe]) -> None:
        """Breaking out early closes every source once, the ones not started too."""
        a, b, c = probe([1, 2]), probe([3]), probe([4])
        s = sw.concat(a, b, c)
        async with s:
            async for _ in s:
                break
        assert (a.closes, b.closes, c.closes) == (1, 1, 1)
        assert (b.pulls, c.pulls) == (0, 0)

    async def test_take_pulls_as_needed(self, probe: type[Probe]) -> None:
        """concat(...).take(3) pulls only the items it needs."""
        a, b = probe([1, 2]), probe(range(10))
        assert await sw.concat(a, b).take(3).to_list() == [1, 2, 0]
        assert b.pulls == 1
        assert (a.closes, b.closes) == (1, 1)

    @pytest.mark.parametrize("failing", [0, 1])
    async def test_source_error_after_items(self, make: Source, failing: int) -> None:
        """Items before a source error are delivered, then the same exception object."""
        error = Boom("source")
        sources = [make([1, 2]), make([3, 4])]
        sources[failing] = make([7], error=error)
        got, raised = await items_then_error(sw.concat(*sources))
        assert got == ([1, 2, 7] if failing else [7])
        assert raised is error

    async def test_takes_streams_over(self) -> None:
        """A Stream passed to concat cannot be used again."""
        s = sw.stream([1])
        joined = sw.concat(s, [2])
        with pytest.raises(StreamConsumedError):
            await s.to_list()
        assert await joined.to_list() == [1, 2]

    def test_not_iterable(self) -> None:
        """concat with a non-iterable argument raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.concat([1], 42)  # type: ignore[arg-type]


class TestChain:
    async def test_items_then_others(self, make: Source) -> None:
        """s.chain(a, b) gives s's items, then a's, then b's."""
        result = await make([1, 2]).chain(make([3]), make([4, 5])).to_list()
        assert result == [1, 2, 3, 4, 5]

    async def test_no_others(self, make: Source) -> None:
        """s.chain() gives s's items."""
        assert await make([1, 2]).chain().to_list() == [1, 2]

    async def test_raw_iterables(self, make: Source) -> None:
        """chain accepts plain lists and async iterables."""
        assert await make([1]).chain([2], agen([3])).to_list() == [1, 2, 3]

    async def test_operators_before_and_after(self, make: Source) -> None:
        """Operators before chain apply to s only; operators after apply to everything."""
        s = make([1, 2]).map(lambda x: x * 10).chain(make([3])).map(str)
        assert await s.to_list() == ["10", "20", "3"]

    async def test_empty_parts(self, make: Source) -> None:
        """An empty stream chained with empty others is empty."""
        assert await make([]).chain(make([]), []).to_list() == []

    async def test_takes_the_stream_over(self) -> None:
        """The stream chain was called on, and Streams passed to it, cannot be used again."""
        s, other = sw.stream([1]), sw.stream([2])
        chained = s.chain(other)
        with pytest.raises(StreamConsumedError):
            await s.to_list()
        with pytest.raises(StreamConsumedError):
            await other.to_list()
        assert await chained.to_list() == [1, 2]

    def test_not_iterable(self) -> None:
        """chain with a non-iterable argument raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).chain(42)  # type: ignore[arg-type]
