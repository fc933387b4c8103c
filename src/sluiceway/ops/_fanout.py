"""One source, several readers: tee."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .._core._channel import Waiters
from .._core._nodes import Composite

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from .._core._pipeline import Pipeline
    from .._core._scope import Scope

__all__ = ["DEFAULT_TEE_BUFFER", "TeeChild", "TeeSource"]

#: How far (in items) a tee child may run ahead of the slowest open child, by default.
DEFAULT_TEE_BUFFER = 1024


class TeeSource:
    """The shared state of a tee: one upstream, read once, buffered for every child.

    The child that needs an item nobody has read yet pulls it (one pull at a
    time; the others wait for it), so children may be iterated from
    different tasks at once. Items are dropped once every open child has
    passed them.
    """

    __slots__ = (
        "_base",
        "_buffer",
        "_changed",
        "_ended",
        "_failure",
        "_items",
        "_open",
        "_positions",
        "_pull",
        "_pulling",
        "upstream",
    )

    def __init__(self, upstream: Pipeline, n: int, buffer: int) -> None:
        self.upstream = upstream
        self._buffer = buffer
        self._items: deque[Any] = deque()
        self._base = 0  # the index of _items[0] in the whole stream
        self._positions = [0] * n
        self._open = set(range(n))
        self._pull: Callable[[], Any] | None = None
        self._pulling = False
        self._ended = False
        self._failure: BaseException | None = None
        self._changed = Waiters()

    def _slowest(self) -> int:
        return min(self._positions[child] for child in self._open)

    async def next(self, child: int, scope: Scope | None) -> Any:
        positions = self._positions
        while True:
            offset = positions[child] - self._base
            if offset < len(self._items):
                item = self._items[offset]
                positions[child] += 1
                if offset == 0 and self._trim():
                    self._changed.wake_one()  # the slowest moved: a faster child may go on
                return item
            if self._failure is not None:
                raise self._failure
            if self._ended:
                raise StopAsyncIteration
            if self._pulling or positions[child] - self._slowest() >= self._buffer:
                await self._changed.park()
                self._changed.wake_one()  # pass the news on to the next waiter
                continue
            await self._read(scope)

    async def _read(self, scope: Scope | None) -> None:
        self._pulling = True
        try:
            if self._pull is None:
                self._pull = self.upstream.start(False, scope, raw=True).__anext__
            self._items.append(await self._pull())
        except StopAsyncIteration:
            self._ended = True
        except Exception as exc:
            self._failure = exc
        finally:
            self._pulling = False
            self._changed.wake_one()

    def _trim(self) -> bool:
        """Drop the items every open child has passed; whether any were dropped."""
        if not self._open:
            self._items.clear()
            return False
        slowest = self._slowest()
        dropped = False
        while self._base < slowest and self._items:
            self._items.popleft()
            self._base += 1
            dropped = True
        return dropped

    async def close_child(self, child: int) -> None:
        """A child is done; the last one closes the upstream."""
        if child not in self._open:
            return
        self._open.discard(child)
        self._trim()
        self._changed.wake_one()  # the slowest child may have changed
        if not self._open:
            await self.upstream.aclose()


class TeeChild(Composite):
    """One reader of a tee; closing the last one closes the source."""

    __slots__ = ("_child", "_source")

    def __init__(self, source: TeeSource, child: int) -> None:
        super().__init__([source.upstream])
        self._source = source
        self._child = child

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return _read(self._source, self._child, scope)

    async def release_inputs(self) -> None:
        await self._source.close_child(self._child)

    def describe(self) -> str:
        return f"{self._source.upstream!r} | tee child {self._child}"


async def _read(source: TeeSource, child: int, scope: Scope | None) -> AsyncIterator[Any]:
    while True:
        try:
            item = await source.next(child, scope)
        except StopAsyncIteration:
            return
        yield item
