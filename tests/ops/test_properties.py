"""Laws: each operator equals its itertools/builtins counterpart, for any data and any chunking.

Every source is drawn as a list of batches with arbitrary boundaries (empty
batches included) and fed to the engine in one of several ways: a plain list,
a sync iterator, an async generator of single items, ``from_batches`` over the
list of batches and ``from_batches`` over an async generator of batches.
"""

from __future__ import annotations

import functools
import itertools
import operator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sluiceway as sw
from sluiceway.errors import EmptyStreamError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable

pytestmark = pytest.mark.anyio

# The laws are about items, not event loops: each runs on one loop, asyncio and trio in
# turn, so both loops see laws of every family (the lifecycle on every loop is
# tests/ops/test_contract.py). The law over chains of every operator runs on both.
on_asyncio = pytest.mark.parametrize("anyio_backend", ["asyncio"])
on_trio = pytest.mark.parametrize("anyio_backend", ["trio"])
on_both = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])

# anyio_backend is a plain string; reusing it across examples is harmless.
# 30 examples for a law over one operator, whose space is small (one of a few functions,
# a few chunkings); the law over chains, where interactions hide, draws 150 on each loop.
# Each run draws new ones, and a failure found is replayed first from .hypothesis/.
LAWS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# -- sources -------------------------------------------------------------------

KINDS = ("list", "iter", "agen", "batches", "abatches")


async def _agen(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        await anyio.lowlevel.checkpoint()
        yield item


@dataclass(frozen=True)
class Source:
    """Items cut into ``batches``, made into a Stream in the way ``kind`` says."""

    kind: str
    batches: tuple[tuple[int, ...], ...]

    @property
    def items(self) -> list[int]:
        return [x for batch in self.batches for x in batch]

    def stream(self) -> sw.Stream[int]:
        """A fresh Stream over the items (each call makes a new source)."""
        if self.kind == "list":
            return sw.stream(self.items)
        if self.kind == "iter":
            return sw.stream(iter(self.items))
        if self.kind == "agen":
            return sw.stream(_agen(self.items))
        batches = [list(b) for b in self.batches]
        if self.kind == "batches":
            return sw.from_batches(batches)
        return sw.from_batches(_agen(batches))


ints = st.integers(min_value=-20, max_value=20)
chunkings = st.lists(st.lists(ints, max_size=6).map(tuple), max_size=8).map(tuple)


@st.composite
def sources(draw: st.DrawFn, kinds: tuple[str, ...] = KINDS) -> Source:
    return Source(draw(st.sampled_from(kinds)), draw(chunkings))


# -- the user's functions, sync or async ------------------------------------------


def double(x: int) -> int:
    return x * 2


def inc(x: int) -> int:
    return x + 1


def square_mod_7(x: int) -> int:
    return x * x % 7


def is_even(x: int) -> bool:
    return x % 2 == 0


def is_positive(x: int) -> bool:
    return x > 0


def is_small(x: int) -> bool:
    return abs(x) < 8


def mod_3(x: int) -> int:
    """Truthy unless divisible by 3: predicates are judged by truthiness."""
    return x % 3


def mod_5(x: int) -> int:
    return x % 5


def repeat_mod_3(x: int) -> list[int]:
    return [x] * (abs(x) % 3)


def plus_minus(x: int) -> list[int]:
    return [x, -x]


def nothing(x: int) -> list[int]:
    return []


MAP_FNS = (double, inc, operator.neg, square_mod_7)
PREDS = (is_even, is_positive, is_small, mod_3)
FOLDS = (operator.add, operator.sub, max, min)
KEYS = (None, abs, mod_5)
FLAT_FNS = (repeat_mod_3, plus_minus, nothing)


async def _awaited(fn: Callable[..., Any], *args: Any) -> Any:
    await anyio.lowlevel.checkpoint()
    return fn(*args)


def _async_inner(fn: Callable[[int], list[int]], x: int) -> AsyncIterator[int]:
    return _agen(fn(x))


@dataclass(frozen=True)
class Fn:
    """A user function, handed to the stream as sync or async; ``sync`` computes the expected."""

    sync: Callable[..., Any]
    is_async: bool = False
    #: For flat_map: the inner values are async generators instead of lists.
    async_inner: bool = field(default=False, compare=False)

    def for_stream(self) -> Callable[..., Any]:
        fn = self.sync
        if self.async_inner:
            fn = functools.partial(_async_inner, fn)
        if self.is_async:
            return functools.partial(_awaited, fn)
        return fn


def fns(pool: tuple[Callable[..., Any], ...]) -> st.SearchStrategy[Fn]:
    return st.builds(Fn, st.sampled_from(pool), st.booleans())


flat_fns = st.builds(Fn, st.sampled_from(FLAT_FNS), st.booleans(), st.booleans())
keys = st.one_of(st.none(), fns(KEYS[1:]))
counts = st.integers(min_value=0, max_value=12)
sizes = st.integers(min_value=1, max_value=7)


# -- the expected results, with itertools and builtins ------------------------------


def chunk(xs: Iterable[Any], size: int) -> list[list[Any]]:
    """itertools.batched (Python 3.12+), as lists."""
    it = iter(xs)
    return list(iter(lambda: list(itertools.islice(it, size)), []))


def distinct_by(xs: Iterable[Any], key: Callable[[Any], Any] | None) -> list[Any]:
    if key is None:
        return list(dict.fromkeys(xs))
    seen: dict[Any, Any] = {}
    for x in xs:
        seen.setdefault(key(x), x)
    return list(seen.values())


def enumerated_to_int(pair: tuple[int, int]) -> int:
    """Folds an (index, item) pair back into an int, so a chain can go on."""
    return pair[0] * 100 + pair[1]


def reverse_list(batch: list[int]) -> list[int]:
    """Reverses a batch, so a flattened result still shows where the batches were cut."""
    return batch[::-1]


@dataclass(frozen=True)
class Op:
    """One operator, applied to a Stream or, for the expected result, to a list."""

    name: str
    fn: Fn | None = None
    n: int = 0

    def on_stream(self, s: sw.Stream[Any]) -> sw.Stream[Any]:
        fn = self.fn.for_stream() if self.fn is not None else None
        match self.name:
            case "map":
                return s.map(fn)  # type: ignore[arg-type]
            case "filter":
                return s.filter(fn)  # type: ignore[arg-type]
            case "take":
                return s.take(self.n)
            case "skip":
                return s.skip(self.n)
            case "take_while":
                return s.take_while(fn)  # type: ignore[arg-type]
            case "drop_while":
                return s.drop_while(fn)  # type: ignore[arg-type]
            case "scan":
                return s.scan(fn, self.n)  # type: ignore[arg-type]
            case "enumerate":
                return s.enumerate(self.n).map(enumerated_to_int)
            case "distinct":
                return s.distinct(key=fn)
            case "batch":
                return s.batch(self.n).flat_map(reverse_list)
            case "flat_map":
                return s.flat_map(fn)  # type: ignore[arg-type]
        raise AssertionError(self.name)

    def on_list(self, xs: list[Any]) -> list[Any]:
        fn = self.fn.sync if self.fn is not None else None
        match self.name:
            case "map":
                return list(map(fn, xs))  # type: ignore[arg-type]
            case "filter":
                return list(filter(fn, xs))
            case "take":
                return list(itertools.islice(xs, self.n))
            case "skip":
                return list(itertools.islice(xs, self.n, None))
            case "take_while":
                return list(itertools.takewhile(fn, xs))  # type: ignore[arg-type]
            case "drop_while":
                return list(itertools.dropwhile(fn, xs))  # type: ignore[arg-type]
            case "scan":
                return list(itertools.accumulate(xs, fn, initial=self.n))[1:]
            case "enumerate":
                return [enumerated_to_int(p) for p in enumerate(xs, self.n)]
            case "distinct":
                return distinct_by(xs, fn)
            case "batch":
                return [x for b in chunk(xs, self.n) for x in reverse_list(b)]
            case "flat_map":
                return list(itertools.chain.from_iterable(map(fn, xs)))  # type: ignore[arg-type]
        raise AssertionError(self.name)


OPS = {
    "map": st.builds(Op, st.just("map"), fns(MAP_FNS)),
    "filter": st.builds(Op, st.just("filter"), fns(PREDS)),
    "take": st.builds(Op, st.just("take"), n=counts),
    "skip": st.builds(Op, st.just("skip"), n=counts),
    "take_while": st.builds(Op, st.just("take_while"), fns(PREDS)),
    "drop_while": st.builds(Op, st.just("drop_while"), fns(PREDS)),
    "scan": st.builds(Op, st.just("scan"), fns(FOLDS), n=ints),
    "enumerate": st.builds(Op, st.just("enumerate"), n=ints),
    "distinct": st.builds(Op, st.just("distinct"), keys),
    "batch": st.builds(Op, st.just("batch"), n=sizes),
    "flat_map": st.builds(Op, st.just("flat_map"), flat_fns),
}
any_op = st.one_of(*OPS.values())


async def consume(s: sw.Stream[Any], how: str) -> list[Any]:
    """The stream's items, collected with to_list(), an async for, or batches() flattened."""
    if how == "to_list":
        return await s.to_list()
    if how == "async_for":
        async with s:
            return [x async for x in s]
    return [x for batch in await s.batches().to_list() for x in batch]


consumers = st.sampled_from(("to_list", "async_for", "batches"))


# -- the laws ------------------------------------------------------------------------------------


class TestOperatorLaws:
    @pytest.mark.parametrize(
        ("name", "anyio_backend"),
        [(name, ("asyncio", "trio")[i % 2]) for i, name in enumerate(sorted(OPS))],
    )
    @LAWS
    @given(source=sources(), data=st.data(), how=consumers)
    async def test_equals_itertools(
        self, name: str, source: Source, data: st.DataObject, how: str
    ) -> None:
        """Each operator gives what its itertools/builtins counterpart gives on a list."""
        op = data.draw(OPS[name], label="op")
        assert await consume(op.on_stream(source.stream()), how) == op.on_list(source.items)

    @on_asyncio
    @LAWS
    @given(source=sources(), size=sizes)
    async def test_batch_equals_chunking(self, source: Source, size: int) -> None:
        """batch(size) gives the items in lists of size, the last one shorter, none empty."""
        assert await source.stream().batch(size).to_list() == chunk(source.items, size)

    @on_trio
    @LAWS
    @given(source=sources())
    async def test_flatten_equals_chain_from_iterable(self, source: Source) -> None:
        """flatten() over lists gives itertools.chain.from_iterable."""
        s = source.stream().map(repeat_mod_3).flatten()
        assert await s.to_list() == list(
            itertools.chain.from_iterable(map(repeat_mod_3, source.items))
        )

    @on_asyncio
    @LAWS
    @given(source=sources(), start=ints)
    async def test_enumerate_equals_builtin(self, source: Source, start: int) -> None:
        """enumerate(start) gives the builtin enumerate's pairs."""
        assert await source.stream().enumerate(start).to_list() == list(
            enumerate(source.items, start)
        )


class TestChainLaws:
    @on_both
    @settings(LAWS, max_examples=150)
    @given(source=sources(), ops=st.lists(any_op, min_size=1, max_size=6), how=consumers)
    async def test_chain_equals_itertools_chain(
        self, source: Source, ops: list[Op], how: str
    ) -> None:
        """A chain of 1-6 operators gives what the same chain gives on a list with itertools."""
        s = source.stream()
        expected = source.items
        for op in ops:
            s = op.on_stream(s)
            expected = op.on_list(expected)
        assert await consume(s, how) == expected

    @on_trio
    @settings(LAWS, max_examples=40)
    @given(source=sources(), ops=st.lists(any_op, max_size=4))
    async def test_batches_flattened_equals_to_list(self, source: Source, ops: list[Op]) -> None:
        """batches() flattened equals to_list(), and never holds an empty list."""
        first, second = source.stream(), source.stream()
        for op in ops:
            first, second = op.on_stream(first), op.on_stream(second)
        batches = await first.batches().to_list()
        assert [x for b in batches for x in b] == await second.to_list()
        assert all(batches)


class TestBatchesLaws:
    @on_asyncio
    @LAWS
    @given(source=sources(kinds=("batches", "abatches")))
    async def test_from_batches_gives_its_batches_back(self, source: Source) -> None:
        """batches() of from_batches without stages is exactly the non-empty given batches."""
        expected = [list(b) for b in source.batches if b]
        assert await source.stream().batches().to_list() == expected


class TestCombineLaws:
    @on_trio
    @LAWS
    @given(parts=st.lists(sources(), max_size=4))
    async def test_zip_equals_builtin(self, parts: list[Source]) -> None:
        """sw.zip gives the builtin zip's tuples (it stops at the shortest)."""
        expected = list(zip(*(p.items for p in parts), strict=False))
        assert await sw.zip(*(p.stream() for p in parts)).to_list() == expected

    @on_asyncio
    @LAWS
    @given(parts=st.lists(sources(), max_size=4))
    async def test_concat_equals_chain(self, parts: list[Source]) -> None:
        """sw.concat gives itertools.chain of the sources."""
        expected = list(itertools.chain(*(p.items for p in parts)))
        assert await sw.concat(*(p.stream() for p in parts)).to_list() == expected

    @on_trio
    @LAWS
    @given(first=sources(), others=st.lists(sources(), max_size=3))
    async def test_chain_method_equals_chain(self, first: Source, others: list[Source]) -> None:
        """s.chain(*others) gives itertools.chain of s and the others."""
        expected = list(itertools.chain(first.items, *(p.items for p in others)))
        s = first.stream().chain(*(p.stream() for p in others))
        assert await s.to_list() == expected


class TestTerminalLaws:
    @on_asyncio
    @LAWS
    @given(source=sources(), fn=fns(FOLDS), initial=ints)
    async def test_reduce_with_initial(self, source: Source, fn: Fn, initial: int) -> None:
        """reduce(fn, initial) equals functools.reduce(fn, items, initial)."""
        expected = functools.reduce(fn.sync, source.items, initial)
        assert await source.stream().reduce(fn.for_stream(), initial) == expected

    @on_trio
    @LAWS
    @given(source=sources(), fn=fns(FOLDS))
    async def test_reduce_without_initial(self, source: Source, fn: Fn) -> None:
        """reduce(fn) equals functools.reduce(fn, items); empty raises EmptyStreamError."""
        if not source.items:
            with pytest.raises(EmptyStreamError):
                await source.stream().reduce(fn.for_stream())
            return
        expected = functools.reduce(fn.sync, source.items)
        assert await source.stream().reduce(fn.for_stream()) == expected

    @on_asyncio
    @LAWS
    @given(source=sources(), ops=st.lists(any_op, max_size=3))
    async def test_count_equals_len(self, source: Source, ops: list[Op]) -> None:
        """count() equals len() of the items, after any operators."""
        s, expected = source.stream(), source.items
        for op in ops:
            s, expected = op.on_stream(s), op.on_list(expected)
        assert await s.count() == len(expected)

    @on_trio
    @LAWS
    @given(source=sources())
    async def test_first_and_last(self, source: Source) -> None:
        """first()/last() are items[0]/items[-1]; EmptyStreamError when there are none."""
        items = source.items
        if not items:
            with pytest.raises(EmptyStreamError):
                await source.stream().first()
            with pytest.raises(EmptyStreamError):
                await source.stream().last()
            return
        assert await source.stream().first() == items[0]
        assert await source.stream().last() == items[-1]

    @on_asyncio
    @LAWS
    @given(source=sources(), is_async=st.booleans())
    async def test_foreach_sees_every_item(self, source: Source, is_async: bool) -> None:
        """foreach(fn) calls fn on each item, in order."""
        seen: list[int] = []
        await source.stream().foreach(Fn(seen.append, is_async).for_stream())
        assert seen == source.items


class TestPullLaws:
    @on_trio
    @LAWS
    @given(items=st.lists(ints, max_size=12), n=counts)
    async def test_take_pulls_exactly_what_it_needs(self, items: list[int], n: int) -> None:
        """take(n) over an async iterator pulls n items (one more, the end, if it is shorter)."""
        pulls = 0

        async def source() -> AsyncIterator[int]:
            nonlocal pulls
            for x in items:
                pulls += 1
                yield x
            pulls += 1

        assert await sw.stream(source()).take(n).to_list() == items[:n]
        assert pulls == (n if n <= len(items) else len(items) + 1)
