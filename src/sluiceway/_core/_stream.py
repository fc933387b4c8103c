"""The Stream: a one-shot, lazily built pipeline over an async or sync source."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Self, TypeGuard, TypeVar, overload

import anyio

from ..errors import EmptyStreamError, StreamConsumedError, StreamNotEnteredError

# The operators' stages live in sluiceway.ops; _combine imports this module
# back, so it is bound as a module and used only at call time.
from ..ops import (
    _batch,
    _combine,  # pyright: ignore[reportPrivateUsage]
    _fanout,
    _flow,
    _slicing,
    _transform,
    _workers,
)
from . import _sinks
from ._callables import check_count, check_seconds
from ._codegen import NOTHING, Sink, Stage, compile_pipeline, fusable_prefix
from ._lifecycle import Once, beneath_sources, close_within
from ._nodes import BatchSource, Node, OverStreams, is_iterable, node_for
from ._scope import Scope, raise_first

if TYPE_CHECKING:
    from collections.abc import (
        AsyncIterable,
        AsyncIterator,
        Awaitable,
        Callable,
        Iterable,
        Sequence,
    )
    from types import TracebackType

__all__ = ["Stream", "borrow", "from_batches", "stream"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
U = TypeVar("U")

# States of a Stream object.
_NEW = 0  # built, not started: operators, terminals and iteration may use it
_RUNNING = 1  # being iterated or consumed by a terminal operation
_DONE = 2  # ended or closed: __anext__ raises StopAsyncIteration
_MOVED = 3  # taken over by an operator; closing it closes the taker

_ITEMS = _sinks.Items()
_BATCHES = _sinks.Batches()


async def _stop_iteration() -> Any:
    raise StopAsyncIteration


class Stream(Generic[T_co]):
    """A pipeline of items of type ``T_co`` that is iterated once.

    Build one with :func:`stream` (or ``Stream(source)``), add operators, then
    consume it with ``async for`` or a terminal operation such as
    :meth:`to_list`. Operators are lazy and take the stream they are called
    on over: use the returned stream, not the old one. ``async with stream:``
    closes every source of the pipeline, exactly once, when the block is left
    in any way. Terminal operations close the pipeline themselves.
    """

    __slots__ = (
        "__weakref__",
        "_agen",
        "_aiter_done",
        "_node",
        "_own_scope",
        "_raw",
        "_scope",
        "_stages",
        "_state",
        "_successor",
    )

    _node: Node
    _stages: tuple[Stage, ...]
    _state: int
    _agen: AsyncIterator[Any] | None
    _aiter_done: bool
    _successor: Stream[Any] | None
    _scope: Scope | None
    _own_scope: bool
    _raw: bool

    def __init__(self, source: AsyncIterable[T_co] | Iterable[T_co]) -> None:
        if isinstance(source, Stream):
            taken: Stream[Any] = source._move("Stream")  # pyright: ignore[reportUnknownMemberType]
            self._setup(taken._node, taken._stages)
            source._successor = self  # pyright: ignore[reportUnknownMemberType]
        else:
            self._setup(node_for(source, where="Stream"), ())

    def _setup(self, node: Node, stages: tuple[Stage, ...]) -> None:
        self._node = node
        self._stages = stages
        self._state = _NEW
        self._agen = None
        self._aiter_done = False
        self._successor = None
        self._scope = None
        self._own_scope = False
        self._raw = False

    @classmethod
    def _from(cls, node: Node, stages: tuple[Stage, ...] = ()) -> Stream[Any]:
        new = cls.__new__(cls)
        new._setup(node, stages)
        return new

    def __repr__(self) -> str:
        ops = "".join(f" | {type(stage).__name__.lower()}" for stage in self._stages)
        state = ("new", "running", "done", "moved")[self._state]
        return f"<Stream {self._node.describe()}{ops} ({state})>"

    # -- ownership -------------------------------------------------------

    def _check_new(self, what: str) -> None:
        if self._state != _NEW:
            how = {
                _RUNNING: "is already being iterated",
                _DONE: "was already consumed or closed",
                _MOVED: "was handed to an operator; use the stream that operator returned",
            }[self._state]
            raise StreamConsumedError(f"cannot {what}: this Stream {how}")

    def _move(self, what: str) -> Stream[Any]:
        """Hand this pipeline to a new Stream object; this one becomes unusable."""
        self._check_new(what)
        new = Stream._from(self._node, self._stages)
        new._scope = self._scope  # shared: the stream that entered it exits it
        self._state = _MOVED
        self._successor = new
        return new

    def _around(self, make: Callable[[Stream[Any]], Node], what: str) -> Stream[Any]:
        """A new stream whose source is a node built around this whole pipeline."""
        inner = self._move(f"apply an operator ({what})")
        outer = Stream._from(make(inner))
        outer._scope = inner._scope
        self._successor = outer
        return outer

    def _then(self, stage: Stage) -> Stream[Any]:
        new = self._move(f"apply an operator ({type(stage).__name__.lower()})")
        new._stages = (*new._stages, stage)
        return new

    def _fused(self) -> tuple[Node, tuple[Stage, ...]]:
        """The node and stages to compile; a very long chain is cut into segments."""
        node, stages = self._node, self._stages
        while (k := fusable_prefix(stages)) < len(stages):
            node, stages = _Segment([Stream._from(node, stages[:k])]), stages[k:]
        if node is not self._node:
            self._node = node  # closing the outer segment closes the ones inside
        return node, stages

    def _engine(
        self, batched: bool, scope: Scope | None, *, raw: bool = False
    ) -> AsyncIterator[Any]:
        """Start the pipeline; items (or lists of items) come out of the returned iterator.

        With ``raw`` (a pull from inside the engine, closed by its owner with
        ``aclose()``), a pipeline without stages hands out its node's own
        iterator: one hop less per item.
        """
        self._check_new("iterate it")
        node, stages = self._fused()
        if scope is None and node.needs_scope:
            raise StreamNotEnteredError(
                "this stream runs background tasks; iterate it inside `async with stream:` "
                "or consume it with a terminal operation such as to_list() or foreach()"
            )
        self._state = _RUNNING
        if not stages and not batched and not node.batched and (raw or node.hands_out_own):
            self._raw = True  # aclose() leaves the iterator to the node
            self._agen = node.open(scope)
            return self._agen
        fn, args = compile_pipeline(node.batched, stages, _BATCHES if batched else _ITEMS, _HELPERS)
        agen: AsyncIterator[Any] = fn(Once(node.open(scope)), node.aclose, *args)
        self._agen = agen
        return agen

    @property
    def _needs_scope(self) -> bool:
        return self._node.needs_scope

    # -- iteration and lifecycle ----------------------------------------

    def __aiter__(self) -> AsyncIterator[T_co]:
        if self._aiter_done:
            raise StreamConsumedError("cannot iterate this Stream twice")
        agen = self._agen if self._state == _RUNNING else None
        if agen is None:
            agen = self._engine(False, self._scope)
        self._aiter_done = True
        return agen

    def __anext__(self) -> Awaitable[T_co]:
        agen = self._agen
        if agen is None:
            if self._state == _NEW:
                agen = self._engine(False, self._scope)
            elif self._state == _DONE:
                return _stop_iteration()
            else:
                self._check_new("iterate it")
        return agen.__anext__()  # type: ignore[union-attr]  # set by _engine() above

    async def aclose(self) -> None:
        """Close the pipeline and every source it owns; calling it again does nothing."""
        if self._successor is not None:
            await self._successor.aclose()
            return
        if self._state == _DONE:
            return
        self._state = _DONE
        agen = self._agen
        try:
            if agen is not None and not self._raw:
                # Runs the pipeline's own finally, which closes the node (shielded).
                await agen.aclose()  # type: ignore[attr-defined]  # the generated async generator
        finally:
            # For a pipeline that never started, its finally never ran.
            await self._node.aclose()

    def _on_leave(self, leaving: BaseException | None) -> None:
        """The consumer is done (``leaving``: its exception), before the sources close.

        Called once or more; a source stream that acts on a clean exit overrides it.
        """

    async def _finish(
        self, leaving: BaseException | None, errors: list[BaseException] | None = None
    ) -> None:
        """Close, end the scope this stream opened, and raise what was not delivered.

        With ``leaving`` (the consumer's own exception, already on its way
        out) every failure found here is attached to it as a note instead.
        ``errors``: failures of a close already made, raised first.
        """
        self._on_leave(leaving)
        errors = [] if errors is None else errors
        try:
            await self.aclose()
        except Exception as exc:
            errors.append(exc)
        scope = self._scope
        if scope is not None and self._own_scope:
            self._own_scope = False
            await scope.exit()  # waits for the background tasks (shielded)
            errors.extend(scope.undelivered)
            scope.undelivered.clear()
        raise_first(errors, leaving)

    async def __aenter__(self) -> Self:
        """Open the scope that owns the pipeline's background work, if it has any; ``x is s``.

        A purely sequential pipeline opens no task group, so a generator of
        yours may yield inside ``async with stream:`` safely.
        """
        last: Stream[Any] = self
        while last._successor is not None:  # operators may already have taken it over
            last = last._successor
        if self._scope is None and last._needs_scope:
            scope = Scope()
            await scope.enter()
            self._scope = scope
            self._own_scope = True
            taker = self._successor
            while taker is not None:
                if taker._scope is None:
                    taker._scope = scope
                taker = taker._successor
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._finish(exc)

    async def _terminal(self, sink: Sink, what: str) -> Any:
        self._check_new(what)
        node, stages = self._fused()
        if self._scope is None and node.needs_scope:
            await self.__aenter__()
        self._state = _RUNNING
        fn, args = compile_pipeline(node.batched, stages, sink, _HELPERS)
        failure: BaseException | None = None
        errors: list[BaseException] = []
        # The sources run in this task, above this scope, and are closed inside it:
        # closing them shields it instead of entering a scope above a cancel scope
        # a source holds across its yield (see close_within). No code of the
        # caller's runs inside.
        with anyio.CancelScope() as beneath, beneath_sources(beneath):
            try:
                result = await fn(Once(node.open(self._scope)), *args)
            except BaseException as exc:
                failure = exc
            self._on_leave(failure)
            try:
                await self.aclose()
            except Exception as exc:
                errors.append(exc)
        if beneath.cancel_called and isinstance(failure, anyio.get_cancelled_exc_class()):
            # Cut short by the grace period of a close made before the end (warned).
            failure = RuntimeError(
                f"sluiceway: could not {what}: a source closed before its end did not "
                "finish closing within the grace period"
            )
        await self._finish(failure, errors)
        if failure is not None:
            raise failure
        return result  # pyright: ignore[reportPossiblyUnboundVariable]  # set unless failure

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

        return self._then(_slicing.Take(n))

    def skip(self, n: int) -> Stream[T_co]:
        """Everything after the first ``n`` items."""

        return self._then(_slicing.Skip(n))

    def take_while(self, pred: Callable[[T_co], object]) -> Stream[T_co]:
        """Items up to (not including) the first one for which ``pred`` is false."""

        return self._then(_slicing.TakeWhile(pred))

    def drop_while(self, pred: Callable[[T_co], object]) -> Stream[T_co]:
        """Items from the first one for which ``pred`` is false onwards."""

        return self._then(_slicing.DropWhile(pred))

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
        inner = self._move("apply an operator (tee)")
        source = _fanout.TeeSource(inner, n, buffer)
        children: list[Stream[Any]] = []
        for child in range(n):
            stream = Stream._from(_fanout.TeeChild(source, child))
            stream._scope = inner._scope
            children.append(stream)
        return tuple(children)

    def chain(self, *others: AsyncIterable[U] | Iterable[U]) -> Stream[T_co | U]:
        """This stream's items, then each of ``others``' in turn."""
        return _combine.concat(self, *others)

    def batches(self) -> Stream[list[T_co]]:
        """The engine's own batches as lists, not re-cut (for bulk writes).

        A batch source (a list, a range, :func:`from_batches`, a DB cursor)
        gives its batches after the stages ran over them; an async source of
        single items gives one list per item it produces.
        """
        inner = self._move("take its batches")
        outer: Stream[list[T_co]] = Stream._from(_BatchesOf([inner]))
        self._successor = outer
        return outer

    # -- terminal operations ----------------------------------------------

    async def to_list(self) -> list[T_co]:
        """All items, in a list."""
        result: list[T_co] = await self._terminal(_sinks.ToList(), "collect it")
        return result

    async def count(self) -> int:
        """The number of items."""
        result: int = await self._terminal(_sinks.Count(), "count it")
        return result

    async def first(self) -> T_co:
        """The first item; :class:`~sluiceway.errors.EmptyStreamError` if there is none."""
        result: T_co = await self._terminal(_sinks.First(), "take its first item")
        return result

    async def last(self) -> T_co:
        """The last item; :class:`~sluiceway.errors.EmptyStreamError` if there is none."""
        result: T_co = await self._terminal(_sinks.Last(), "take its last item")
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
        return await self._terminal(_sinks.Reduce(fn, initial), "reduce it")

    async def foreach(self, fn: Callable[[T_co], object], *, concurrency: int = 1) -> None:
        """Call ``fn`` (sync or async) on each item, for its effect."""
        check_count(concurrency, "foreach", "concurrency", minimum=1)
        if concurrency == 1:
            await self._terminal(_sinks.Foreach(fn), "run foreach over it")
            return
        await self.map(fn, concurrency=concurrency, ordered=False)._terminal(
            _sinks.Count(), "run foreach over it"
        )


class _Segment(OverStreams):
    """The first part of a chain too long to fuse in one piece, as a source."""

    __slots__ = ("batched",)

    def __init__(self, inputs: list[Stream[Any]]) -> None:
        super().__init__(inputs)
        self.batched = inputs[0]._node.batched  # pyright: ignore[reportPrivateUsage]

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return self._inputs[0]._engine(self.batched, scope)  # pyright: ignore[reportPrivateUsage]

    def describe(self) -> str:
        return self._inputs[0]._node.describe()  # pyright: ignore[reportPrivateUsage]


class _BatchesOf(OverStreams):
    """The lists a pipeline's engine moves, as the items of a new pipeline."""

    __slots__ = ()

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return self._inputs[0]._engine(True, scope)  # pyright: ignore[reportPrivateUsage]

    def describe(self) -> str:
        return f"{self._inputs[0]!r}.batches()"


async def _close_inner(value: object, it: AsyncIterator[Any]) -> None:
    """Close an async iterable that flat_map got from the user's function."""
    if isinstance(value, Stream):
        await value.aclose()
        return
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await close_within(aclose, it)


_HELPERS: dict[str, object] = {
    "_Once": Once,
    "_Window": _flow.Window,
    "_close_inner": _close_inner,
    "EmptyStreamError": EmptyStreamError,
}


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
    return Stream._from(node_for(source))  # pyright: ignore[reportPrivateUsage]


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
    return Stream._from(BatchSource(source))  # pyright: ignore[reportPrivateUsage]


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
    return Stream._from(node_for(source, owned=False, where="borrow"))  # pyright: ignore[reportPrivateUsage]
