"""Nodes that read several pipelines: concat (and Stream.chain), zip and merge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._funnel import Funnel
from .._core._lifecycle import Opened
from .._core._nodes import Composite

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .._core._pipeline import Pipeline
    from .._core._scope import Scope

__all__ = ["DEFAULT_MERGE_BUFFER", "Concat", "Merge", "Zip"]

#: Items merge() reads ahead by default, in total (plus one in hand per source).
DEFAULT_MERGE_BUFFER = 64


class Concat(Composite):
    """The items of each part in turn; a part is closed as soon as it is done."""

    __slots__ = ("batched",)

    def __init__(self, parts: list[Pipeline]) -> None:
        super().__init__(parts)
        # Batches flow through only if every part makes batches.
        self.batched = all(part.batched for part in parts)

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return _concat(self._inputs, self.batched, scope)

    def describe(self) -> str:
        return f"concat({', '.join(repr(part) for part in self._inputs)})"


async def _concat(parts: list[Pipeline], batched: bool, scope: Scope | None) -> AsyncIterator[Any]:
    for part in parts:
        async for value in Opened(part.start(batched, scope)):
            yield value
        await part.aclose()  # release it now, not when the whole concat ends


class Zip(Composite):
    """Tuples of one item from each part, until the shortest one ends."""

    __slots__ = ()

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return _zip(self._inputs, scope)

    def describe(self) -> str:
        return f"zip({', '.join(repr(part) for part in self._inputs)})"


async def _zip(parts: list[Pipeline], scope: Scope | None) -> AsyncIterator[tuple[Any, ...]]:
    if not parts:
        return
    pulls = [part.start(False, scope).__anext__ for part in parts]
    while True:
        try:
            items = [await pull() for pull in pulls]
        except StopAsyncIteration:
            return
        yield tuple(items)


class Merge(Funnel):
    """The items of every part as they arrive, each part read by its own task."""

    __slots__ = ()

    def describe(self) -> str:
        return f"merge({super().describe()}, buffer={self._buffer})"
