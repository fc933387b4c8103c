"""Where a pipeline's items come from.

A node is opened at most once and closed exactly once, whether or not it was
opened. ``batched`` nodes hand the engine sequences of items (the fused stages
then loop over each sequence without an ``await`` per item); the others hand
it single items, pulled exactly as the consumer asks for them.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Generator,
    Iterable,
    Iterator,
    Sequence,
)
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeGuard

from anyio.lowlevel import checkpoint

from ._lifecycle import Opened, aclose_iterator, close_within
from ._scope import raise_first

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._scope import Scope

__all__ = [
    "BATCH_SIZE",
    "AsyncSource",
    "BatchSource",
    "Composite",
    "Node",
    "Source",
    "SyncItems",
    "SyncSource",
    "is_iterable",
    "node_for",
]

#: Items per batch cut from a sync iterable; a sync iterator is read at most this far ahead.
BATCH_SIZE = 1024

_SLICEABLE = (list, tuple, range)


class Node:
    """The start of a pipeline: opened at most once, closed exactly once.

    A node is an async iterable only so that ``Stream(node)`` takes it as the
    stream's source, as it is; it is iterated through a Stream, never directly.
    """

    __slots__ = ("_closed",)

    batched: bool = False
    #: Whether the iterator ``open()`` returns may go to the consumer as it is:
    #: it is the node's own, and closing the node closes it.
    hands_out_own: bool = False

    def __init__(self) -> None:
        self._closed = False

    @property
    def needs_scope(self) -> bool:
        """Whether opening it starts background tasks, which need a Scope."""
        return False

    @property
    def wants_scope(self) -> bool:
        """Whether it would use a Scope (to read ahead) when there is one; it runs without."""
        return False

    def __aiter__(self) -> AsyncIterator[Any]:
        raise TypeError(f"iterate a sluiceway.Stream over {self.describe()}, not the node itself")

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    def on_leave(self, leaving: BaseException | None) -> None:
        """The consumer of the stream this node starts is done, before the node closes.

        ``leaving`` is the consumer's exception (None for a clean exit of
        ``async with`` or a terminal operation). Called once or more; a
        source that acts on a clean exit (acknowledging) overrides it.
        """

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        """Start producing: items, or sequences of items when ``batched``.

        ``scope`` owns any background task the node starts; it is None when
        the stream is iterated outside ``async with``.
        """
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what the node owns; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        await self.release()

    async def release(self) -> None:
        """Release what the node owns (called once, by :meth:`aclose`)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Source(Node):
    """The internal source API: a node whose items come from one async generator of its own.

    An I/O source (SSE, pagination, databases, brokers) subclasses it:

    - :meth:`run` makes the generator (called once, when the stream starts,
      with the stream's scope, or None outside ``async with``);
    - :meth:`release` closes what else it owns, after calling the base one;
    - :meth:`describe` names it in reprs;
    - ``needs_scope`` / ``wants_scope`` say whether it must or may run
      background tasks; :meth:`on_leave` hears of a clean exit;

    and its public function returns ``Stream(source)`` (or a subclass of
    Stream that keeps the source to expose its state). The generator goes to
    the consumer as it is (one hop less), and closing the node closes it.
    """

    __slots__ = ("_gen",)

    hands_out_own = True

    def __init__(self) -> None:
        super().__init__()
        self._gen: AsyncGenerator[Any, None] | None = None

    def run(self, scope: Scope | None) -> AsyncGenerator[Any, None]:
        """The generator to hand out (called once, by ``open``)."""
        raise NotImplementedError

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        self._gen = self.run(scope)
        return self._gen

    async def release(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()


async def _aclose_owned(obj: object) -> None:
    """Close an async iterator (``aclose``) or a sync generator (``close``)."""
    if getattr(obj, "ag_frame", True) is None:
        return  # an async generator that already finished: nothing left to close
    aclose = getattr(obj, "aclose", None)
    if aclose is not None:
        await close_within(aclose, obj)
        return
    if isinstance(obj, Generator):
        obj.close()  # a file or socket passed as an iterable stays the caller's to close


class AsyncSource(Node):
    """An async iterable of single items."""

    __slots__ = ("_it", "_obj", "_owned")

    def __init__(self, obj: AsyncIterable[Any], *, owned: bool = True) -> None:
        super().__init__()
        self._obj = obj
        self._owned = owned
        self._it: AsyncIterator[Any] | None = None

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        self._it = self._obj.__aiter__()
        return self._it

    async def release(self) -> None:
        if self._owned:
            # A never-opened source is closed too, when it is an iterator itself.
            await _aclose_owned(self._it if self._it is not None else self._obj)

    def describe(self) -> str:
        return repr(self._obj)


class _ChunkedSource(Node):
    """A node whose ``open()`` runs one of our own async generators over a sync object."""

    __slots__ = ("_gen", "_it", "_obj", "_owned")

    def __init__(self, obj: Iterable[Any], *, owned: bool = True) -> None:
        super().__init__()
        self._obj = obj
        self._owned = owned
        self._it: Iterator[Any] | None = None
        self._gen: AsyncGenerator[Any, None] | None = None

    async def release(self) -> None:
        gen = self._gen
        if gen is not None:
            await gen.aclose()
        if self._owned:
            await _aclose_owned(self._it if self._it is not None else self._obj)

    def describe(self) -> str:
        return repr(self._obj)


class SyncSource(_ChunkedSource):
    """A sync iterable, moved through the engine in batches of ``BATCH_SIZE``.

    Lists, tuples and ranges are sliced; other iterables are read ahead up to
    one batch. Items read before the iterable raises are delivered first.
    Between batches the engine checkpoints, so a long sync source stays
    cancellable and fair to other tasks.
    """

    __slots__ = ()
    batched = True

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        obj = self._obj
        # Exactly these types: a subclass may iterate differently from its slices.
        if isinstance(obj, list | tuple | range) and type(obj) in _SLICEABLE:
            self._gen = _slices(obj)
        else:
            self._it = iter(obj)
            self._gen = _chunks(self._it)
        return self._gen


async def _slices(seq: Sequence[Any]) -> AsyncGenerator[Sequence[Any], None]:
    if len(seq) <= BATCH_SIZE:
        if seq:
            yield seq
        return
    start = 0
    while start < len(seq):
        if start:
            await checkpoint()
        yield seq[start : start + BATCH_SIZE]
        start += BATCH_SIZE


async def _chunks(it: Iterator[Any]) -> AsyncGenerator[list[Any], None]:
    while True:
        chunk: list[Any] = []
        try:
            # extend() keeps the items it got before the iterator raised
            chunk.extend(islice(it, BATCH_SIZE))
        except Exception:
            if chunk:
                yield chunk
            raise
        if chunk:
            yield chunk
        if len(chunk) < BATCH_SIZE:
            return
        await checkpoint()


class SyncItems(_ChunkedSource):
    """A sync iterator pulled one item at a time (a borrowed one: no read-ahead)."""

    __slots__ = ()

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        self._it = iter(self._obj)
        self._gen = _one_by_one(self._it)
        return self._gen


async def _one_by_one(it: Iterator[Any]) -> AsyncGenerator[Any, None]:
    for count, item in enumerate(it, 1):
        yield item
        if count % BATCH_SIZE == 0:
            await checkpoint()


class BatchSource(Node):
    """An iterable (sync or async) of sequences of items: ``from_batches()``."""

    __slots__ = ("_gen", "_it", "_obj")
    batched = True

    def __init__(self, obj: AsyncIterable[Sequence[Any]] | Iterable[Sequence[Any]]) -> None:
        super().__init__()
        self._obj = obj
        self._it: AsyncIterator[Any] | Iterator[Any] | None = None
        self._gen: AsyncGenerator[Any, None] | None = None

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        obj = self._obj
        if isinstance(obj, AsyncIterable):
            self._it = obj.__aiter__()
            self._gen = _async_batches(self._it)
        else:
            self._it = iter(obj)
            self._gen = _sync_batches(self._it)
        return self._gen

    async def release(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()
        await _aclose_owned(self._it if self._it is not None else self._obj)

    def describe(self) -> str:
        return f"from_batches({self._obj!r})"


def _as_sequence(batch: Iterable[Any]) -> Sequence[Any]:
    """A batch that is an iterator or a set becomes a list; sequences pass as they are."""
    if isinstance(batch, Sequence):
        return batch
    return list(batch)


async def _async_batches(it: AsyncIterator[Iterable[Any]]) -> AsyncGenerator[Sequence[Any], None]:
    async for batch in Opened(it):
        yield _as_sequence(batch)


async def _sync_batches(it: Iterator[Iterable[Any]]) -> AsyncGenerator[Sequence[Any], None]:
    first = True
    for batch in it:
        if not first:
            await checkpoint()
        first = False
        yield _as_sequence(batch)


def is_iterable(obj: object) -> TypeGuard[AsyncIterable[Any] | Iterable[Any]]:
    """Whether ``obj`` is an async iterable or an iterable."""
    return isinstance(obj, AsyncIterable | Iterable)


def node_for(source: object, *, owned: bool = True, where: str = "stream") -> Node:
    """The node for a user's source; TypeError for anything not iterable."""
    if isinstance(source, AsyncIterable):
        return AsyncSource(source, owned=owned)  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(source, Iterable):
        items: Iterable[Any] = source  # pyright: ignore[reportUnknownVariableType]
        if not owned and type(items) not in _SLICEABLE:
            return SyncItems(items, owned=False)
        return SyncSource(items, owned=owned)
    raise TypeError(
        f"{where}() expects an async iterable or an iterable, "
        f"got {type(source).__name__}: {source!r}"
    )


class Composite(Node):
    """A node that reads other pipelines (concat, zip, timeout, tee, segments).

    It needs a scope if any of its inputs does; closing it closes the
    iterator :meth:`run` returned, then every input (all of them, the first
    error raised after, the others noted on it).
    """

    __slots__ = ("_inputs", "_it")

    def __init__(self, inputs: list[Pipeline]) -> None:
        super().__init__()
        self._inputs = inputs
        self._it: AsyncIterator[Any] | None = None

    @property
    def needs_scope(self) -> bool:
        return any(pipe.needs_scope for pipe in self._inputs)

    @property
    def wants_scope(self) -> bool:
        return any(pipe.wants_scope for pipe in self._inputs)

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        self._it = self.run(scope)
        return self._it

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        """Start reading the inputs; the items (or batches) come out of the result."""
        raise NotImplementedError

    async def release(self) -> None:
        try:
            if self._it is not None:
                await aclose_iterator(self._it)
        finally:
            await self.release_inputs()

    async def release_inputs(self) -> None:
        errors: list[BaseException] = []
        for pipe in self._inputs:
            try:
                await pipe.aclose()
            except BaseException as exc:
                errors.append(exc)
        raise_first(errors, None)
