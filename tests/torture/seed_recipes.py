"""The seed document's three operator recipes, their failure modes as checks, and sluiceway's
counterparts.

Each check takes a factory that wraps sources in the operator under test and
returns something used as ``async with op as items: async for x in items``.
The checks pass on sluiceway's counterparts (``test_seed_recipes.py`` runs
them on every backend) and fail on the recipes. Run as a script, this module
runs every check against the recipes, each in a fresh event loop with a
time limit (several of them hang), and prints one JSON object of outcomes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

import sluiceway as sw

Factory = Callable[..., Any]

#: Seconds after which a check that waits for something gives up: the recipes
#: hang where sluiceway's counterparts take milliseconds. The script, which
#: runs the recipes only, gives up sooner.
HANG = 2.0

# -- the recipes, as the seed document gives them (asyncio only) -------------


async def merge_iterators(*aiters: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Yield items from multiple async iterators as they become available."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sentinel = object()
    active = len(aiters)

    async def feed(aiter: AsyncIterator[Any]) -> None:
        nonlocal active
        async for item in aiter:
            await queue.put(item)
        active -= 1
        if active == 0:
            await queue.put(sentinel)

    async with asyncio.TaskGroup() as tg:
        for aiter in aiters:
            tg.create_task(feed(aiter))
        while True:
            item = await queue.get()
            if item is sentinel:
                break
            yield item


class BackpressuredStream:
    """The seed's bounded queue with a producer task and a None end marker."""

    def __init__(self, source: AsyncIterator[Any], max_pending: int = 10) -> None:
        self.source = source
        self.semaphore = asyncio.Semaphore(max_pending)
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_pending)
        self._producer_task: asyncio.Task[None] | None = None

    def __aiter__(self) -> BackpressuredStream:
        self._producer_task = asyncio.create_task(self._produce())
        return self

    async def _produce(self) -> None:
        try:
            async for item in self.source:
                await self.queue.put(item)
            await self.queue.put(None)
        except asyncio.CancelledError:
            await self.queue.put(None)

    async def __anext__(self) -> Any:
        item = await self.queue.get()
        if item is None:
            if self._producer_task and not self._producer_task.done():
                self._producer_task.cancel()
            raise StopAsyncIteration
        return item


class BufferedAsyncIterator:
    """The seed's batch-refilling iterator."""

    def __init__(self, source: Any, buffer_size: int = 10) -> None:
        self.source = source
        self.buffer_size = buffer_size
        self.buffer: list[Any] = []
        self.index = 0
        self.exhausted = False

    def __aiter__(self) -> BufferedAsyncIterator:
        return self

    async def _fill_buffer(self) -> None:
        self.buffer = []
        self.index = 0
        count = 0
        async for item in self.source:
            self.buffer.append(item)
            count += 1
            if count >= self.buffer_size:
                break
        if count == 0:
            self.exhausted = True

    async def __anext__(self) -> Any:
        if self.index >= len(self.buffer):
            if self.exhausted:
                raise StopAsyncIteration
            await self._fill_buffer()
            if self.exhausted:
                raise StopAsyncIteration
        item = self.buffer[self.index]
        self.index += 1
        return item


class Scoped:
    """``async with`` around a recipe: the best a careful user can do (aclose if it has one)."""

    def __init__(self, it: Any) -> None:
        self.it = it

    async def __aenter__(self) -> Any:
        return self.it

    async def __aexit__(self, *exc: object) -> None:
        aclose = getattr(self.it, "aclose", None)
        if aclose is not None:
            await aclose()


RECIPES: dict[str, Factory] = {
    "merge": lambda *sources: Scoped(merge_iterators(*sources)),
    "backpressure": lambda source: Scoped(BackpressuredStream(source)),
    "buffered": lambda source: Scoped(BufferedAsyncIterator(source)),
}

COUNTERPARTS: dict[str, Factory] = {
    "merge": lambda *sources: sw.merge(*sources),
    "backpressure": lambda source: sw.stream(source).prefetch(10),
    "buffered": lambda source: sw.stream(source).prefetch(10),
}

# -- instrumented sources -------------------------------------------------------


class Log:
    def __init__(self) -> None:
        self.closed: list[str] = []
        self.produced = 0


def numbers(
    log: Log, name: str, items: Any, *, fail: BaseException | None = None, delay: float = 0.0
) -> AsyncIterator[Any]:
    async def gen() -> AsyncIterator[Any]:
        try:
            for item in items:
                if delay:
                    await anyio.sleep(delay)
                else:
                    await anyio.lowlevel.checkpoint()
                log.produced += 1
                yield item
            if fail is not None:
                raise fail
        finally:
            log.closed.append(name)

    return gen()


class Reiterable:
    """An async iterable (not an iterator): each __aiter__ starts over from 0."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.aiters = 0

    def __aiter__(self) -> AsyncIterator[int]:
        self.aiters += 1

        async def gen() -> AsyncIterator[int]:
            for i in range(self.n):
                await anyio.lowlevel.checkpoint()
                yield i

        return gen()


# -- the checks: each one is a failure mode of a recipe ---------------------------


async def merge_break_closes_sources(make: Factory) -> None:
    """Breaking out of the merge closes both sources before the next line."""
    log = Log()
    async with make(numbers(log, "a", range(10**6)), numbers(log, "b", range(10**6))) as items:
        async for _ in items:
            break
    assert sorted(log.closed) == ["a", "b"], log.closed


async def merge_error_is_unwrapped(make: Factory) -> None:
    """A failing source's exception reaches the consumer as itself, not in a group."""
    log = Log()
    err = ValueError("source failed")
    try:
        async with make(numbers(log, "a", range(3), fail=err), numbers(log, "b", range(10))) as it:
            async for _ in it:
                pass
    except ValueError as caught:
        assert caught is err
    else:
        raise AssertionError("the error was lost")


async def merge_is_bounded(make: Factory) -> None:
    """A slow consumer holds the sources back: nothing like 10000 items read ahead."""
    log = Log()
    async with make(numbers(log, "a", range(10**5)), numbers(log, "b", range(10**5))) as items:
        async for _ in items:
            await anyio.sleep(0.1)
            break
    assert log.produced <= 300, log.produced


async def none_is_an_item(make: Factory) -> None:
    """A source yielding None delivers every item, None included."""
    log = Log()
    async with make(numbers(log, "a", [1, None, 3, 4])) as items:
        got = [x async for x in items]
    assert got == [1, None, 3, 4], got


async def source_error_reaches_the_consumer(make: Factory) -> None:
    """A source that raises makes the consumer raise (the recipe hangs)."""
    log = Log()
    err = KeyError("source")
    try:
        with anyio.fail_after(HANG):
            async with make(numbers(log, "a", range(3), fail=err)) as items:
                async for _ in items:
                    pass
    except KeyError as caught:
        assert caught is err
    else:
        raise AssertionError("the error was lost")


async def break_closes_the_source(make: Factory) -> None:
    """Leaving early closes the source (its finally runs)."""
    log = Log()
    async with make(numbers(log, "a", range(10**6))) as items:
        async for _ in items:
            break
    await anyio.sleep(0.01)
    assert log.closed == ["a"], log.closed


async def anext_after_the_end_stops(make: Factory) -> None:
    """anext() after the end raises StopAsyncIteration at once (the recipe hangs)."""
    log = Log()
    with anyio.fail_after(HANG):
        async with make(numbers(log, "a", range(2))) as items:
            it = items.__aiter__()
            assert [await anext(it), await anext(it)] == [0, 1]
            for _ in range(2):
                try:
                    await anext(it)
                except StopAsyncIteration:
                    pass
                else:
                    raise AssertionError("an item after the end")


async def reiterable_source_is_read_once(make: Factory) -> None:
    """A re-iterable source is iterated once: 0..9, not 0..9 over and over."""
    source = Reiterable(10)
    got: list[int] = []
    with anyio.fail_after(HANG):
        async with make(source) as items:
            async for x in items:
                got.append(x)
                if len(got) > 20:
                    break
    assert got == list(range(10)), got[:25]
    assert source.aiters == 1


async def items_before_an_error_are_delivered(make: Factory) -> None:
    """A source yielding 0-4 and then failing delivers 0-4 first, then its error."""
    log = Log()
    err = OSError("late failure")
    got: list[int] = []
    try:
        async with make(numbers(log, "a", range(5), fail=err)) as items:
            async for x in items:
                got.append(x)
    except OSError as caught:
        assert caught is err
    else:
        raise AssertionError("the error was lost")
    assert got == [0, 1, 2, 3, 4], got


async def production_overlaps_consumption(make: Factory) -> None:
    """While the consumer works on an item, the source goes on to the next one.

    The consumer's work on item k lasts until the source has made item k + 1:
    taking turns (the recipe reads ten, then waits for the consumer to come
    back), that never happens and the check gives up.
    """
    log = Log()
    got: list[int] = []
    with anyio.fail_after(HANG):
        async with make(numbers(log, "a", range(20))) as items:
            async for x in items:
                got.append(x)
                # Polled: the work is waiting for the source, which has no signal to give.
                while x < 19 and log.produced < x + 2:  # noqa: ASYNC110
                    await anyio.sleep(0.001)
    assert got == list(range(20)), got


CHECKS: dict[str, list[Callable[[Factory], Awaitable[None]]]] = {
    "merge": [merge_break_closes_sources, merge_error_is_unwrapped, merge_is_bounded],
    "backpressure": [
        none_is_an_item,
        source_error_reaches_the_consumer,
        break_closes_the_source,
        anext_after_the_end_stops,
    ],
    "buffered": [
        reiterable_source_is_read_once,
        break_closes_the_source,
        items_before_an_error_are_delivered,
        production_overlaps_consumption,
    ],
}


def _run_on_recipe(recipe: str, check: Callable[[Factory], Awaitable[None]]) -> str:
    """'passed', or how the check failed on the recipe."""

    async def main() -> None:
        with anyio.fail_after(HANG + 1):
            await check(RECIPES[recipe])

    loop = asyncio.new_event_loop()
    task = loop.create_task(main())
    try:
        loop.run_until_complete(asyncio.wait_for(asyncio.shield(task), HANG + 2))
    except BaseException as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:200]
    finally:
        # Leaked tasks of a recipe may never finish: the loop is abandoned, not closed.
        pass
    return "passed"


if __name__ == "__main__":
    HANG = 0.5
    outcomes = {
        f"{recipe}.{check.__name__}": _run_on_recipe(recipe, check)
        for recipe, checks in CHECKS.items()
        for check in checks
    }
    print(json.dumps(outcomes))
    sys.stdout.flush()
    # Recipes leave tasks and threads behind; do not wait for them.
    import os

    os._exit(0)
