"""Streams from several streams: concat (and Stream.chain), zip and merge."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from .._core import _stream
from .._core._callables import check_count
from .._core._lifecycle import Once
from .._core._nodes import Node, OverStreams, is_iterable
from .._core._pumps import Pumps

if TYPE_CHECKING:
    from .._core._scope import Scope
    from .._core._stream import Stream

__all__ = ["DEFAULT_MERGE_BUFFER", "concat", "merge", "zip"]

#: Items merge() reads ahead by default, in total (plus one in hand per source).
DEFAULT_MERGE_BUFFER = 64

T = TypeVar("T")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")
T5 = TypeVar("T5")

_Source = AsyncIterable[T] | Iterable[T]


def _take_parts(sources: tuple[object, ...], where: str) -> list[Stream[Any]]:
    """Streams for every source, checked before any of them is taken over."""
    streams: list[Stream[Any]] = []
    for source in sources:
        if not is_iterable(source):
            raise TypeError(
                f"{where}() expects async iterables or iterables, "
                f"got {type(source).__name__}: {source!r}"
            )
        streams.append(_stream.stream(cast("Iterable[Any]", source)))
    for part in streams:
        part._check_new(f"pass it to {where}()")  # pyright: ignore[reportPrivateUsage]
    return [part._move(f"pass it to {where}()") for part in streams]  # pyright: ignore[reportPrivateUsage]


def _combined(node: Node, sources: tuple[object, ...]) -> Stream[Any]:
    combined = _stream.Stream._from(node)  # pyright: ignore[reportPrivateUsage]
    for source in sources:
        if isinstance(source, _stream.Stream):
            # Closing any of the inputs closes the whole combined pipeline.
            source._successor = combined  # pyright: ignore[reportPrivateUsage]
            if combined._scope is None:  # pyright: ignore[reportPrivateUsage]
                combined._scope = source._scope  # pyright: ignore[reportPrivateUsage]
    return combined


class _Concat(OverStreams):
    __slots__ = ("batched",)

    def __init__(self, parts: list[Stream[Any]]) -> None:
        super().__init__(parts)
        # Batches flow through only if every part makes batches.
        self.batched = all(part._node.batched for part in parts)  # pyright: ignore[reportPrivateUsage]

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return _concat(self._inputs, self.batched, scope)

    def describe(self) -> str:
        return f"concat({', '.join(repr(part) for part in self._inputs)})"


async def _concat(
    parts: list[Stream[Any]], batched: bool, scope: Scope | None
) -> AsyncIterator[Any]:
    for part in parts:
        async for value in Once(part._engine(batched, scope)):  # pyright: ignore[reportPrivateUsage]
            yield value
        await part.aclose()  # release it now, not when the whole concat ends


class _Zip(OverStreams):
    __slots__ = ()

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return _zip(self._inputs, scope)

    def describe(self) -> str:
        return f"zip({', '.join(repr(part) for part in self._inputs)})"


async def _zip(parts: list[Stream[Any]], scope: Scope | None) -> AsyncIterator[tuple[Any, ...]]:
    if not parts:
        return
    pulls = [part._engine(False, scope).__anext__ for part in parts]  # pyright: ignore[reportPrivateUsage]
    while True:
        try:
            items = [await pull() for pull in pulls]
        except StopAsyncIteration:
            return
        yield tuple(items)


def concat(*sources: AsyncIterable[T] | Iterable[T]) -> Stream[T]:
    """The items of each source in turn; each is closed as soon as it is done.

    Takes over every source given as a Stream; raw iterables are wrapped with
    :func:`~sluiceway.stream` (and so owned too).
    """
    parts = _take_parts(sources, "concat")
    return _combined(_Concat(parts), sources)


@overload
def zip(s1: _Source[T1], /) -> Stream[tuple[T1]]: ...
@overload
def zip(s1: _Source[T1], s2: _Source[T2], /) -> Stream[tuple[T1, T2]]: ...
@overload
def zip(s1: _Source[T1], s2: _Source[T2], s3: _Source[T3], /) -> Stream[tuple[T1, T2, T3]]: ...
@overload
def zip(
    s1: _Source[T1], s2: _Source[T2], s3: _Source[T3], s4: _Source[T4], /
) -> Stream[tuple[T1, T2, T3, T4]]: ...
@overload
def zip(
    s1: _Source[T1], s2: _Source[T2], s3: _Source[T3], s4: _Source[T4], s5: _Source[T5], /
) -> Stream[tuple[T1, T2, T3, T4, T5]]: ...
@overload
def zip(*sources: _Source[Any]) -> Stream[tuple[Any, ...]]: ...
def zip(*sources: _Source[Any]) -> Stream[tuple[Any, ...]]:
    """Tuples of one item from each source, until the shortest one ends.

    Like the builtin ``zip``: the item already pulled from a longer source
    when a shorter one ends is dropped. Every source is closed at the end.
    """
    parts = _take_parts(sources, "zip")
    return _combined(_Zip(parts), sources)


class _Merge(Pumps):
    __slots__ = ()

    def describe(self) -> str:
        return f"merge({super().describe()}, buffer={self._buffer})"


@overload
def merge(s1: _Source[T1], /, *, buffer: int = ...) -> Stream[T1]: ...
@overload
def merge(s1: _Source[T1], s2: _Source[T2], /, *, buffer: int = ...) -> Stream[T1 | T2]: ...
@overload
def merge(
    s1: _Source[T1], s2: _Source[T2], s3: _Source[T3], /, *, buffer: int = ...
) -> Stream[T1 | T2 | T3]: ...
@overload
def merge(
    s1: _Source[T1], s2: _Source[T2], s3: _Source[T3], s4: _Source[T4], /, *, buffer: int = ...
) -> Stream[T1 | T2 | T3 | T4]: ...
@overload
def merge(*sources: _Source[T], buffer: int = ...) -> Stream[T]: ...
def merge(*sources: _Source[Any], buffer: int = DEFAULT_MERGE_BUFFER) -> Stream[Any]:
    """The items of all sources, as they arrive, each read by its own background task.

    Backpressure: at most ``buffer`` items are read ahead in total, plus one
    item in hand per source (``buffer=0``: a source waits until its item is
    taken). The first failure reaches the consumer after the items that
    arrived before it and stops the other sources; later failures are
    attached to it as notes. Iterate the result inside ``async with`` or
    consume it with a terminal operation; every source is closed, exactly
    once, before that scope is left.

    Args:
        sources: streams, async iterables or iterables (taken over).
        buffer: items read ahead in total (default 64).
    """
    check_count(buffer, "merge", "buffer")
    parts = _take_parts(sources, "merge")
    return _combined(_Merge(parts, buffer), sources)
