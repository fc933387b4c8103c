"""The 31-case torture suite of the concurrency operators (merge, map(concurrency=n),
prefetch, batch(timeout=), tee), on every backend, under -X dev and -W error.

Each case ends (conftest) with no task left over and nothing reported to the
event loop's error handler; each instrumented source records when its
``finally`` ran.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import random
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

import sluiceway as sw
from sluiceway.errors import StreamNotEnteredError


class Tracker:
    """Makes instrumented async generators and records what happened to them."""

    def __init__(self) -> None:
        self.finished: list[str] = []
        self.produced: Counter[str] = Counter()
        self.made: list[str] = []
        self.gens: list[Any] = []

    def source(
        self,
        name: str,
        items: Any = None,
        *,
        delay: float = 0.0,
        fail_at: int | None = None,
        error: BaseException | None = None,
        close_delay: float = 0.0,
        close_error: BaseException | None = None,
    ) -> AsyncIterator[Any]:
        values = list(range(1000)) if items is None else list(items)
        self.made.append(name)

        async def gen() -> AsyncIterator[Any]:
            try:
                for index, value in enumerate(values):
                    if delay:
                        await anyio.sleep(delay)
                    else:
                        await anyio.lowlevel.checkpoint()
                    if index == fail_at:
                        raise error if error is not None else ValueError(f"{name}@{index}")
                    self.produced[name] += 1
                    yield value
            finally:
                if close_delay:
                    await anyio.sleep(close_delay)
                self.finished.append(name)
                if close_error is not None:
                    raise close_error

        made = gen()
        self.gens.append(made)
        return made

    def all_finished(self) -> bool:
        """Every source ran its finally (each was started)."""
        return sorted(self.finished) == sorted(self.made)

    def all_closed(self) -> bool:
        """Every source is closed: its finally ran, or it was closed before it started."""
        return all(g.ag_frame is None for g in self.gens)


async def ident(x: Any) -> Any:
    await anyio.lowlevel.checkpoint()
    return x


# Builders of one concurrent pipeline each, over sources made by a tracker.
OPERATORS: dict[str, Callable[[Tracker, dict[str, Any]], sw.Stream[Any]]] = {
    "merge": lambda t, kw: sw.merge(t.source("a", **kw), t.source("b", **kw)),
    "prefetch": lambda t, kw: sw.stream(t.source("a", **kw)).prefetch(4),
    "map": lambda t, kw: sw.stream(t.source("a", **kw)).map(ident, concurrency=4),
    "batch": lambda t, kw: sw.stream(t.source("a", **kw)).batch(3, timeout=0.05),
}
operators = pytest.mark.parametrize("op", sorted(OPERATORS))


def build(op: str, tracker: Tracker, **kwargs: Any) -> sw.Stream[Any]:
    return OPERATORS[op](tracker, kwargs)


class TestLifecycle:
    @operators
    async def test_01_break_closes_every_source_before_the_next_line(self, op: str) -> None:
        """Breaking after the first item: every source's finally ran before the next line."""
        t = Tracker()
        async with build(op, t) as s:
            async for _ in s:
                break
        assert t.all_finished()

    @operators
    async def test_02_body_error_propagates_unwrapped(self, op: str) -> None:
        """A KeyError in the body is the same object, not a group; sources are already closed."""
        t = Tracker()
        err = KeyError("body")
        with pytest.raises(KeyError) as caught:
            async with build(op, t) as s:
                async for _ in s:
                    raise err
        assert caught.value is err
        assert t.all_finished()

    @operators
    async def test_03_enter_and_exit_without_iterating_closes_sources(self, op: str) -> None:
        """Entering and leaving without iterating closes the sources, pre-started ones too."""
        t = Tracker()
        started = t.source("x")
        assert await anext(started) == 0  # the user started it before handing it over
        never = t.source("y")
        async with sw.merge(started, never, sw.stream(build(op, t))):
            pass
        assert t.finished == ["x"]  # the others never ran, so had no finally to run
        assert t.all_closed()

    @operators
    async def test_04_bare_iteration_raises_before_the_first_item(self, op: str) -> None:
        """A bare `async for` over a stream with background work raises a RuntimeError."""
        t = Tracker()
        s = build(op, t)
        with pytest.raises(RuntimeError, match="async with") as caught:
            async for _ in s:
                pytest.fail("no item may arrive")
        assert isinstance(caught.value, StreamNotEnteredError)
        await s.aclose()
        assert t.produced.total() == 0

    @operators
    async def test_05_second_iteration_and_anext_after_the_end(self, op: str) -> None:
        """A second iteration raises RuntimeError; anext after the end or close stops at once."""
        t = Tracker()
        s = build(op, t, items=range(5))
        async with s:
            assert await s.count() >= 1
            with pytest.raises(RuntimeError):
                async for _ in s:
                    pass
        with pytest.raises(StopAsyncIteration):
            await anext(s)
        closed = build(op, Tracker())
        await closed.aclose()
        with pytest.raises(StopAsyncIteration):
            await anext(closed)

    @operators
    async def test_06_an_unclosed_stream_leaves_nothing_running(self, op: str) -> None:
        """A stream dropped without being entered started nothing; collecting it is silent."""
        t = Tracker()
        s = build(op, t)
        gone = weakref.ref(s)
        del s
        if gone() is not None:  # held in a reference cycle: the collector's turn
            gc.collect()
        assert gone() is None
        await anyio.sleep(0.01)
        assert t.produced.total() == 0

    async def test_07_aiter_once_borrow_never_closed_owned_once(self) -> None:
        """__aiter__ runs once per source; a borrowed source stays open; owned ones close once."""

        class Counted:
            def __init__(self) -> None:
                self.aiters = 0
                self.closes = 0
                self.n = 0

            def __aiter__(self) -> Counted:
                self.aiters += 1
                return self

            async def __anext__(self) -> int:
                await anyio.lowlevel.checkpoint()
                self.n += 1
                if self.n > 50:
                    raise StopAsyncIteration
                return self.n

            async def aclose(self) -> None:
                self.closes += 1

        owned, lent = Counted(), Counted()
        async with sw.merge(owned, sw.borrow(lent)) as s:
            async for _ in s:
                pass
        assert (owned.aiters, owned.closes) == (1, 1)
        assert (lent.aiters, lent.closes) == (1, 0)


class TestErrors:
    async def test_08_a_failing_source_raises_its_own_error(self) -> None:
        """When source b fails, `async for` raises that ValueError and a's finally has run."""
        t = Tracker()
        err = ValueError("b failed")
        with pytest.raises(ValueError, match="b failed") as caught:
            a, b = t.source("a", delay=0.001), t.source("b", fail_at=3, error=err)
            async with sw.merge(a, b) as s:
                async for _ in s:
                    pass
        assert caught.value is err
        assert t.all_finished()

    @pytest.mark.parametrize("op", ["merge", "prefetch", "map", "batch"])
    async def test_09_items_before_an_error_come_first(self, op: str) -> None:
        """Every item produced before a failure is delivered (a partial batch too), then it."""
        t = Tracker()
        got: list[Any] = []
        with pytest.raises(ValueError, match="@5"):
            async with build(op, t, items=range(10), fail_at=5) as s:
                async for item in s:
                    got.append(item)
        flat = [x for item in got for x in (item if isinstance(item, list) else [item])]
        if op == "merge":
            assert sorted(flat) == sorted([0, 1, 2, 3, 4] * 2)[: len(flat)] or len(flat) >= 5
            assert Counter(flat).total() >= 5
        else:
            assert flat == [0, 1, 2, 3, 4]

    async def test_10_two_failures_first_raised_second_noted(self) -> None:
        """When two sources fail, the first is raised and the second is attached as a note."""
        t = Tracker()
        first, second = ValueError("first"), KeyError("second")

        async def late() -> AsyncIterator[int]:
            try:
                yield 1
                await anyio.sleep(10)
            finally:
                raise second  # fails while being cancelled, after the first failure

        with pytest.raises(ValueError, match="first") as caught:
            async with sw.merge(late(), t.source("b", fail_at=2, error=first)) as s:
                async for _ in s:
                    pass
        assert caught.value is first
        assert any("second" in note for note in caught.value.__notes__)

    @operators
    async def test_11_an_error_in_a_finally_comes_out_of_aexit(self, op: str) -> None:
        """An error raised in a source's finally propagates from __aexit__, not just logged."""
        t = Tracker()
        with pytest.raises(OSError, match="close failed"):
            async with build(op, t, close_error=OSError("close failed")) as s:
                async for _ in s:
                    break

    @pytest.mark.parametrize("ordered", [True, False])
    async def test_12_map_failure_cancels_and_awaits_in_flight_calls(self, ordered: bool) -> None:
        """fn failing on item k cancels and awaits the calls after it; ordered: nothing after k."""
        finished: list[int] = []
        cancelled: list[int] = []
        err = ArithmeticError("k=5")

        async def work(x: int) -> int:
            try:
                if x == 5:
                    await anyio.sleep(0.01)
                    raise err
                await anyio.sleep(0.001 if x < 5 else 1)
            except anyio.get_cancelled_exc_class():
                cancelled.append(x)
                raise
            finally:
                finished.append(x)
            return x

        got: list[int] = []
        with pytest.raises(ArithmeticError) as caught:
            async with sw.stream(range(20)).map(work, concurrency=4, ordered=ordered) as s:
                async for x in s:
                    got.append(x)
        assert caught.value is err
        assert sorted(finished) == sorted(set(finished))  # each call ended exactly once
        assert cancelled
        assert all(x > 5 for x in cancelled)
        if ordered:
            assert got == [0, 1, 2, 3, 4]
        else:
            assert all(x < 5 for x in got)

    @pytest.mark.parametrize("op", ["merge", "prefetch", "map", "batch", "tee"])
    async def test_13_none_and_sentinels_are_delivered(self, op: str) -> None:
        """None, 0, False, '' and object-like sentinels pass through verbatim."""
        marker = object()
        values = [1, None, 3, None, 0, False, "", marker]
        if op == "tee":
            a, b = sw.stream(values).tee(2)
            assert await a.to_list() == values
            assert await b.to_list() == values
            return
        t = Tracker()
        got = await build(op, t, items=values).to_list()
        flat = [x for item in got for x in (item if op == "batch" else [item])]
        if op == "merge":
            assert Counter(map(id, flat)) == Counter(map(id, values * 2))
        else:
            assert flat == values


class TestCancellation:
    @operators
    async def test_14_outer_cancellation_propagates(self, op: str, anyio_backend_name: str) -> None:
        """Cancelling the task while it waits propagates, restores cancelling(), closes sources."""
        t = Tracker()
        with anyio.CancelScope() as outer:
            async with build(op, t, delay=0.01) as s:
                async for _ in s:
                    outer.cancel()
        assert outer.cancelled_caught
        assert t.all_finished()
        if anyio_backend_name == "asyncio":
            task = asyncio.current_task()
            assert task is not None
            assert task.cancelling() == 0

    async def test_15_nothing_is_injected_into_the_consumer(self) -> None:
        """A source failing while the consumer does its own work is raised at the next anext."""
        t = Tracker()
        err = ValueError("while you were away")
        body_done = False
        with pytest.raises(ValueError, match="away") as caught:
            async with sw.merge(t.source("a", fail_at=1, error=err)) as s:
                await anext(s)
                await anyio.sleep(0.05)  # the source fails meanwhile: nothing may interrupt this
                body_done = True
                await anext(s)
        assert body_done
        assert caught.value is err

    async def test_15b_a_failure_after_the_last_anext_is_raised_on_exit(self) -> None:
        """A background failure never delivered is raised when the scope is left."""
        t = Tracker()
        err = ValueError("after")
        with pytest.raises(ValueError, match="after") as caught:
            async with sw.merge(t.source("a", fail_at=1, error=err)) as s:
                await anext(s)
                await anyio.sleep(0.05)
        assert caught.value is err

    @operators
    async def test_16_a_timeout_scope_catches_its_own_cancellation(self, op: str) -> None:
        """move_on_after around the loop catches its cancellation; sources are closed."""
        t = Tracker()
        with anyio.move_on_after(0.05) as scope:
            async with build(op, t, delay=0.001) as s:
                async for _ in s:
                    await anyio.sleep(0.005)
        assert scope.cancelled_caught
        assert t.all_finished()

    @pytest.mark.parametrize("anyio_backend", ["asyncio"])
    async def test_16b_asyncio_timeout_too(self) -> None:
        """asyncio.timeout around the loop raises TimeoutError there; sources are closed."""
        t = Tracker()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                async with sw.merge(t.source("a", delay=0.001), t.source("b")) as s:
                    async for _ in s:
                        await anyio.sleep(0.005)
        assert t.all_finished()

    @operators
    async def test_17_a_slow_finally_is_awaited(self, op: str) -> None:
        """A source waiting at its yield is closed shielded: a 50 ms finally runs to the end.

        (A source interrupted inside an await of its own runs its finally under
        that cancellation, as any cancelled code does in anyio and trio.)
        """
        t = Tracker()
        async with build(op, t, close_delay=0.05) as s:
            async for _ in s:
                await anyio.sleep(0.02)  # backpressure parks every source at its yield
                break
        assert t.all_finished()

    async def test_18_a_source_that_will_not_close_is_abandoned_with_a_warning(self) -> None:
        """A source swallowing cancellation forever is reported after the grace period."""

        async def stubborn() -> AsyncIterator[int]:
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
            async with sw.merge(stubborn()) as s:
                async for _ in s:
                    break

    async def test_19_contextvars_reach_functions_and_finally(self) -> None:
        """The consumer's context variables are visible in map's function and in finally."""
        var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
        seen: list[str] = []

        async def source() -> AsyncIterator[int]:
            try:
                for i in range(3):
                    await anyio.lowlevel.checkpoint()
                    yield i
            finally:
                seen.append(f"finally:{var.get()}")

        async def fn(x: int) -> int:
            seen.append(f"fn:{var.get()}")
            return x

        var.set("consumer")
        async with sw.stream(source()).map(fn, concurrency=2) as s:
            assert sorted(await s.to_list()) == [0, 1, 2]
        assert set(seen) == {"fn:consumer", "finally:consumer"}


class TestBackpressure:
    async def test_20_map_never_runs_more_than_its_concurrency(self) -> None:
        """map(f, concurrency=4) over 1000 calls of random length: at most 4 at once, and 4."""
        rng = random.Random(20)
        running = peak = 0

        async def work(x: int) -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            try:
                # 0 to 5 turns of the scheduler: calls end in another order than they start.
                for _ in range(rng.randrange(6)):
                    await anyio.lowlevel.checkpoint()
            finally:
                running -= 1
            return x

        got = await sw.stream(range(1000)).map(work, concurrency=4).to_list()
        assert got == list(range(1000))
        assert peak == 4

    async def test_21_ordered_keeps_order_unordered_does_not_wait(self) -> None:
        """ordered=True keeps input order; ordered=False emits each result when it is ready.

        The call for item 0 ends last of the first three (ordered), or only
        once the consumer has had another result (unordered: waiting for 0
        first would never end, and fail_after would say so).
        """
        finished: list[int] = []
        delivered = anyio.Event()

        async def work(x: int) -> int:
            if x == 0:
                while not {1, 2} <= set(finished):  # polled: a test's own log
                    await anyio.lowlevel.checkpoint()
            finished.append(x)
            return x

        with anyio.fail_after(10):
            ordered = await sw.stream(range(6)).map(work, concurrency=3).to_list()
        assert ordered == list(range(6))
        assert finished.index(0) > finished.index(2)

        async def unordered_work(x: int) -> int:
            if x == 0:
                await delivered.wait()
            return x

        got: list[int] = []
        with anyio.fail_after(10):
            async with sw.stream(range(6)).map(unordered_work, concurrency=3, ordered=False) as s:
                async for x in s:
                    got.append(x)
                    delivered.set()
        assert sorted(got) == list(range(6))
        assert got[0] != 0

    async def test_21b_no_head_of_line_stall(self) -> None:
        """A slow head does not stop the other workers: they keep n calls going.

        The call for item 0 ends only once items 1 to 4 have started, which
        takes the other three workers going on past it (a stall would never
        end, and fail_after would say so).
        """
        started: list[int] = []
        others_went_on = anyio.Event()

        async def work(x: int) -> int:
            started.append(x)
            if len(started) >= 5:
                others_went_on.set()
            if x == 0:
                await others_went_on.wait()
            else:
                await anyio.lowlevel.checkpoint()
            return x

        with anyio.fail_after(10):
            got = await sw.stream(range(12)).map(work, concurrency=4).to_list()
        assert got == list(range(12))
        assert set(started[:5]) == {0, 1, 2, 3, 4}

    async def test_22_prefetch_holds_at_most_n_plus_one(self) -> None:
        """prefetch(n) with a slow consumer: pulled minus delivered never exceeds n + 1."""
        t = Tracker()
        delivered = 0
        worst = 0
        async with sw.stream(t.source("a", items=range(30))).prefetch(3) as s:
            async for _ in s:
                delivered += 1
                await anyio.sleep(0.002)
                worst = max(worst, t.produced["a"] - delivered)
        assert delivered == 30
        assert worst <= 3 + 1

    @pytest.mark.parametrize("buffer", [0, 1, 5])
    async def test_23_merge_reads_ahead_at_most_buffer_plus_one_per_source(
        self, buffer: int
    ) -> None:
        """merge with fast sources and a slow consumer: read-ahead <= buffer + sources."""
        t = Tracker()
        delivered = 0
        worst = 0
        async with sw.merge(t.source("a"), t.source("b"), t.source("c"), buffer=buffer) as s:
            async for _ in s:
                delivered += 1
                await anyio.sleep(0.001)
                worst = max(worst, t.produced.total() - delivered)
                if delivered == 60:
                    break
        assert worst <= buffer + 3

    async def test_24_after_the_consumer_stops_no_source_advances(self) -> None:
        """Once the consumer stops pulling, sources go no further than the bound."""
        t = Tracker()
        async with sw.merge(t.source("a"), t.source("b"), buffer=4) as s:
            await anext(s)
            await anyio.sleep(0.05)
            assert t.produced.total() <= 1 + 4 + 2
            await anyio.sleep(0.05)
            assert t.produced.total() <= 1 + 4 + 2

    async def test_25_prefetch_overlaps_production_and_consumption(self) -> None:
        """While the consumer works on an item, prefetch has the source make the next one.

        The consumer's work on item k lasts until the source has made item
        k + 1: taking turns, that would never happen (fail_after says so).
        """
        t = Tracker()
        got: list[int] = []
        with anyio.fail_after(10):
            async with sw.stream(t.source("a", items=range(20))).prefetch(2) as s:
                async for x in s:
                    got.append(x)
                    while x < 19 and t.produced["a"] < x + 2:  # noqa: ASYNC110  # polled
                        await anyio.sleep(0.001)
        assert got == list(range(20))


class TestBatchAndTee:
    async def test_26_a_partial_batch_comes_after_the_timeout(self) -> None:
        """batch(100, timeout=0.05): three items then a stalled source give [0, 1, 2] after 0.05 s.

        The source goes on only once the consumer has that partial batch.
        """
        got_first = anyio.Event()
        finished: list[str] = []

        async def source() -> AsyncIterator[int]:
            try:
                for x in range(3):
                    await anyio.lowlevel.checkpoint()
                    yield x
                await got_first.wait()
                for x in range(3, 10):
                    await anyio.lowlevel.checkpoint()
                    yield x
            finally:
                finished.append("a")

        start = anyio.current_time()
        first_at = None
        batches: list[list[int]] = []
        with anyio.fail_after(10):
            async with sw.stream(source()).batch(100, timeout=0.05) as s:
                async for b in s:
                    if first_at is None:
                        first_at = anyio.current_time() - start
                        got_first.set()
                    batches.append(b)
        assert first_at is not None
        assert first_at >= 0.049  # not before the timeout (uvloop's timers are in whole ms)
        assert batches[0] == [0, 1, 2]
        assert [x for b in batches for x in b] == list(range(10))
        assert finished == ["a"]

    async def test_27_the_rest_comes_at_the_end(self) -> None:
        """When the source ends mid-batch the remainder is emitted, then the stream ends."""
        t = Tracker()
        s = sw.stream(t.source("a", items=range(7))).batch(3, timeout=10)
        assert await s.to_list() == [[0, 1, 2], [3, 4, 5], [6]]

    async def test_28_the_timer_never_cancels_the_consumer(self) -> None:
        """The timer runs out while the consumer holds a batch: no cancellation leaks into it."""
        t = Tracker()
        slept = 0
        async with sw.stream(t.source("a", items=range(6), delay=0.005)).batch(
            2, timeout=0.01
        ) as s:
            async for _ in s:
                await anyio.sleep(0.05)  # far longer than the batch timeout
                slept += 1
        assert slept >= 3

    async def test_29_tee_children_see_the_same_items_from_one_read(self) -> None:
        """tee(2): both children get the same sequence; the source is read once, closed once."""
        t = Tracker()
        a, b = sw.stream(t.source("a", items=range(50))).tee(2)
        assert await a.to_list() == list(range(50))
        assert await b.to_list() == list(range(50))
        assert t.produced["a"] == 50
        assert t.finished == ["a"]

    async def test_30_one_child_closes_the_other_goes_on(self) -> None:
        """A closed child does not stop the other; the source closes after the last child."""
        t = Tracker()
        a, b = sw.stream(t.source("a", items=range(3000))).tee(2, buffer=10)
        async with a:
            async for _ in a:
                break
        assert t.finished == []
        assert await b.count() == 3000
        assert t.finished == ["a"]

    async def test_30b_the_buffer_bounds_how_far_a_child_runs_ahead(self) -> None:
        """A child more than `buffer` items ahead of the slowest open child waits for it."""
        t = Tracker()
        a, b = sw.stream(t.source("a", items=range(100))).tee(2, buffer=5)
        got_a: list[int] = []

        async def read_a() -> None:
            async with a:
                async for x in a:
                    got_a.append(x)

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_a)
            await anyio.sleep(0.05)
            assert len(got_a) <= 5
            assert await b.to_list() == list(range(100))
        assert got_a == list(range(100))

    async def test_31_children_read_concurrently_without_already_running(self) -> None:
        """Concurrent anext on tee children never raises 'already running'."""
        t = Tracker()
        children = sw.stream(t.source("a", items=range(200), delay=0.0005)).tee(3)
        results: dict[int, list[int]] = {}

        async def read(i: int, child: sw.Stream[int]) -> None:
            results[i] = await child.to_list()

        async with anyio.create_task_group() as tg:
            for i, child in enumerate(children):
                tg.start_soon(read, i, child)
        assert all(r == list(range(200)) for r in results.values())
        assert t.finished == ["a"]
