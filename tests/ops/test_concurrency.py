"""merge, map(concurrency=n), foreach(concurrency=n), prefetch, batch(timeout=), throttle,
timeout and tee: results, argument checks and the laws they share with their sequential twins.

Timing runs on a virtual clock (trio-virtual, tests/backends.py): the times
asserted are exact, and none of them is a bound on real time. The lifecycle
and error contract of these operators is tests/ops/test_contract.py; their
torture cases are in tests/torture/.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sluiceway as sw
from backends import BACKENDS, virtual_time

ints = st.lists(st.integers(), max_size=40)


async def agen(items: list[Any], delay: float = 0.0) -> AsyncIterator[Any]:
    for item in items:
        if delay:
            await anyio.sleep(delay)
        else:
            await anyio.lowlevel.checkpoint()
        yield item


async def double(x: int) -> int:
    await anyio.lowlevel.checkpoint()
    return x * 2


# The laws are about items: each runs on one event loop, in turn (the lifecycle of these
# operators on every loop is tests/ops/test_contract.py).
# (uvloop, where not installed, leaves its law with an empty parameter set: skipped.)
def on(loop: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("anyio_backend", [b for b in BACKENDS if b.id == loop])


class TestLaws:
    @on("asyncio")
    @settings(max_examples=25, deadline=None)
    @given(parts=st.lists(ints, max_size=5), buffer=st.integers(0, 8))
    async def test_merge_is_a_shuffle_of_its_sources(
        self, parts: list[list[int]], buffer: int
    ) -> None:
        """merge gives every item of every source, each source's items in their order."""
        tagged = [[(i, x) for x in part] for i, part in enumerate(parts)]
        got = await sw.merge(*(agen(p) for p in tagged), buffer=buffer).to_list()
        assert Counter(got) == Counter(item for part in tagged for item in part)
        for i, part in enumerate(tagged):
            assert [item for item in got if item[0] == i] == part

    @on("trio")
    @settings(max_examples=25, deadline=None)
    @given(items=ints, n=st.integers(1, 8))
    async def test_concurrent_map_equals_map(self, items: list[int], n: int) -> None:
        """map(concurrency=n) gives map's result; unordered gives the same items."""
        expected = [x * 2 for x in items]
        assert await sw.stream(agen(items)).map(double, concurrency=n).to_list() == expected
        unordered = sw.stream(items).map(double, concurrency=n, ordered=False)
        assert sorted(await unordered.to_list()) == sorted(expected)

    @on("uvloop")
    @settings(max_examples=25, deadline=None)
    @given(items=ints, n=st.integers(0, 8))
    async def test_prefetch_is_the_identity(self, items: list[int], n: int) -> None:
        """prefetch(n) changes when items are read, not which."""
        assert await sw.stream(agen(items)).prefetch(n).to_list() == items

    @on("asyncio")
    @settings(max_examples=25, deadline=None)
    @given(items=ints, size=st.integers(1, 6))
    async def test_timed_batch_without_delays_equals_batch(
        self, items: list[int], size: int
    ) -> None:
        """batch(size, timeout=long) over a fast source cuts like batch(size)."""
        got = await sw.stream(agen(items)).batch(size, timeout=60).to_list()
        assert got == [items[i : i + size] for i in range(0, len(items), size)]

    @on("trio")
    @settings(max_examples=25, deadline=None)
    @given(items=ints, n=st.integers(1, 4), buffer=st.integers(1, 5))
    async def test_tee_children_all_see_everything(
        self, items: list[int], n: int, buffer: int
    ) -> None:
        """Each tee child gives the whole source, read in turn within the buffer."""
        children = sw.stream(agen(items)).tee(n, buffer=max(buffer, len(items) + 1))
        for child in children:
            assert await child.to_list() == items


class TestForeach:
    async def test_concurrent_foreach_calls_every_item(self) -> None:
        """foreach(fn, concurrency=n) calls fn once per item, n at a time at most."""
        seen: list[int] = []
        running = peak = 0

        async def visit(x: int) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await anyio.sleep(0.001)
            seen.append(x)
            running -= 1

        assert await sw.stream(range(40)).foreach(visit, concurrency=5) is None
        assert sorted(seen) == list(range(40))
        assert peak <= 5

    async def test_foreach_error_is_raised_as_itself(self) -> None:
        """A failing call's exception comes out of foreach unchanged."""
        err = LookupError("x")

        async def visit(x: int) -> None:
            if x == 7:
                raise err

        with pytest.raises(LookupError) as caught:
            await sw.stream(range(20)).foreach(visit, concurrency=3)
        assert caught.value is err

    async def test_sync_function_with_concurrency(self) -> None:
        """A sync function given concurrency > 1 still works (its calls cannot overlap)."""
        assert await sw.stream(range(5)).map(str, concurrency=3).to_list() == list("01234")


@virtual_time
class TestThrottle:
    async def test_throttle_delays_and_never_drops(self) -> None:
        """throttle(2, per=0.1): two items at 0 s, two at 0.1 s, two at 0.2 s; none dropped."""
        start = anyio.current_time()
        got: list[tuple[int, float]] = []
        async for x in sw.stream(range(6)).throttle(2, per=0.1):
            got.append((x, anyio.current_time() - start))
        assert [x for x, _ in got] == list(range(6))
        assert [t for _, t in got] == pytest.approx([0, 0, 0.1, 0.1, 0.2, 0.2])

    async def test_no_window_holds_more_than_rate(self) -> None:
        """In any window of `per` seconds at most `rate` items pass."""
        times: list[float] = []
        async for _ in sw.stream(range(9)).throttle(3, per=0.05):
            times.append(anyio.current_time())
        for i in range(len(times) - 3):
            assert times[i + 3] - times[i] >= 0.05 - 1e-9

    async def test_a_slow_source_is_not_delayed(self) -> None:
        """Items slower than the rate pass at once: only the source's own time passes."""
        start = anyio.current_time()
        got = await sw.stream(agen([1, 2, 3], delay=0.01)).throttle(100, per=1).to_list()
        assert got == [1, 2, 3]
        assert anyio.current_time() - start == pytest.approx(0.03)

    async def test_a_slow_consumer_is_not_delayed_further(self) -> None:
        """Time the consumer spent counts towards the window: no extra wait after it."""
        start = anyio.current_time()
        async for _ in sw.stream(range(4)).throttle(1, per=0.1):
            await anyio.sleep(0.1)
        assert anyio.current_time() - start == pytest.approx(0.4)


@virtual_time
class TestTimeout:
    async def test_a_slow_item_raises_timeout_error(self) -> None:
        """timeout(s) raises TimeoutError s after the pull of a slow item; earlier items come."""
        closed: list[bool] = []

        async def source() -> AsyncIterator[int]:
            try:
                yield 1
                yield 2
                await anyio.sleep(10)
                yield 3
            finally:
                closed.append(True)

        got: list[int] = []
        start = anyio.current_time()
        with pytest.raises(TimeoutError, match="no item within"):
            async for x in sw.stream(source()).timeout(0.05):
                got.append(x)
        assert got == [1, 2]
        assert closed == [True]
        assert anyio.current_time() - start == pytest.approx(0.05)

    async def test_a_fast_source_is_untouched(self) -> None:
        """Items within the timeout pass unchanged."""
        assert await sw.stream(agen([1, None, 3])).timeout(1).to_list() == [1, None, 3]

    async def test_an_item_just_within_the_time(self) -> None:
        """Items that each take a little less than the timeout all pass."""
        got = await sw.stream(agen([1, 2, 3], delay=0.04)).timeout(0.05).to_list()
        assert got == [1, 2, 3]

    async def test_the_clock_starts_at_each_pull(self) -> None:
        """A consumer slower than the timeout does not trip it."""
        got = []
        start = anyio.current_time()
        async for x in sw.stream(agen([1, 2, 3], delay=0.01)).timeout(0.02):
            await anyio.sleep(0.05)
            got.append(x)
        assert got == [1, 2, 3]
        assert anyio.current_time() - start == pytest.approx(3 * (0.01 + 0.05))

    async def test_an_upstream_timeout_error_passes_as_itself(self) -> None:
        """A TimeoutError raised by the source is not replaced by the operator's own."""
        err = TimeoutError("the source's own")

        async def source() -> AsyncIterator[int]:
            yield 1
            raise err

        with pytest.raises(TimeoutError) as caught:
            await sw.stream(source()).timeout(1).to_list()
        assert caught.value is err


@virtual_time
class TestPrefetch:
    async def test_the_source_works_while_the_consumer_does(self) -> None:
        """prefetch(1): a source and a consumer of 1 s an item overlap, 6 s for 5, not 10."""
        start = anyio.current_time()
        s = sw.stream(agen(list(range(5)), delay=1)).prefetch(1)
        async with s:
            async for _ in s:
                await anyio.sleep(1)
        assert anyio.current_time() - start == pytest.approx(6)

    async def test_without_prefetch_they_take_turns(self) -> None:
        """The same without prefetch: the source only works when asked, 10 s."""
        start = anyio.current_time()
        async for _ in sw.stream(agen(list(range(5)), delay=1)):
            await anyio.sleep(1)
        assert anyio.current_time() - start == pytest.approx(10)

    async def test_a_slow_consumer_holds_the_source_back(self) -> None:
        """prefetch(2) reads at most 2 items ahead, plus the one being handed over."""
        produced: list[int] = []

        async def source() -> AsyncIterator[int]:
            for i in range(20):
                await anyio.lowlevel.checkpoint()
                produced.append(i)
                yield i

        ahead: list[int] = []
        s = sw.stream(source()).prefetch(2)
        async with s:
            async for x in s:
                await anyio.sleep(1)  # the source has all the time it wants
                ahead.append(len(produced) - (x + 1))
        assert max(ahead) == 3
        assert produced == list(range(20))


@virtual_time
class TestTimedBatch:
    async def test_a_partial_batch_after_the_timeout(self) -> None:
        """batch(3, timeout=0.5): what arrived within 0.5 s of a batch's first item, then on."""
        times = {0: 0.0, 1: 0.1, 2: 1.0, 3: 1.2, 4: 1.3, 5: 1.4}

        async def source() -> AsyncIterator[int]:
            now = 0.0
            for i, t in times.items():
                await anyio.sleep(t - now)
                now = t
                yield i
            await anyio.sleep(5)  # quiet before the end: the last batch is cut by the timeout

        start = anyio.current_time()
        got: list[tuple[list[int], float]] = []
        s = sw.stream(source()).batch(3, timeout=0.5)
        async with s:
            async for batch in s:
                got.append((batch, anyio.current_time() - start))
        assert [batch for batch, _ in got] == [[0, 1], [2, 3, 4], [5]]
        assert [t for _, t in got] == pytest.approx([0.5, 1.3, 1.9])


class TestArguments:
    @pytest.mark.parametrize(
        ("build", "error"),
        [
            (lambda: sw.merge([1], buffer=-1), ValueError),
            (lambda: sw.merge([1], buffer=1.5), TypeError),
            (lambda: sw.merge(42), TypeError),
            (lambda: sw.stream([1]).map(str, concurrency=0), ValueError),
            (lambda: sw.stream([1]).prefetch(-1), ValueError),
            (lambda: sw.stream([1]).batch(3, timeout=0), ValueError),
            (lambda: sw.stream([1]).batch(3, timeout="1"), TypeError),
            (lambda: sw.stream([1]).throttle(0), ValueError),
            (lambda: sw.stream([1]).throttle(1, per=0), ValueError),
            (lambda: sw.stream([1]).timeout(-1), ValueError),
            (lambda: sw.stream([1]).timeout(float("nan")), ValueError),
            (lambda: sw.stream([1]).tee(0), ValueError),
            (lambda: sw.stream([1]).tee(2, buffer=0), ValueError),
            (lambda: sw.grace_period(0).__enter__(), ValueError),
        ],
    )
    def test_bad_arguments_fail_at_the_call(self, build: Any, error: type[Exception]) -> None:
        """Out-of-range numbers raise ValueError and wrong types TypeError, at the call."""
        with pytest.raises(error):
            build()

    async def test_foreach_concurrency_is_checked(self) -> None:
        """foreach(concurrency=0) raises ValueError before reading anything."""
        with pytest.raises(ValueError, match="concurrency"):
            await sw.stream([1]).foreach(print, concurrency=0)
