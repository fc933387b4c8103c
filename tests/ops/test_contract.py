"""The contract every operator keeps, as one suite over every operator of Stream.

For each operator (``CASES``: every Stream method that returns a Stream, the
concurrent variants, and ``sw.merge``/``sw.zip``/``sw.concat``) and each
terminal operation (``TERMINALS``), over every kind of source (``KINDS``):

- leaving in any way (the end, ``break``, an error in the body, a
  cancellation, ``aclose()`` before the start, a terminal operation) closes
  every source exactly once, before control returns;
- a failure of a source or of the user's function reaches the consumer as
  the same exception object, after the items produced before it;
- a source that holds task state across its ``yield`` (a context variable,
  a cancel scope) sees it kept, and its ``finally`` runs to its end;
- a bare ``async for`` either works or refuses before the first item.

Operators that run as a node of their own (background tasks, several
inputs, a reader of their own) run on the full product of source kinds,
callable kinds and backends: that is where lifecycle bugs live. The fused
sequential stages share one lifecycle (the compiled pipeline's ``finally``)
and run on a covering design (every pair of operator, source kind, callable
kind and backend at least once; tests/covering.py).
"""

from __future__ import annotations

import collections.abc
import contextlib
import contextvars
import inspect
import itertools
import operator
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from ops_support import Boom

import sluiceway as sw
from backends import BACKENDS
from covering import pairwise
from sluiceway import _stream
from sluiceway.errors import StreamNotEnteredError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    Call = Callable[[Callable[..., Any]], Callable[..., Any]]

pytestmark = pytest.mark.anyio

#: Items per source, and how many a failing source gives before its error.
N = 6
K = 3

# -- sources -----------------------------------------------------------------------

var: contextvars.ContextVar[str] = contextvars.ContextVar("contract_source", default="")


class Feed:
    """One source of a case: what it gives, and what happened to it.

    ``closes`` counts the ``aclose()``/``close()`` calls on the object the
    stream owns; a kind whose stream owns a plain async generator cannot
    count them, and is checked by the generator's own state instead.
    """

    def __init__(self, kind: str, name: str, items: list[int], error: BaseException | None) -> None:
        self.kind = kind
        self.name = name
        self.items = items
        self.error = error
        self.started = False
        self.finalized = 0
        self.closes = 0
        self.problems: list[str] = []
        self.gen: Any = None

    def stream(self) -> sw.Stream[int]:
        kind = self.kind
        if kind == "aiter":
            self.gen = self._agen(self.items)
            return sw.stream(CountedAsync(self, self.gen))
        if kind == "sync":
            self.gen = self._gen()
            return sw.stream(CountedSync(self, self.gen))
        if kind == "batches":
            chunks = [self.items[i : i + 2] for i in range(0, len(self.items), 2)]
            self.gen = self._agen(chunks)
            return sw.from_batches(CountedAsync(self, self.gen))
        self.gen = self._holding()
        return sw.stream(self.gen)

    async def _agen(self, values: list[Any]) -> AsyncIterator[Any]:
        self.started = True
        try:
            for value in values:
                await anyio.lowlevel.checkpoint()
                yield value
            if self.error is not None:
                raise self.error
        finally:
            self.finalized += 1

    def _gen(self) -> Iterator[int]:
        self.started = True
        try:
            yield from self.items
            if self.error is not None:
                raise self.error
        finally:
            self.finalized += 1

    async def _holding(self) -> AsyncIterator[int]:
        """An async generator that holds a context variable, or a cancel scope, across yields."""
        self.started = True
        token = var.set(self.name)
        try:
            held = anyio.CancelScope() if self.kind == "cancel_scope" else contextlib.nullcontext()
            try:
                with held:
                    for item in self.items:
                        await anyio.lowlevel.checkpoint()
                        yield item
                        if var.get() != self.name:
                            self.problems.append(f"saw {var.get()!r} after a yield")
                    if self.error is not None:
                        raise self.error
            except RuntimeError as exc:  # a cancel scope left in another task
                self.problems.append(repr(exc))
        finally:
            try:
                var.reset(token)
            except ValueError:
                self.problems.append("closed in another context than the one it ran in")
            self.finalized += 1

    def check_closed(self) -> None:
        """Closed exactly once (or, a plain generator, closed), its finally run if started."""
        if self.kind in ("aiter", "sync", "batches"):
            assert self.closes == 1, f"{self.name} closed {self.closes} times"
            frame = self.gen.gi_frame if self.kind == "sync" else self.gen.ag_frame
        else:
            frame = self.gen.ag_frame
        assert frame is None, f"{self.name} was left open"
        assert self.finalized == int(self.started)
        assert self.problems == []


class CountedAsync:
    """An async iterator that counts its ``aclose()`` calls; a generator does the work."""

    def __init__(self, feed: Feed, gen: Any) -> None:
        self._feed = feed
        self._gen = gen

    def __aiter__(self) -> CountedAsync:
        return self

    def __anext__(self) -> Awaitable[Any]:
        return self._gen.__anext__()  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        self._feed.closes += 1
        await self._gen.aclose()


class CountedSync:
    """A sync generator look-alike (a ``collections.abc.Generator``) that counts ``close()``."""

    def __init__(self, feed: Feed, gen: Iterator[int]) -> None:
        self._feed = feed
        self._gen: Any = gen

    def __iter__(self) -> CountedSync:
        return self

    def __next__(self) -> int:
        return next(self._gen)  # type: ignore[no-any-return]

    def send(self, value: object) -> int:
        return self._gen.send(value)  # type: ignore[no-any-return]

    def throw(self, *args: Any) -> int:
        return self._gen.throw(*args)  # type: ignore[no-any-return]

    def close(self) -> None:
        self._feed.closes += 1
        self._gen.close()


#: aiter: an async iterator with aclose(); sync: a sync generator; batches: from_batches over
#: an async iterator of lists; contextvar, cancel_scope: async generators holding task state.
KINDS = ("aiter", "sync", "batches", "contextvar", "cancel_scope")


#: The kinds that hold task state: two of them cannot be read in turn by one task.
HOLDING = ("contextvar", "cancel_scope")


class Sources:
    """The sources of one case: source 0 gives 0..N-1, source 1 gives 100..100+N-1.

    With ``one_task`` (zip reads its sources in turn in the consumer's task,
    as any hand-written zip would), only source 0 holds task state.
    """

    def __init__(
        self,
        kind: str,
        count: int,
        *,
        fail: bool = False,
        fails_at: int = K,
        one_task: bool = False,
    ) -> None:
        self.error = Boom("source") if fail else None
        self.feeds = [
            Feed(
                "aiter" if i and one_task and kind in HOLDING else kind,
                f"source {i}",
                list(range(100 * i, 100 * i + (fails_at if fail and i == 0 else N))),
                self.error if i == 0 else None,
            )
            for i in range(count)
        ]

    @property
    def items(self) -> list[list[int]]:
        return [feed.items for feed in self.feeds]

    def streams(self) -> list[sw.Stream[int]]:
        return [feed.stream() for feed in self.feeds]

    def check_closed(self) -> None:
        for feed in self.feeds:
            feed.check_closed()


# -- callables -----------------------------------------------------------------

CALLABLE_KINDS = ("sync", "async")


def caller(kind: str, fail_on: object = None, error: BaseException | None = None) -> Call:
    """Turns a plain function into the user's callable of ``kind``, failing on ``fail_on``."""

    def make(fn: Callable[..., Any]) -> Callable[..., Any]:
        def plain(*args: Any) -> Any:
            if error is not None and args[-1] == fail_on:
                raise error
            return fn(*args)

        if kind == "sync":
            return plain

        async def in_async(*args: Any) -> Any:
            await anyio.lowlevel.checkpoint()
            return plain(*args)

        return in_async

    return make


# -- the operators ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One operator: how to build it over its sources, and what it gives."""

    name: str
    #: The Stream methods (and ``sw.`` functions) it exercises.
    covers: tuple[str, ...]
    build: Callable[[list[sw.Stream[int]], Call], sw.Stream[Any]]
    #: The items for the given source items.
    expect: Callable[[list[list[int]]], list[Any]]
    inputs: int = 1
    #: Runs as a node of its own (full product) rather than as a fused stage (sampled).
    node: bool = False
    #: Takes a user function: the function's failure is part of its contract.
    fn: bool = False
    #: The position of the item the function fails on (where it is still called).
    fails_at: int = K
    #: Whether the order of the items is fixed.
    ordered: bool = True
    #: The items before source 0 fails after K items; default: ``expect`` of what it gave.
    before_failure: Callable[[list[list[int]]], list[Any]] | None = field(default=None)
    #: Reads its inputs in turn in one task (so only one of them may hold task state).
    one_task: bool = False
    #: Reads its sources in tasks of its own, not in the consumer's.
    own_task: bool = False
    #: Leaves its source before the end (take).
    stops_early: bool = False

    def sources(self, kind: str, *, fail: bool = False) -> Sources:
        return Sources(kind, self.inputs, fail=fail, one_task=self.one_task)

    def __repr__(self) -> str:
        return self.name

    def expect_before_failure(self, items: list[list[int]]) -> list[Any]:
        if self.before_failure is not None:
            return self.before_failure(items)
        return self.expect(items)


def _pairs(items: list[int]) -> list[list[int]]:
    return [items[i : i + 2] for i in range(0, len(items), 2)]


CASES: list[Case] = [
    # Fused sequential stages.
    Case("map", ("map",), lambda s, f: s[0].map(f(lambda x: x * 10)),
         lambda xs: [x * 10 for x in xs[0]], fn=True),
    Case("filter", ("filter",), lambda s, f: s[0].filter(f(lambda x: x % 2 == 0)),
         lambda xs: [x for x in xs[0] if x % 2 == 0], fn=True),
    Case("flat_map", ("flat_map",), lambda s, f: s[0].flat_map(f(lambda x: [x, -x])),
         lambda xs: [y for x in xs[0] for y in (x, -x)], fn=True),
    Case("flatten", ("flatten",), lambda s, f: s[0].map(lambda x: (x, x)).flatten(),
         lambda xs: [y for x in xs[0] for y in (x, x)]),
    Case("scan", ("scan",), lambda s, f: s[0].scan(f(operator.add), 0),
         lambda xs: list(itertools.accumulate(xs[0])), fn=True),
    Case("enumerate", ("enumerate",), lambda s, f: s[0].enumerate(1),
         lambda xs: list(enumerate(xs[0], 1))),
    Case("take", ("take",), lambda s, f: s[0].take(N - 1), lambda xs: xs[0][: N - 1],
         stops_early=True),
    Case("skip", ("skip",), lambda s, f: s[0].skip(1), lambda xs: xs[0][1:]),
    Case("take_while", ("take_while",), lambda s, f: s[0].take_while(f(lambda x: x < 100)),
         lambda xs: xs[0], fn=True),
    Case("drop_while", ("drop_while",), lambda s, f: s[0].drop_while(f(lambda x: x < 2)),
         lambda xs: [x for x in xs[0] if x >= 2], fn=True, fails_at=1),
    Case("distinct", ("distinct",), lambda s, f: s[0].distinct(key=f(lambda x: x // 2)),
         lambda xs: xs[0][::2], fn=True),
    Case("batch", ("batch",), lambda s, f: s[0].batch(2), lambda xs: _pairs(xs[0])),
    Case("throttle", ("throttle",), lambda s, f: s[0].throttle(1000, per=1.0),
         lambda xs: xs[0]),
    # Nodes of their own.
    Case("map_concurrent", ("map",), lambda s, f: s[0].map(f(lambda x: x * 10), concurrency=3),
         lambda xs: [x * 10 for x in xs[0]], node=True, fn=True, own_task=True),
    Case("map_unordered", ("map",),
         lambda s, f: s[0].map(f(lambda x: x * 10), concurrency=3, ordered=False),
         lambda xs: [x * 10 for x in xs[0]], node=True, fn=True, ordered=False, own_task=True),
    Case("prefetch", ("prefetch",), lambda s, f: s[0].prefetch(2), lambda xs: xs[0], node=True,
         own_task=True),
    Case("batch_timeout", ("batch",), lambda s, f: s[0].batch(2, timeout=60),
         lambda xs: _pairs(xs[0]), node=True, own_task=True),
    Case("timeout", ("timeout",), lambda s, f: s[0].timeout(60), lambda xs: xs[0], node=True),
    # Both children, one after the other; the source closes with the last one.
    Case("tee", ("tee",), lambda s, f: sw.concat(*s[0].tee(2)),
         lambda xs: xs[0] + xs[0], node=True, before_failure=lambda xs: xs[0]),
    Case("batches", ("batches",), lambda s, f: s[0].batches().flatten(),
         lambda xs: xs[0], node=True),
    Case("merge", ("merge_with", "sw.merge"), lambda s, f: sw.merge(s[0], s[1], buffer=2),
         lambda xs: xs[0] + xs[1], inputs=2, node=True, ordered=False, own_task=True),
    Case("zip", ("zip_with", "sw.zip"), lambda s, f: sw.zip(s[0], s[1]),
         lambda xs: list(zip(xs[0], xs[1], strict=False)), inputs=2, node=True, one_task=True),
    Case("concat", ("chain", "sw.concat"), lambda s, f: sw.concat(s[0], s[1]),
         lambda xs: xs[0] + xs[1], inputs=2, node=True, before_failure=lambda xs: xs[0]),
]  # fmt: skip


#: Why a source that holds a cancel scope across its yield cannot be left early by an operator
#: that reads it in the consumer's own task (README, "Sequential operators (and zip, tee) read
#: in the task that iterates them"): it is closed under a shielding scope entered after its own.
#: Such a source is read behind prefetch(1), or consumed with a terminal operation.
READ_IN_THE_CONSUMERS_TASK = "closed early from the consumer's task (README: behind prefetch(1))"

#: timeout() puts a deadline around each pull, and the source enters its cancel scope during
#: its first pull: the deadline cannot be left while the source's scope stays entered (README:
#: prefetch(1).timeout(seconds) there). Strict: it fails the suite once timeout() handles it.
TIMEOUT_AROUND_A_HELD_SCOPE = pytest.mark.xfail(
    strict=True,
    raises=(RuntimeError, AssertionError),
    reason="timeout() around a source that holds a cancel scope",
)


def _kinds(case: Case, leaves_early: bool) -> tuple[str, ...]:
    """The source kinds a case keeps its contract for (see READ_IN_THE_CONSUMERS_TASK)."""
    if case.own_task or not (leaves_early or case.stops_early):
        return KINDS
    return tuple(kind for kind in KINDS if kind != "cancel_scope")


def contract(
    cases: list[Case] = CASES, *, leaves_early: bool, starts: bool = True
) -> pytest.MarkDecorator:
    """The cases of one contract test: the full product for nodes, a covering design for stages.

    A test that never starts the sources samples the nodes too: with no task
    started, the event loop and the callable have nothing to act on.

    Args:
        cases: the operators it applies to.
        leaves_early: the test leaves before the sources end (break, an error).
        starts: the test starts the sources.
    """
    rows: list[tuple[Case, str, str, Any]] = []
    for case in cases:
        if case.node and starts:
            fn_kinds = CALLABLE_KINDS if case.fn else CALLABLE_KINDS[:1]
            rows.extend(itertools.product([case], _kinds(case, leaves_early), fn_kinds, BACKENDS))
    stages = [case for case in cases if not (case.node and starts)]
    if stages:
        kinds = _kinds(stages[0], leaves_early)
        rows.extend(
            row
            for row in pairwise(stages, kinds, CALLABLE_KINDS, BACKENDS)
            if row[1] in _kinds(row[0], leaves_early)
        )
    params = []
    for case, kind, fn_kind, backend in rows:
        marks = ()
        if case.name == "timeout" and kind == "cancel_scope" and starts:
            marks = (TIMEOUT_AROUND_A_HELD_SCOPE,)
        params.append(
            pytest.param(
                case, kind, fn_kind, backend.values[0],
                id=f"{case.name}-{kind}-{fn_kind}-{backend.id}", marks=marks,
            )
        )  # fmt: skip
    return pytest.mark.parametrize(("case", "kind", "fn_kind", "anyio_backend"), params)


def _build(case: Case, sources: Sources, call: Call) -> sw.Stream[Any]:
    return case.build(sources.streams(), call)


def _same_items(case: Case, got: list[Any], expected: list[Any]) -> None:
    if case.ordered:
        assert got == expected
    else:
        assert Counter(map(repr, got)) == Counter(map(repr, expected))


class TestEveryOperatorHasACase:
    def test_the_sync_kind_is_closed_like_a_generator(self) -> None:
        """CountedSync is a collections.abc.Generator, so the engine closes it with close()."""
        assert isinstance(CountedSync.__new__(CountedSync), collections.abc.Generator)

    def test_every_operator_method_of_stream(self) -> None:
        """Each Stream method that returns a Stream (an operator) has a contract case."""
        operators = {
            name
            for name, fn in vars(sw.Stream).items()
            if not name.startswith("_")
            and inspect.isfunction(fn)
            and not inspect.iscoroutinefunction(fn)
        }
        assert operators <= {name for case in CASES for name in case.covers}

    def test_every_function_combining_streams(self) -> None:
        """sw.merge, sw.zip, sw.concat and any other function of *sources has a case."""
        combining = {
            f"sw.{name}"
            for name in _stream.__all__
            if inspect.isfunction(fn := getattr(_stream, name))
            and any(p.kind is p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values())
        }
        assert combining
        assert combining <= {name for case in CASES for name in case.covers}

    def test_every_terminal_operation(self) -> None:
        """Each async method of Stream but aclose() (a terminal operation) has a case."""
        terminals = {
            name
            for name, fn in vars(sw.Stream).items()
            if not name.startswith("_") and inspect.iscoroutinefunction(fn)
        }
        assert terminals - {"aclose"} <= {terminal.covers for terminal in TERMINALS}


class TestLeaving:
    @contract(leaves_early=False)
    async def test_the_end(self, case: Case, kind: str, fn_kind: str) -> None:
        """Iterated to its end inside async with: every item, every source closed once."""
        sources = case.sources(kind)
        s = _build(case, sources, caller(fn_kind))
        async with s:
            got = [item async for item in s]
        _same_items(case, got, case.expect(sources.items))
        sources.check_closed()

    @contract(leaves_early=True)
    async def test_break(self, case: Case, kind: str, fn_kind: str) -> None:
        """break after the first item: every source closed once before the next line."""
        sources = case.sources(kind)
        s = _build(case, sources, caller(fn_kind))
        async with s:
            async for _ in s:
                break
        sources.check_closed()

    @contract(leaves_early=True)
    async def test_an_error_in_the_body(self, case: Case, kind: str, fn_kind: str) -> None:
        """The body's own error leaves as the same object, never a group; sources closed once."""
        sources = case.sources(kind)
        s = _build(case, sources, caller(fn_kind))
        error = KeyError("body")
        with pytest.raises(KeyError) as caught:
            async with s:
                async for _ in s:
                    raise error
        assert caught.value is error
        sources.check_closed()

    @contract(leaves_early=False)
    async def test_cancelled(self, case: Case, kind: str, fn_kind: str) -> None:
        """Cancelled after the first item: the scope catches it, every source is closed once."""
        sources = case.sources(kind)
        s = _build(case, sources, caller(fn_kind))
        got: list[Any] = []
        with anyio.CancelScope() as scope:
            async with s:
                async for item in s:
                    got.append(item)
                    scope.cancel()  # the next pull runs cancelled
        # A pull that needs no checkpoint (a batch in hand) may finish the stream first.
        if not scope.cancelled_caught:
            _same_items(case, got, case.expect(sources.items))
        sources.check_closed()

    @contract(leaves_early=False, starts=False)
    async def test_closed_before_the_start(self, case: Case, kind: str, fn_kind: str) -> None:
        """aclose() of a stream never iterated closes every source once, none started."""
        sources = case.sources(kind)
        await _build(case, sources, caller(fn_kind)).aclose()
        assert not any(feed.started for feed in sources.feeds)
        sources.check_closed()

    @contract(leaves_early=False)
    async def test_bare_async_for(self, case: Case, kind: str, fn_kind: str) -> None:
        """Without async with: every item and the sources closed, or a refusal before any item."""
        sources = case.sources(kind)
        s = _build(case, sources, caller(fn_kind))
        got: list[Any] = []
        try:
            async for item in s:
                got.append(item)
        except StreamNotEnteredError:
            assert got == []
            assert case.node
            await s.aclose()
        else:
            _same_items(case, got, case.expect(sources.items))
        sources.check_closed()


class TestFailures:
    @contract(leaves_early=False)
    async def test_a_source_failure(self, case: Case, kind: str, fn_kind: str) -> None:
        """The source's error arrives as itself, after the items before it; sources closed."""
        sources = case.sources(kind, fail=True)
        s = _build(case, sources, caller(fn_kind))
        got: list[Any] = []
        with pytest.raises(Boom) as caught:
            async with s:
                async for item in s:
                    got.append(item)
        assert caught.value is sources.error
        expected = case.expect_before_failure(sources.items)
        if case.ordered:
            assert got == expected
        else:  # unordered: what was finished may come, nothing else
            assert not Counter(map(repr, got)) - Counter(map(repr, expected))
        sources.check_closed()

    @contract([case for case in CASES if case.fn], leaves_early=True)
    async def test_a_function_failure(self, case: Case, kind: str, fn_kind: str) -> None:
        """The function's error arrives as itself, after the items before it; sources closed."""
        sources = case.sources(kind)
        error = Boom("fn")
        s = _build(case, sources, caller(fn_kind, fail_on=case.fails_at, error=error))
        got: list[Any] = []
        with pytest.raises(Boom) as caught:
            async with s:
                async for item in s:
                    got.append(item)
        assert caught.value is error
        items = sources.items[0]
        if case.ordered:
            assert got == case.expect([items[: case.fails_at]])
        else:  # unordered: calls that finished before the failure, wherever they were
            others = items[: case.fails_at] + items[case.fails_at + 1 :]
            assert not Counter(got) - Counter(case.expect([others]))
        sources.check_closed()


# -- terminal operations -----------------------------------------------------------


@dataclass(frozen=True)
class Terminal:
    """One terminal operation: it runs the stream and returns a result."""

    name: str
    covers: str
    run: Callable[[sw.Stream[int], Call], Awaitable[Any]]
    expect: Callable[[list[int]], Any]
    node: bool = False
    fn: bool = False
    #: Where the source fails: first() never reaches a failure after its first item.
    fails_at: int = K

    def __repr__(self) -> str:
        return self.name


async def _foreach(s: sw.Stream[int], f: Call, concurrency: int = 1) -> list[int]:
    seen: list[int] = []
    await s.foreach(f(seen.append), concurrency=concurrency)
    return sorted(seen)


TERMINALS: list[Terminal] = [
    Terminal("to_list", "to_list", lambda s, f: s.to_list(), lambda xs: xs),
    Terminal("count", "count", lambda s, f: s.count(), len),
    Terminal("first", "first", lambda s, f: s.first(), lambda xs: xs[0], fails_at=0),
    Terminal("last", "last", lambda s, f: s.last(), lambda xs: xs[-1]),
    Terminal("reduce", "reduce", lambda s, f: s.reduce(f(operator.add), 0), sum, fn=True),
    Terminal("foreach", "foreach", _foreach, lambda xs: xs, fn=True),
    Terminal("foreach_concurrent", "foreach", lambda s, f: _foreach(s, f, 3), lambda xs: xs,
             node=True, fn=True),
]  # fmt: skip


def _terminal_rows(terminals: list[Terminal]) -> list[Any]:
    rows: list[tuple[Terminal, str, str, Any]] = []
    for terminal in terminals:
        if terminal.node:
            rows.extend(itertools.product([terminal], KINDS, CALLABLE_KINDS, BACKENDS))
    sampled = [terminal for terminal in terminals if not terminal.node]
    rows.extend(pairwise(sampled, KINDS, CALLABLE_KINDS, BACKENDS))
    return [
        pytest.param(terminal, kind, fn_kind, backend.values[0],
                     id=f"{terminal.name}-{kind}-{fn_kind}-{backend.id}")
        for terminal, kind, fn_kind, backend in rows
    ]  # fmt: skip


every_terminal = pytest.mark.parametrize(
    ("terminal", "kind", "fn_kind", "anyio_backend"), _terminal_rows(TERMINALS)
)


@every_terminal
class TestTerminals:
    async def test_the_result(self, terminal: Terminal, kind: str, fn_kind: str) -> None:
        """The result, and the source closed once before the operation returns."""
        sources = Sources(kind, 1)
        result = await terminal.run(sources.streams()[0], caller(fn_kind))
        assert result == terminal.expect(sources.items[0])
        sources.check_closed()

    async def test_a_source_failure(self, terminal: Terminal, kind: str, fn_kind: str) -> None:
        """The source's error comes out as itself; the source is closed once."""
        sources = Sources(kind, 1, fail=True, fails_at=terminal.fails_at)
        with pytest.raises(Boom) as caught:
            await terminal.run(sources.streams()[0], caller(fn_kind))
        assert caught.value is sources.error
        sources.check_closed()

    async def test_cancelled(self, terminal: Terminal, kind: str, fn_kind: str) -> None:
        """Run in a cancelled scope: the scope catches it, the source is closed once."""
        sources = Sources(kind, 1)
        with anyio.CancelScope() as scope:
            scope.cancel()
            result = await terminal.run(sources.streams()[0], caller(fn_kind))
        if not scope.cancelled_caught:  # nothing checkpointed: it ran to its end
            assert result == terminal.expect(sources.items[0])
        sources.check_closed()


@pytest.mark.parametrize(
    ("terminal", "kind", "fn_kind", "anyio_backend"),
    _terminal_rows([terminal for terminal in TERMINALS if terminal.fn]),
)
async def test_a_terminal_function_failure(terminal: Terminal, kind: str, fn_kind: str) -> None:
    """The function's error comes out of the terminal operation as itself; source closed."""
    sources = Sources(kind, 1)
    error = Boom("fn")
    with pytest.raises(Boom) as caught:
        await terminal.run(sources.streams()[0], caller(fn_kind, fail_on=K, error=error))
    assert caught.value is error
    sources.check_closed()
