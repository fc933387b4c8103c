"""The fluent Stream: a one-shot, lazily built pipeline over an async or sync source.

The stream layer sits above the engine (``_core``) and the operators
(``ops``): each method adds a stage or wraps the pipeline in an operator's
node. I/O sources build on the engine's source API (``_core._nodes.Source``)
and hand their node to ``Stream(node)`` or to a subclass of Stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeGuard, TypeVar, overload

from ._core._callables import check_count, check_seconds
from ._core._nodes import BatchSource, Node, is_iterable, node_for
from ._core._nothing import NOTHING
from ._core._pipeline import Pipeline
from .ops import _batch, _combine, _fanout, _flow, _transform, _workers
from .ops._slicing import DropWhile, Skip, Take, TakeWhile
from .ops._terminal import Count, First, Foreach, Last, Reduce, ToList

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
    from types import TracebackType

    from ._core._codegen import Sink, Stage

__all__ = ["Stream", "borrow", "concat", "from_batches", "merge", "stream", "zip"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")
T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")
T4 = TypeVar("T4")
T5 = TypeVar("T5")

#: What a combining function takes: an async iterable or a plain one.
_AnyIterable = AsyncIterable[T] | Iterable[T]


class Stream(Generic[T_co]):
    """A pipeline of items of type ``T_co`` that is iterated once.

    Build one with :func:`stream` (or ``Stream(source)``), add operators, then
    consume it with ``async for`` or a terminal operation such as
    :meth:`to_list`. Operators are lazy and take the stream they are called
    on over: use the returned stream, not the old one. ``async with stream:``
    closes every source of the pipeline, exactly once, when the block is left
    in any way. Terminal operations close the pipeline themselves.
    """

    __slots__ = ("__weakref__", "_pipe")

    _pipe: Pipeline

    def __init__(self, source: AsyncIterable[T_co] | Iterable[T_co]) -> None:
        """A stream over ``source``; a Stream given is taken over (it becomes unusable)."""
        if isinstance(source, Stream):
            taken: Stream[Any] = source  # pyright: ignore[reportUnknownVariableType]
            self._pipe = taken._pipe.move("Stream")
        elif isinstance(source, Node):
            self._pipe = Pipeline(source)  # an I/O source's own node, as it is
        else:
            self._pipe = Pipeline(node_for(source, where="Stream"))

    @staticmethod
    def _wrap(pipe: Pipeline) -> Stream[Any]:
        """A plain Stream around a pipeline an operator made."""
        # Not through __init__: the pipeline is made already.
        new: Stream[Any] = object.__new__(Stream)  # pyright: ignore[reportUnknownVariableType]
        new._pipe = pipe
        return new

    def __repr__(self) -> str:
        return self._pipe.describe()

    # -- ownership -------------------------------------------------------

    def _around(self, make: Callable[[Pipeline], Node], what: str) -> Stream[Any]:
        """A new stream whose source is a node built around this whole pipeline."""
        return Stream._wrap(self._pipe.around(make, what))

    def _then(self, stage: Stage) -> Stream[Any]:
        return Stream._wrap(self._pipe.then(stage))

    def _combined(
        self, others: tuple[object, ...], make: Callable[[list[Pipeline]], Node], where: str
    ) -> Stream[Any]:
        """A stream over a node reading this pipeline and ``others`` (taken over)."""
        sources = (self, *others)
        parts: list[Stream[Any]] = []
        for source in sources:
            if not is_iterable(source):
                raise TypeError(
                    f"{where}() expects async iterables or iterables, "
                    f"got {type(source).__name__}: {source!r}"
                )
            parts.append(stream(source))
        # Every part is checked before any of them is taken over.
        for part in parts:
            part._pipe.check_new(f"pass it to {where}()")
        pipes = [part._pipe.move(f"pass it to {where}()") for part in parts]
        combined = Pipeline(make(pipes))
        # Closing any of the streams given closes the whole combined pipeline.
        combined.take_over([s._pipe for s in sources if isinstance(s, Stream)])
        return Stream._wrap(combined)

    # -- iteration and lifecycle ----------------------------------------

    def __aiter__(self) -> AsyncIterator[T_co]:
        return self._pipe.aiter()

    def __anext__(self) -> Awaitable[T_co]:
        return self._pipe.anext()

    async def aclose(self) -> None:
        """Close the pipeline and every source it owns; calling it again does nothing."""
        await self._pipe.aclose()

    async def __aenter__(self) -> Self:
        """Open the scope that owns the pipeline's background work, if it has any; ``x is s``.

        A purely sequential pipeline opens no task group, so a generator of
        yours may yield inside ``async with stream:`` safely.
        """
        await self._pipe.enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._pipe.finish(exc)

    async def _terminal(self, sink: Sink, what: str) -> Any:
        return await self._pipe.run_to(sink, what)

    # -- operators -------------------------------------------------------

    @overload
    def map(
        self, fn: Callable[[T_co], Awaitable[U]], *, concurrency: int = 1, ordered: bool = True
    ) -> Stream[U]: ...
    @overload
    def map(
        self, fn: Callable[[T_co], U], *, concurrency: int = 1, ordered: bool = True
    ) -> Stream[U]: ...
    def map(
        self, fn: Callable[[T_co], Any], *, concurrency: int = 1, ordered: bool = True
    ) -> Stream[Any]:
        """Apply ``fn`` (sync or async) to each item.

        Args:
            fn: called with each item; an ``async def`` function is awaited.
            concurrency: how many calls may run at once (1: one after another).
            ordered: with ``concurrency > 1``, keep the input order.
        """

        check_count(concurrency, "map", "concurrency", minimum=1)
        stage = _transform.Map(fn)
        if concurrency == 1:
            return self._then(stage)
        return self._around(
            lambda up: _workers.Workers(up, fn, stage.is_async, concurrency, bool(ordered)), "map"
        )

    @overload
    def filter(self, pred: Callable[[T_co], TypeGuard[U]]) -> Stream[U]: ...
    @overload
    def filter(self, pred: Callable[[T_co], object]) -> Stream[T_co]: ...
    def filter(self, pred: Callable[[T_co], object]) -> Stream[Any]:
        """Keep the items for which ``pred`` (sync or async) is true."""

        return self._then(_transform.Filter(pred))

    @overload
    def flat_map(
        self, fn: Callable[[T_co], Awaitable[AsyncIterable[U] | Iterable[U]]]
    ) -> Stream[U]: ...
    @overload
    def flat_map(self, fn: Callable[[T_co], AsyncIterable[U] | Iterable[U]]) -> Stream[U]: ...
    def flat_map(self, fn: Callable[[T_co], Any]) -> Stream[Any]:
        """Replace each item by the items of ``fn(item)``, a sync or async iterable.

        An async iterable returned by ``fn`` is closed as soon as it is
        exhausted or the stream stops early.
        """

        return self._then(_transform.FlatMap(fn))

    @overload
    def flatten(self: Stream[AsyncIterable[U]]) -> Stream[U]: ...
    @overload
    def flatten(self: Stream[Iterable[U]]) -> Stream[U]: ...
    def flatten(self: Stream[Any]) -> Stream[Any]:
        """Replace each item, a sync or async iterable, by its items."""

        return self._then(_transform.FlatMap(None))

    @overload
    def scan(self, fn: Callable[[U, T_co], Awaitable[U]], initial: U) -> Stream[U]: ...
    @overload
    def scan(self, fn: Callable[[U, T_co], U], initial: U) -> Stream[U]: ...
    @overload
    def scan(self: Stream[T], fn: Callable[[T, T], Awaitable[T]]) -> Stream[T]: ...
    @overload
    def scan(self: Stream[T], fn: Callable[[T, T], T]) -> Stream[T]: ...
    def scan(self, fn: Callable[[Any, Any], Any], initial: object = NOTHING) -> Stream[Any]:
        """Running accumulation: yields ``fn(acc, item)`` for each item.

        ``initial`` itself is not yielded: ``[1, 2, 3]`` with ``+`` and ``0``
        gives ``1, 3, 6``. Without ``initial`` the first item starts the
        accumulation and is yielded as it is, like ``itertools.accumulate``.
        """

        return self._then(_transform.Scan(fn, initial))

    def enumerate(self, start: int = 0) -> Stream[tuple[int, T_co]]:
        """Pairs ``(index, item)``, counting from ``start``."""

        return self._then(_transform.Enumerate(start))

    def take(self, n: int) -> Stream[T_co]:
        """The first ``n`` items; an async source is pulled exactly ``n`` times."""

        return self._then(Take(n))

    def skip(self, n: int) -> Stream[T_co]:
        """Everything after the first ``n`` items."""

        return self._then(Skip(n))

    def take_while(self, pred: Callable[[T_co], object]) -> Stream[T_co]:
        """Items up to (not including) the first one for which ``pred`` is false."""

        return self._then(TakeWhile(pred))

    def drop_while(self, pred: Callable[[T_co], object]) -> Stream[T_co]:
        """Items from the first one for which ``pred`` is false onwards."""

        return self._then(DropWhile(pred))

    def distinct(self, key: Callable[[T_co], object] | None = None) -> Stream[T_co]:
        """Drop every item whose key (the item itself by default) was seen before.

        The first occurrence wins. Memory grows with the number of distinct
        keys; unhashable keys work too, compared with ``==`` (slower).
        """

        return self._then(_transform.Distinct(key))

    def batch(self, size: int, *, timeout: float | None = None) -> Stream[list[T_co]]:
        """Lists of ``size`` items; the last one may be shorter, none is empty.

        Args:
            size: items per list, at least 1.
            timeout: seconds after a batch's first item when a partial batch
                is handed over anyway.
        """

        stage = _batch.Batch(size)
        if timeout is None:
            return self._then(stage)
        seconds = check_seconds(timeout, "batch", "timeout")
        return self._around(lambda up: _batch.TimedBatch(up, stage.size, seconds), "batch")

    def prefetch(self, n: int) -> Stream[T_co]:
        """Read up to ``n`` items ahead in a background task, while the consumer works.

        At most ``n`` items are held, plus the one being handed over. Iterate
        inside ``async with`` or consume with a terminal operation.
        """
        check_count(n, "prefetch")
        return self._around(lambda up: _flow.Prefetch([up], n), "prefetch")

    def throttle(self, rate: int, *, per: float = 1.0) -> Stream[T_co]:
        """At most ``rate`` items in any window of ``per`` seconds; delays, never drops."""
        return self._then(_flow.Throttle(rate, per))

    def timeout(self, seconds: float) -> Stream[T_co]:
        """Raise ``TimeoutError`` when the next item takes longer than ``seconds``.

        The clock starts at each pull. The error ends the stream: the pending
        pull is cancelled and the upstream closed.
        """
        seconds = check_seconds(seconds, "timeout")
        return self._around(lambda up: _flow.Timeout(up, seconds), "timeout")

    def tee(
        self, n: int = 2, *, buffer: int = _fanout.DEFAULT_TEE_BUFFER
    ) -> tuple[Stream[T_co], ...]:
        """``n`` streams that each give every item of this one, which is read once.

        A child may run at most ``buffer`` items ahead of the slowest child
        that is still open; beyond that its reads wait, so children read one
        after another in the same task must stay within ``buffer`` of each
        other. Children may be iterated from different tasks at once. The
        source is closed when the last child is closed.

        Args:
            n: how many streams (at least 1).
            buffer: items a child may run ahead (at least 1; default 1024).
        """
        check_count(n, "tee", minimum=1)
        check_count(buffer, "tee", "buffer", minimum=1)
        inner = self._pipe.move("apply an operator (tee)")
        source = _fanout.TeeSource(inner, n, buffer)
        children: list[Stream[Any]] = []
        for child in range(n):
            pipe = Pipeline(_fanout.TeeChild(source, child))
            pipe.scope = inner.scope
            children.append(Stream._wrap(pipe))
        return tuple(children)

    def chain(self, *others: AsyncIterable[U] | Iterable[U]) -> Stream[T_co | U]:
        """This stream's items, then each of ``others``' in turn (taken over)."""
        return self._combined(others, _combine.Concat, "concat")

    def merge_with(
        self, *others: AsyncIterable[U] | Iterable[U], buffer: int = _combine.DEFAULT_MERGE_BUFFER
    ) -> Stream[T_co | U]:
        """The items of this stream and ``others``, as they arrive: :func:`merge` as a method."""
        check_count(buffer, "merge", "buffer")
        return self._combined(others, lambda parts: _combine.Merge(parts, buffer), "merge")

    @overload
    def zip_with(self, s2: _AnyIterable[T2], /) -> Stream[tuple[T_co, T2]]: ...
    @overload
    def zip_with(
        self, s2: _AnyIterable[T2], s3: _AnyIterable[T3], /
    ) -> Stream[tuple[T_co, T2, T3]]: ...
    @overload
    def zip_with(
        self, s2: _AnyIterable[T2], s3: _AnyIterable[T3], s4: _AnyIterable[T4], /
    ) -> Stream[tuple[T_co, T2, T3, T4]]: ...
    @overload
    def zip_with(
        self,
        s2: _AnyIterable[T2],
        s3: _AnyIterable[T3],
        s4: _AnyIterable[T4],
        s5: _AnyIterable[T5],
        /,
    ) -> Stream[tuple[T_co, T2, T3, T4, T5]]: ...
    @overload
    def zip_with(self, *others: _AnyIterable[Any]) -> Stream[tuple[Any, ...]]: ...
    def zip_with(self, *others: _AnyIterable[Any]) -> Stream[tuple[Any, ...]]:
        """Tuples of an item of this stream and of each of ``others``: :func:`zip` as a method."""
        return self._combined(others, _combine.Zip, "zip")

    def batches(self) -> Stream[list[T_co]]:
        """The engine's own batches as lists, not re-cut (for bulk writes).

        A batch source (a list, a range, :func:`from_batches`, a DB cursor)
        gives its batches after the stages ran over them; an async source of
        single items gives one list per item it produces.
        """
        return Stream._wrap(self._pipe.batches())

    # -- terminal operations ----------------------------------------------

    async def to_list(self) -> list[T_co]:
        """All items, in a list."""
        result: list[T_co] = await self._terminal(ToList(), "collect it")
        return result

    async def count(self) -> int:
        """The number of items."""
        result: int = await self._terminal(Count(), "count it")
        return result

    async def first(self) -> T_co:
        """The first item; :class:`~sluiceway.errors.EmptyStreamError` if there is none."""
        result: T_co = await self._terminal(First(), "take its first item")
        return result

    async def last(self) -> T_co:
        """The last item; :class:`~sluiceway.errors.EmptyStreamError` if there is none."""
        result: T_co = await self._terminal(Last(), "take its last item")
        return result

    @overload
    async def reduce(self, fn: Callable[[U, T_co], Awaitable[U]], initial: U) -> U: ...
    @overload
    async def reduce(self, fn: Callable[[U, T_co], U], initial: U) -> U: ...
    @overload
    async def reduce(self: Stream[T], fn: Callable[[T, T], Awaitable[T]]) -> T: ...
    @overload
    async def reduce(self: Stream[T], fn: Callable[[T, T], T]) -> T: ...
    async def reduce(self, fn: Callable[[Any, Any], Any], initial: object = NOTHING) -> Any:
        """Fold the items with ``fn(acc, item)`` (sync or async), starting from ``initial``.

        Without ``initial`` the first item starts the fold, and an empty
        stream raises :class:`~sluiceway.errors.EmptyStreamError`.
        """
        return await self._terminal(Reduce(fn, initial), "reduce it")

    async def foreach(self, fn: Callable[[T_co], object], *, concurrency: int = 1) -> None:
        """Call ``fn`` (sync or async) on each item, for its effect."""
        check_count(concurrency, "foreach", "concurrency", minimum=1)
        if concurrency == 1:
            await self._terminal(Foreach(fn), "run foreach over it")
            return
        await self.map(fn, concurrency=concurrency, ordered=False)._terminal(
            Count(), "run foreach over it"
        )


def stream(source: AsyncIterable[T] | Iterable[T]) -> Stream[T]:
    """A :class:`Stream` over any async iterable or iterable.

    The stream owns ``source``: it is closed (``aclose()`` for an async
    iterator, ``close()`` for a sync generator) when the stream ends or is
    closed, even if it was never started. Wrap it in :func:`borrow` to keep it
    open. A Stream passed in is returned as it is.

    Raises:
        TypeError: ``source`` is not iterable.
    """
    if isinstance(source, Stream):
        return source  # pyright: ignore[reportUnknownVariableType]
    return Stream(node_for(source))


def from_batches(source: AsyncIterable[Sequence[T]] | Iterable[Sequence[T]]) -> Stream[T]:
    """A stream of the items of each batch (a sequence) from ``source``.

    The batches travel through the engine whole: fused stages loop over each
    one without an ``await`` per item, terminal operations take them whole,
    and :meth:`Stream.batches` gives them back.

    Raises:
        TypeError: ``source`` is not iterable.
    """
    if not is_iterable(source):
        raise TypeError(
            "from_batches() expects an async iterable or an iterable of sequences, "
            f"got {type(source).__name__}: {source!r}"
        )
    return Stream(BatchSource(source))


def borrow(source: AsyncIterable[T] | Iterable[T]) -> Stream[T]:
    """A stream over ``source`` that never closes it: the caller keeps ownership.

    Closing the stream (or an operator finishing early, such as ``take``)
    leaves ``source`` open and where the stream stopped reading it, so it can
    be read on afterwards. A borrowed sync iterator is read one item at a
    time, never ahead.

    Raises:
        TypeError: ``source`` is not iterable.
    """
    if isinstance(source, Stream):
        raise TypeError("borrow() takes a source, not a Stream (a Stream owns its pipeline)")
    return Stream(node_for(source, owned=False, where="borrow"))


def _first(sources: tuple[object, ...], where: str) -> Stream[Any]:
    """The stream the combining function starts from: the first source, or an empty one."""
    if not sources:
        return Stream(())
    first = sources[0]
    if not is_iterable(first):
        raise TypeError(
            f"{where}() expects async iterables or iterables, got {type(first).__name__}: {first!r}"
        )
    return stream(first)


def concat(*sources: AsyncIterable[T] | Iterable[T]) -> Stream[T]:
    """The items of each source in turn; each is closed as soon as it is done.

    Takes over every source given as a Stream; raw iterables are wrapped with
    :func:`~sluiceway.stream` (and so owned too).
    """
    return _first(sources, "concat").chain(*sources[1:])


@overload
def zip(s1: _AnyIterable[T1], /) -> Stream[tuple[T1]]: ...
@overload
def zip(s1: _AnyIterable[T1], s2: _AnyIterable[T2], /) -> Stream[tuple[T1, T2]]: ...
@overload
def zip(
    s1: _AnyIterable[T1], s2: _AnyIterable[T2], s3: _AnyIterable[T3], /
) -> Stream[tuple[T1, T2, T3]]: ...
@overload
def zip(
    s1: _AnyIterable[T1], s2: _AnyIterable[T2], s3: _AnyIterable[T3], s4: _AnyIterable[T4], /
) -> Stream[tuple[T1, T2, T3, T4]]: ...
@overload
def zip(
    s1: _AnyIterable[T1],
    s2: _AnyIterable[T2],
    s3: _AnyIterable[T3],
    s4: _AnyIterable[T4],
    s5: _AnyIterable[T5],
    /,
) -> Stream[tuple[T1, T2, T3, T4, T5]]: ...
@overload
def zip(*sources: _AnyIterable[Any]) -> Stream[tuple[Any, ...]]: ...
def zip(*sources: _AnyIterable[Any]) -> Stream[tuple[Any, ...]]:
    """Tuples of one item from each source, until the shortest one ends.

    Like the builtin ``zip``: the item already pulled from a longer source
    when a shorter one ends is dropped. Every source is closed at the end.
    """
    return _first(sources, "zip").zip_with(*sources[1:])


@overload
def merge(s1: _AnyIterable[T1], /, *, buffer: int = ...) -> Stream[T1]: ...
@overload
def merge(
    s1: _AnyIterable[T1], s2: _AnyIterable[T2], /, *, buffer: int = ...
) -> Stream[T1 | T2]: ...
@overload
def merge(
    s1: _AnyIterable[T1], s2: _AnyIterable[T2], s3: _AnyIterable[T3], /, *, buffer: int = ...
) -> Stream[T1 | T2 | T3]: ...
@overload
def merge(
    s1: _AnyIterable[T1],
    s2: _AnyIterable[T2],
    s3: _AnyIterable[T3],
    s4: _AnyIterable[T4],
    /,
    *,
    buffer: int = ...,
) -> Stream[T1 | T2 | T3 | T4]: ...
@overload
def merge(*sources: _AnyIterable[T], buffer: int = ...) -> Stream[T]: ...
def merge(*sources: _AnyIterable[Any], buffer: int = _combine.DEFAULT_MERGE_BUFFER) -> Stream[Any]:
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
    return _first(sources, "merge").merge_with(*sources[1:], buffer=buffer)
