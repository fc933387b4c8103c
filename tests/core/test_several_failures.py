"""Several failures at once: the first is raised, the others are notes on it, none is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

import sluiceway as sw
from backends import virtual_time


class Boom(Exception):
    """A failure raised on purpose."""


async def fails_at_once(error: BaseException) -> AsyncIterator[int]:
    """Fails at its first pull, before any checkpoint."""
    raise error
    yield  # pragma: no cover  # an async generator


async def test_merge_notes_a_second_source_failure() -> None:
    """Two merged sources fail at once: one is raised, the other is a note on it."""
    first, second = Boom("first"), Boom("second")
    with pytest.raises(Boom) as caught:
        await sw.merge(fails_at_once(first), fails_at_once(second)).to_list()
    raised, other = (first, second) if caught.value is first else (second, first)
    assert caught.value is raised
    assert any(repr(other) in note for note in raised.__notes__)


@virtual_time
async def test_ordered_map_raises_the_earliest_position() -> None:
    """map(concurrency=n): a failure at an earlier position, found later, is the one raised."""
    early, late = Boom("at 1, after 2 s"), Boom("at 2, after 1 s")

    async def call(x: int) -> int:
        if x == 1:
            await anyio.sleep(2)
            raise early
        if x == 2:
            await anyio.sleep(1)
            raise late
        await anyio.sleep(0.1)
        return x

    got: list[int] = []
    s = sw.stream(range(10)).map(call, concurrency=3)
    with pytest.raises(Boom) as caught:
        async with s:
            async for x in s:
                got.append(x)
    assert got == [0]
    assert caught.value is early
    assert any("later position" in note and repr(late) in note for note in early.__notes__)


@virtual_time
async def test_a_failure_after_the_consumer_left_is_raised_on_exit() -> None:
    """A call that fails while the consumer holds an item: raised when the scope ends."""
    error = Boom("while the consumer was busy")

    async def call(x: int) -> int:
        if x == 1:
            raise error
        return x

    with pytest.raises(Boom) as caught:
        async with sw.stream(range(5)).map(call, concurrency=2) as s:
            async for _ in s:
                await anyio.sleep(1)  # meanwhile the call for item 1 fails
                break
    assert caught.value is error
