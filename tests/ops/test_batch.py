"""Batches: batch(size), Stream.batches() and sw.from_batches().

What every operator shares (each source closed exactly once on every way out,
errors as the same object, break, cancellation) is tests/ops/test_contract.py;
these are the operators' own results.
"""

from __future__ import annotations

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


def flat(batches: list[list[Any]]) -> list[Any]:
    return [item for batch in batches for item in batch]


class TestBatch:
    @pytest.mark.parametrize(
        ("n", "size", "expected"),
        [
            (6, 2, [[0, 1], [2, 3], [4, 5]]),
            (7, 3, [[0, 1, 2], [3, 4, 5], [6]]),
            (3, 1, [[0], [1], [2]]),
            (3, 5, [[0, 1, 2]]),
            (5, 5, [[0, 1, 2, 3, 4]]),
        ],
    )
    async def test_lists_of_size_then_partial_rest(
        self, make: Source, n: int, size: int, expected: list[list[int]]
    ) -> None:
        """batch(size) gives lists of size items, then the shorter rest."""
        assert await make(range(n)).batch(size).to_list() == expected

    async def test_empty_source(self, make: Source) -> None:
        """batch over an empty source gives no batch at all (never an empty list)."""
        assert await make([]).batch(3).to_list() == []

    async def test_never_an_empty_batch_after_filter(self, make: Source) -> None:
        """A filter that drops every item upstream gives no batch."""
        assert await make(range(10)).filter(lambda x: False).batch(2).to_list() == []

    async def test_batches_are_new_lists(self, make: Source) -> None:
        """Each batch is a list object of its own."""
        batches = await make(range(6)).batch(2).to_list()
        assert all(type(b) is list for b in batches)
        assert len({id(b) for b in batches}) == 3

    async def test_none_items(self, make: Source) -> None:
        """None items are batched like any other."""
        assert await make([None, None, None]).batch(2).to_list() == [[None, None], [None]]

    async def test_async_for_consumer(self, make: Source) -> None:
        """An async for over batch(size) sees every batch."""
        s = make(range(5)).batch(2)
        async with s:
            got = [b async for b in s]
        assert got == [[0, 1], [2, 3], [4]]

    async def test_first_batch_after_size_pulls(self, probe: type[Probe]) -> None:
        """Over an async iterator, the first batch comes after exactly size pulls."""
        source = probe(range(10))
        s = sw.stream(source).batch(3)
        async with s:
            assert await anext(s) == [0, 1, 2]
            assert source.pulls == 3
        assert source.closes == 1

    async def test_partial_batch_before_source_error(self, make: Source) -> None:
        """The partial batch is delivered before the source error, the same object."""
        error = Boom("source")
        got, raised = await items_then_error(make(range(5), error=error).batch(2))
        assert got == [[0, 1], [2, 3], [4]]
        assert raised is error

    async def test_full_batches_before_source_error(self, make: Source) -> None:
        """With no partial batch, the full batches come before the same exception object."""
        error = Boom("source")
        got, raised = await items_then_error(make(range(4), error=error).batch(2))
        assert got == [[0, 1], [2, 3]]
        assert raised is error

    async def test_partial_batch_before_upstream_fn_error(self, make: Source, wrap: Wrap) -> None:
        """The partial batch is delivered before an error from a map upstream of batch."""
        error = Boom("fn")
        s = make(range(10)).map(wrap(failing_at(5, lambda x: x, error))).batch(2)
        got, raised = await items_then_error(s)
        assert got == [[0, 1], [2, 3], [4]]
        assert raised is error

    async def test_downstream_fn_error(self, make: Source, wrap: Wrap) -> None:
        """An error from a map downstream of batch arrives as the same object, batch not resent."""
        error = Boom("fn")
        s = make(range(10)).batch(2).map(wrap(failing_at([2, 3], lambda b: b, error)))
        got, raised = await items_then_error(s)
        assert got == [[0, 1]]
        assert raised is error

    async def test_take_then_batch(self, make: Source) -> None:
        """take(2).batch(3) gives the two taken items as one partial batch."""
        assert await make(range(10)).take(2).batch(3).to_list() == [[0, 1]]

    async def test_take_then_batch_rest(self, make: Source) -> None:
        """take(5).batch(2) gives two full batches and the partial rest."""
        assert await make(range(10)).take(5).batch(2).to_list() == [[0, 1], [2, 3], [4]]

    async def test_take_then_batch_pulls(self, probe: type[Probe]) -> None:
        """take(2).batch(3) over an async iterator pulls exactly 2 items."""
        source = probe(range(10))
        assert await sw.stream(source).take(2).batch(3).to_list() == [[0, 1]]
        assert source.pulls == 2
        assert source.closes == 1

    async def test_batch_then_take(self, make: Source) -> None:
        """batch(2).take(2) gives the first two batches."""
        assert await make(range(10)).batch(2).take(2).to_list() == [[0, 1], [2, 3]]

    async def test_batch_then_take_pulls(self, probe: type[Probe]) -> None:
        """batch(2).take(2) over an async iterator pulls exactly 4 items."""
        source = probe(range(10))
        assert await sw.stream(source).batch(2).take(2).to_list() == [[0, 1], [2, 3]]
        assert source.pulls == 4
        assert source.closes == 1

    async def test_take_while_then_batch(self, make: Source) -> None:
        """A partial batch is delivered when take_while upstream ends the stream."""
        assert await make(range(10)).take_while(lambda x: x < 3).batch(2).to_list() == [
            [0, 1],
            [2],
        ]

    async def test_batch_then_first(self, probe: type[Probe]) -> None:
        """first() of batch(3) is the first batch, after exactly 3 pulls."""
        source = probe(range(10))
        assert await sw.stream(source).batch(3).first() == [0, 1, 2]
        assert source.pulls == 3

    async def test_nested_batches(self, make: Source) -> None:
        """batch(2).batch(2) groups batches into batches."""
        result = await make(range(7)).batch(2).batch(2).to_list()
        assert result == [[[0, 1], [2, 3]], [[4, 5], [6]]]

    async def test_error_between_nested_batches(self, make: Source, wrap: Wrap) -> None:
        """An error between two batch stages flushes only the downstream partial batch."""
        error = Boom("fn")
        s = make(range(10)).batch(2).map(wrap(failing_at([6, 7], lambda b: b, error))).batch(2)
        got, raised = await items_then_error(s)
        assert got == [[[0, 1], [2, 3]], [[4, 5]]]
        assert raised is error

    async def test_inner_error_in_flat_map_upstream(self, make: Source) -> None:
        """The partial batch is delivered before an error from a flat_map inner iterable."""
        error = Boom("inner")

        async def inner(x: int) -> AsyncIterator[int]:
            yield x
            if x == 2:
                raise error

        got, raised = await items_then_error(make([1, 2, 3]).flat_map(inner).batch(5))
        assert got == [[1, 2]]
        assert raised is error

    async def test_across_engine_batches(self, make: Source) -> None:
        """Batches are cut the same way across a long source read in engine batches."""
        result = await make(range(2500)).batch(1000).map(len).to_list()
        assert result == [1000, 1000, 500]

    async def test_nested_batches_with_take(self, make: Source) -> None:
        """take between two batch stages flushes both partial batches."""
        result = await make(range(10)).batch(2).take(3).batch(2).to_list()
        assert result == [[[0, 1], [2, 3]], [[4, 5]]]

    async def test_then_flatten_restores_items(self, make: Source) -> None:
        """batch(n).flatten() gives the original items."""
        assert await make(range(11)).batch(4).flatten().to_list() == list(range(11))

    async def test_then_map(self, make: Source, wrap: Wrap) -> None:
        """Stages after batch see whole lists."""
        assert await make(range(7)).batch(3).map(wrap(sum)).to_list() == [3, 12, 6]

    @pytest.mark.parametrize("size", [0, -1])
    def test_size_below_one(self, size: int) -> None:
        """batch(0) raises ValueError at the call."""
        with pytest.raises(ValueError, match="size"):
            sw.stream([1]).batch(size)

    @pytest.mark.parametrize("size", [1.5, "2", None])
    def test_size_not_an_int(self, size: object) -> None:
        """batch() of a non-int size raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.stream([1]).batch(size)  # type: ignore[arg-type]


class TestBatches:
    async def test_from_batches_gives_the_same_batches(self) -> None:
        """Without stages, batches() of from_batches gives back exactly the non-empty batches."""
        given = [[1, 2], [], [3], [4, 5, 6], []]
        assert await sw.from_batches(given).batches().to_list() == [[1, 2], [3], [4, 5, 6]]

    async def test_from_async_batches_gives_the_same_batches(self) -> None:
        """batches() of from_batches over an async iterable gives back its non-empty batches."""

        async def source() -> AsyncIterator[list[int]]:
            for batch in ([1], [], [2, 3]):
                await anyio.lowlevel.checkpoint()
                yield batch

        assert await sw.from_batches(source()).batches().to_list() == [[1], [2, 3]]

    async def test_sequences_become_lists(self) -> None:
        """Tuple and range batches come back as lists with the same items."""
        result = await sw.from_batches([(1, 2), range(3, 5)]).batches().to_list()
        assert result == [[1, 2], [3, 4]]
        assert all(type(b) is list for b in result)

    async def test_flattened_equals_to_list(self, make: Source) -> None:
        """The batches, flattened, are the items to_list() gives; none is empty."""
        batches = await make(range(20)).batches().to_list()
        assert flat(batches) == list(range(20))
        assert all(batches)

    async def test_with_stages(self, make: Source, wrap: Wrap) -> None:
        """After stages, the batches flattened are the stages' output; none is empty."""
        s = make(range(30)).map(wrap(lambda x: x * 2)).filter(wrap(lambda x: x % 3 == 0))
        batches = await s.batches().to_list()
        assert flat(batches) == [x * 2 for x in range(30) if x * 2 % 3 == 0]
        assert all(batches)

    async def test_filter_emptying_a_batch(self) -> None:
        """A batch whose every item was filtered out is not yielded."""
        s = sw.from_batches([[1, 3], [2], [5, 7]]).filter(lambda x: x % 2 == 0)
        assert await s.batches().to_list() == [[2]]

    async def test_async_source_of_items(self) -> None:
        """An async source of single items gives one list per item."""

        async def source() -> AsyncIterator[int]:
            for i in range(3):
                await anyio.lowlevel.checkpoint()
                yield i

        assert await sw.stream(source()).batches().to_list() == [[0], [1], [2]]

    async def test_empty_source(self, make: Source) -> None:
        """batches() of an empty source gives nothing."""
        assert await make([]).batches().to_list() == []

    async def test_after_take(self, make: Source) -> None:
        """After take(n), the batches hold exactly the first n items."""
        batches = await make(range(10)).take(4).batches().to_list()
        assert flat(batches) == [0, 1, 2, 3]
        assert all(batches)

    async def test_after_batch(self, make: Source) -> None:
        """batches() after batch(2) carries the lists batch(2) made."""
        batches = await make(range(5)).batch(2).batches().to_list()
        assert flat(batches) == [[0, 1], [2, 3], [4]]

    async def test_then_operators(self, make: Source) -> None:
        """Operators after batches() see whole lists."""
        assert await make(range(7)).batches().map(len).reduce(lambda a, b: a + b) == 7

    async def test_takes_the_stream_over(self) -> None:
        """The stream batches() was called on cannot be used again."""
        s = sw.stream([1])
        batches = s.batches()
        with pytest.raises(StreamConsumedError):
            await s.to_list()
        assert await batches.to_list() == [[1]]

    async def test_take_closes_source(self, probe: type[Probe]) -> None:
        """batches().take(1) closes the source once."""
        source = probe(range(5))
        assert await sw.stream(source).batches().take(1).to_list() == [[0]]
        assert source.pulls == 1
        assert source.closes == 1


class TestFromBatches:
    async def test_sync_list_of_lists(self) -> None:
        """from_batches over a list of lists gives their items in order."""
        assert await sw.from_batches([[1, 2], [3], [4, 5]]).to_list() == [1, 2, 3, 4, 5]

    async def test_async_iterable_of_lists(self) -> None:
        """from_batches over an async generator of lists gives their items in order."""

        async def source() -> AsyncIterator[list[int]]:
            for batch in ([1, 2], [3]):
                await anyio.lowlevel.checkpoint()
                yield batch

        assert await sw.from_batches(source()).to_list() == [1, 2, 3]

    async def test_sync_generator_of_batches(self) -> None:
        """from_batches over a sync generator of batches gives their items in order."""

        def source() -> Iterator[list[int]]:
            yield [1]
            yield [2, 3]

        assert await sw.from_batches(source()).to_list() == [1, 2, 3]

    async def test_any_sequences(self) -> None:
        """Tuples and ranges work as batches."""
        assert await sw.from_batches([(1, 2), range(3, 5), [5]]).to_list() == [1, 2, 3, 4, 5]

    async def test_empty_batches_are_skipped(self) -> None:
        """Empty batches contribute nothing, anywhere in the source."""
        s = sw.from_batches([[], [1], [], [], [2], []])
        assert await s.to_list() == [1, 2]

    @pytest.mark.parametrize("given", [[], [[]], [[], []]])
    async def test_no_items(self, given: list[list[int]]) -> None:
        """No batches, or only empty ones, give an empty stream."""
        assert await sw.from_batches(given).to_list() == []
        assert await sw.from_batches(given).count() == 0

    async def test_none_items(self) -> None:
        """None items inside batches pass through."""
        assert await sw.from_batches([[None], [None, 1]]).to_list() == [None, None, 1]

    async def test_async_for_consumer(self) -> None:
        """An async for over from_batches sees each item, not each batch."""
        s = sw.from_batches([[1, 2], [3]])
        async with s:
            assert [x async for x in s] == [1, 2, 3]

    async def test_stages_run_over_items(self, wrap: Wrap) -> None:
        """Operators on from_batches see single items."""
        s = sw.from_batches([[1, 2], [3, 4]]).map(wrap(lambda x: x * 10))
        assert await s.to_list() == [10, 20, 30, 40]

    async def test_pulls_batches_as_needed(self, probe: type[Probe]) -> None:
        """take(2) over an async source of batches pulls only the batch it needs."""
        source = probe([[1, 2], [3, 4], [5]])
        assert await sw.from_batches(source).take(2).to_list() == [1, 2]
        assert source.pulls == 1
        assert source.closes == 1

    async def test_first_pulls_one_batch(self, probe: type[Probe]) -> None:
        """first() over an async source of batches pulls one batch and closes the source."""
        source = probe([[1, 2], [3, 4]])
        assert await sw.from_batches(source).first() == 1
        assert source.pulls == 1
        assert source.closes == 1

    async def test_generator_closed_when_stopped_early(self) -> None:
        """A sync generator of batches is closed when the stream stops early."""
        finalized: list[bool] = []

        def source() -> Iterator[list[int]]:
            try:
                yield [1, 2]
                yield [3]
            finally:
                finalized.append(True)

        assert await sw.from_batches(source()).take(1).to_list() == [1]
        assert finalized == [True]

    async def test_sync_source_error_after_items(self) -> None:
        """Items before a sync batch source's error are delivered, then the same object."""
        error = Boom("source")

        def source() -> Iterator[list[int]]:
            yield [1, 2]
            yield [3]
            raise error

        got, raised = await items_then_error(sw.from_batches(source()))
        assert got == [1, 2, 3]
        assert raised is error

    async def test_async_source_error_after_items(self) -> None:
        """Items before an async batch source's error are delivered, then the same object."""
        error = Boom("source")

        async def source() -> AsyncIterator[list[int]]:
            yield [1, 2]
            await anyio.lowlevel.checkpoint()
            yield [3]
            raise error

        got, raised = await items_then_error(sw.from_batches(source()))
        assert got == [1, 2, 3]
        assert raised is error

    def test_not_iterable(self) -> None:
        """from_batches(42) raises TypeError at the call."""
        with pytest.raises(TypeError):
            sw.from_batches(42)  # type: ignore[arg-type]
