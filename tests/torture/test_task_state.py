"""Concurrent operators over sources that hold state tied to the task running them.

Real sources keep such state across a ``yield``: a context variable set for
the duration of the source (structlog's ``bound_contextvars``, OpenTelemetry
spans, transaction helpers) or a cancel scope (a deadline on the whole
read). Both only work when the source runs, and is closed, in one task with
one context. Every concurrent operator must keep it so: the source sees its
own value after every ``yield``, its ``finally`` runs to the end, and its
errors reach the consumer as they are.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

import sluiceway as sw

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


class Boom(Exception):
    """A source's own failure."""


class Holder:
    """Makes sources that hold task state across their yields, and records what they saw."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.seen: dict[str, list[str]] = {}
        self.cleaned: list[str] = []
        self.errors: list[Boom] = []

    def source(self, name: str, count: int = 8, *, fail_at: int | None = None) -> Any:
        seen = self.seen.setdefault(name, [])

        def step(i: int) -> None:
            """After the yield of item ``i - 1``: what the source sees; a failure at ``fail_at``."""
            if i:
                seen.append(var.get())
            if i == fail_at:
                error = Boom(f"{name}@{i}")
                self.errors.append(error)
                raise error

        # What the source holds across its yields besides its context variable.
        held: Callable[[], Any] = {
            "contextvar": contextlib.nullcontext,
            "cancel_scope": anyio.CancelScope,  # RuntimeError on exit in another task
            "deadline": lambda: anyio.fail_after(60),
        }[self.kind]

        async def source() -> AsyncIterator[tuple[str, int]]:
            token = var.set(name)
            try:
                with held():
                    for i in range(count):
                        await anyio.lowlevel.checkpoint()
                        step(i)
                        yield (name, i)
            finally:
                var.reset(token)  # ValueError when run in another context than the set
                self.cleaned.append(name)

        return source()

    def check_clean(self, *names: str) -> None:
        """Every source ran its finally to the end and saw its own value after each yield."""
        assert sorted(self.cleaned) == sorted(names)
        for name in names:
            assert set(self.seen[name]) <= {name}, f"{name} saw {self.seen[name]}"


async def ident(x: Any) -> Any:
    await anyio.lowlevel.checkpoint()
    return x


async def slow_ident(x: Any) -> Any:
    await anyio.sleep(0.001)
    return x


async def tee_in_one_task(s: sw.Stream[Any]) -> list[Any]:
    a, b = s.tee(2)
    got = await sw.zip(a, b).to_list()
    assert all(x == y for x, y in got)
    return [x for x, _ in got]


async def tee_in_two_tasks(s: sw.Stream[Any]) -> list[Any]:
    # tee's children pull in the tasks that iterate them; as the README says,
    # a prefetch(1) gives a source that holds task state a task of its own.
    children = s.prefetch(1).tee(2, buffer=2)
    results: list[list[Any]] = [[], []]
    failures: list[BaseException] = []

    async def read(i: int) -> None:
        try:
            async with children[i] as child:
                async for item in child:
                    results[i].append(item)
                    await anyio.sleep(0.001)
        except Boom as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(2):
            tg.start_soon(read, i)
    if failures:
        raise failures[0]
    assert results[0] == results[1]
    return results[0]


async def foreach(s: sw.Stream[Any]) -> list[Any]:
    got: list[Any] = []

    async def keep(x: Any) -> None:
        await anyio.lowlevel.checkpoint()
        got.append(x)

    await s.foreach(keep, concurrency=3)
    return got


#: Each: (how many sources, the pipeline over them to a list of items).
Run = Callable[[list[Any]], Awaitable[list[Any]]]
OPERATORS: dict[str, tuple[int, Run]] = {
    "map": (1, lambda ss: sw.stream(ss[0]).map(ident, concurrency=3).to_list()),
    "map-slow": (1, lambda ss: sw.stream(ss[0]).map(slow_ident, concurrency=3).to_list()),
    "map-unordered": (
        1,
        lambda ss: sw.stream(ss[0]).map(ident, concurrency=3, ordered=False).to_list(),
    ),
    "map-sync": (1, lambda ss: sw.stream(ss[0]).map(lambda x: x, concurrency=2).to_list()),
    "foreach": (1, lambda ss: foreach(sw.stream(ss[0]))),
    "prefetch": (1, lambda ss: sw.stream(ss[0]).prefetch(2).to_list()),
    "merge": (2, lambda ss: sw.merge(*ss).to_list()),
    "merge-unbuffered": (2, lambda ss: sw.merge(*ss, buffer=0).to_list()),
    "batch-timeout": (1, lambda ss: sw.stream(ss[0]).batch(3, timeout=0.01).flatten().to_list()),
    # Sequential: zip pulls in the consumer's task (two context-setting
    # sources would share its context there, as with any hand-written zip).
    "zip": (1, lambda ss: sw.zip(ss[0], range(100)).map(lambda pair: pair[0]).to_list()),
    "tee-one-task": (1, lambda ss: tee_in_one_task(sw.stream(ss[0]))),
    "tee-two-tasks": (1, lambda ss: tee_in_two_tasks(sw.stream(ss[0]))),
    "map-after-merge": (
        2,
        lambda ss: sw.merge(*ss).map(ident, concurrency=4).prefetch(3).to_list(),
    ),
}
operators = pytest.mark.parametrize("op", sorted(OPERATORS))
kinds = pytest.mark.parametrize("kind", ["contextvar", "cancel_scope", "deadline"])

NAMES = ("a", "b")


@kinds
@operators
class TestSourceState:
    async def test_items_arrive_and_every_finally_runs_to_its_end(self, kind: str, op: str) -> None:
        """All items arrive, each source sees its own context after each yield, cleanup ends."""
        holder = Holder(kind)
        count, run = OPERATORS[op]
        names = NAMES[:count]
        var.set("consumer")
        with anyio.fail_after(10):
            got = await run([holder.source(name) for name in names])
        assert sorted(got) == sorted((name, i) for name in names for i in range(8))
        holder.check_clean(*names)
        assert var.get() == "consumer"

    async def test_a_source_failure_comes_through_unchanged(self, kind: str, op: str) -> None:
        """The source's own error reaches the consumer, with no note from a broken cleanup."""
        holder = Holder(kind)
        count, run = OPERATORS[op]
        names = NAMES[:count]
        with anyio.fail_after(10), pytest.raises(Boom) as caught:
            await run([holder.source(name, fail_at=5) for name in names])
        assert caught.value is holder.errors[0]
        assert not [note for note in getattr(caught.value, "__notes__", []) if "Context" in note]
        holder.check_clean(*names)

    async def test_leaving_early_closes_in_the_right_task(self, kind: str, op: str) -> None:
        """Leaving after the first item closes every source, each finally to its end."""
        holder = Holder(kind)
        count, _ = OPERATORS[op]
        names = NAMES[:count]
        sources = [holder.source(name, count=1000) for name in names]
        with anyio.fail_after(10):
            async with LEAVE[op](sources) as stream:
                async for _ in stream:
                    break
        holder.check_clean(*names)


#: The same pipelines, left after their first item (tee: the first child, the other closed).
LEAVE: dict[str, Callable[[list[Any]], sw.Stream[Any]]] = {
    "map": lambda ss: sw.stream(ss[0]).map(ident, concurrency=3),
    "map-slow": lambda ss: sw.stream(ss[0]).map(slow_ident, concurrency=3),
    "map-unordered": lambda ss: sw.stream(ss[0]).map(ident, concurrency=3, ordered=False),
    "map-sync": lambda ss: sw.stream(ss[0]).map(lambda x: x, concurrency=2),
    "foreach": lambda ss: sw.stream(ss[0]).map(ident, concurrency=3, ordered=False),
    "prefetch": lambda ss: sw.stream(ss[0]).prefetch(2),
    "merge": lambda ss: sw.merge(*ss),
    "merge-unbuffered": lambda ss: sw.merge(*ss, buffer=0),
    "batch-timeout": lambda ss: sw.stream(ss[0]).batch(3, timeout=0.01),
    "zip": lambda ss: sw.zip(sw.stream(ss[0]).prefetch(1), range(100)),
    "tee-one-task": lambda ss: sw.merge(*sw.stream(ss[0]).prefetch(1).tee(2)),
    "tee-two-tasks": lambda ss: sw.merge(*sw.stream(ss[0]).prefetch(1).tee(2)),
    "map-after-merge": lambda ss: sw.merge(*ss).map(ident, concurrency=4).prefetch(3),
}


class TestTheReportedCase:
    """The case as it was reported: a source that sets and resets a context variable."""

    @pytest.mark.parametrize("how", ["map", "foreach"])
    async def test_concurrent_map_keeps_the_source_in_one_context(self, how: str) -> None:
        """[0, 1, 2, 3], the value seen after every yield, and the finally run to its end."""
        cv: contextvars.ContextVar[str] = contextvars.ContextVar("cv", default="unset")
        events: list[str] = []

        async def source() -> AsyncIterator[int]:
            token = cv.set("mine")
            try:
                for i in range(4):
                    yield i
                    events.append(cv.get())
            finally:
                cv.reset(token)
                events.append("cleanup done")

        async def keep(x: int) -> int:
            await anyio.lowlevel.checkpoint()
            return x

        with anyio.fail_after(10):
            if how == "map":
                got = await sw.stream(source()).map(keep, concurrency=3).to_list()
            else:
                got = []
                await sw.stream(source()).foreach(lambda x: got.append(x), concurrency=3)
        assert sorted(got) == [0, 1, 2, 3]
        assert events == ["mine"] * 4 + ["cleanup done"]


#: Terminal operations that stop before the source's end, in the consumer's own task.
EARLY_TERMINALS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "first": lambda src: sw.stream(src).first(),
    "take-to_list": lambda src: sw.stream(src).take(2).to_list(),
    "take_while-count": lambda src: sw.stream(src).take_while(lambda x: x[1] < 3).count(),
    "take-reduce": lambda src: sw.stream(src).take(3).map(lambda x: x[1]).reduce(max),
}


@kinds
class TestTerminalOperations:
    @pytest.mark.parametrize("terminal", sorted(EARLY_TERMINALS))
    async def test_stopping_early_closes_the_source_to_its_end(
        self, kind: str, terminal: str
    ) -> None:
        """A terminal operation that stops early closes the source in its task, finally done."""
        holder = Holder(kind)
        with anyio.fail_after(10):
            result = await EARLY_TERMINALS[terminal](holder.source("a", count=1000))
        assert result in (("a", 0), [("a", 0), ("a", 1)], 3, 2)
        holder.check_clean("a")

    async def test_a_slow_finally_is_awaited_and_the_scope_then_released(self, kind: str) -> None:
        """The close is shielded under the operation's own scope, then the scope is as before."""
        done: list[str] = []

        async def source() -> AsyncIterator[int]:
            with anyio.CancelScope():
                try:
                    for i in range(100):
                        await anyio.lowlevel.checkpoint()
                        yield i
                finally:
                    await anyio.sleep(0.02)  # an await in cleanup: needs the shield
                    done.append("cleanup")

        with anyio.fail_after(10):
            assert await sw.stream(source()).take(2).to_list() == [0, 1]
            # The operation's scope is gone: a later wait is not cut by its time limit.
            await anyio.sleep(0.01)
        assert done == ["cleanup"]

    async def test_an_overrun_close_is_abandoned_with_a_warning(self, kind: str) -> None:
        """A source that will not finish closing is abandoned after the grace period."""

        async def stubborn() -> AsyncIterator[int]:
            with anyio.CancelScope():
                try:
                    while True:
                        await anyio.lowlevel.checkpoint()
                        yield 1
                finally:
                    while True:
                        try:
                            await anyio.sleep(1)
                        except anyio.get_cancelled_exc_class():
                            pass

        with (
            anyio.fail_after(5),
            pytest.warns(RuntimeWarning, match="did not finish closing"),
            sw.grace_period(0.1),
        ):
            assert await sw.stream(stubborn()).first() == 1
