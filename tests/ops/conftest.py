"""Fixtures for the operator tests: every kind of source and every kind of callable."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest

import sluiceway as sw

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator


#: Batch sizes cycled through to cut items for from_batches(): irregular, with empty batches.
CHUNK_SIZES = (2, 0, 1, 3)


def chunked(items: Iterable[Any]) -> list[list[Any]]:
    """Cut ``items`` into batches of irregular sizes, some of them empty."""
    items = list(items)
    batches: list[list[Any]] = []
    i = 0
    while i < len(items):
        size = CHUNK_SIZES[len(batches) % len(CHUNK_SIZES)]
        batches.append(items[i : i + size])
        i += size
    return batches


class Probe:
    """An async iterator over ``items`` that counts pulls and closes.

    ``pulls`` counts ``__anext__`` calls, ``closes`` counts ``aclose`` calls;
    with ``error`` set, that exception is raised once the items are used up.
    """

    def __init__(self, items: Iterable[Any] = (), error: BaseException | None = None) -> None:
        self._items = iter(list(items))
        self._error = error
        self.pulls = 0
        self.closes = 0

    def __aiter__(self) -> Probe:
        return self

    async def __anext__(self) -> Any:
        self.pulls += 1
        await anyio.lowlevel.checkpoint()
        for item in self._items:
            return item
        if self._error is not None:
            raise self._error
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closes += 1


class Source:
    """Makes a Stream of the given items from one kind of source.

    Kinds: ``list`` (a list, sliced into batches by the engine), ``iter`` (a
    sync generator, read ahead in batches), ``agen`` (an async generator of
    single items), ``batches`` (``from_batches`` over a list of irregular
    batches) and ``abatches`` (``from_batches`` over an async generator).
    With ``error``, the source raises it after the items (a ``list`` then
    becomes a sync generator). ``finalized`` counts how often a generator
    source's ``finally`` ran.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.finalized = 0

    def __repr__(self) -> str:
        return f"Source({self.kind!r})"

    def _gen(self, items: Iterable[Any], error: BaseException | None) -> Iterator[Any]:
        try:
            yield from items
            if error is not None:
                raise error
        finally:
            self.finalized += 1

    async def _agen(self, items: Iterable[Any], error: BaseException | None) -> AsyncIterator[Any]:
        try:
            for item in items:
                await anyio.lowlevel.checkpoint()
                yield item
            if error is not None:
                raise error
        finally:
            self.finalized += 1

    def __call__(
        self, items: Iterable[Any], *, error: BaseException | None = None
    ) -> sw.Stream[Any]:
        items = list(items)
        kind = self.kind
        if kind == "list":
            return sw.stream(items if error is None else self._gen(items, error))
        if kind == "iter":
            return sw.stream(self._gen(items, error))
        if kind == "agen":
            return sw.stream(self._agen(items, error))
        batches = chunked(items)
        if kind == "batches":
            return sw.from_batches(batches if error is None else self._gen(batches, error))
        assert kind == "abatches"
        return sw.from_batches(self._agen(batches, error))


SOURCE_KINDS = ("list", "iter", "agen", "batches", "abatches")


@pytest.fixture(params=SOURCE_KINDS)
def make(request: pytest.FixtureRequest) -> Source:
    """A factory of Streams over one kind of source (parametrized over every kind)."""
    return Source(request.param)


@pytest.fixture
def probe() -> type[Probe]:
    """The Probe class: an async iterator that counts its pulls and closes."""
    return Probe


async def _call_async(fn: Callable[..., Any], *args: Any) -> Any:
    await anyio.lowlevel.checkpoint()
    return fn(*args)


def _as_kind(kind: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if kind == "sync":

        def sync_fn(*args: Any) -> Any:
            return fn(*args)

        return sync_fn
    if kind == "lambda":
        return lambda *args: fn(*args)
    if kind == "async":

        async def async_fn(*args: Any) -> Any:
            await anyio.lowlevel.checkpoint()
            return fn(*args)

        return async_fn
    assert kind == "partial"
    return functools.partial(_call_async, fn)


CALLABLE_KINDS = ("sync", "lambda", "async", "partial")


@pytest.fixture(params=CALLABLE_KINDS)
def wrap(request: pytest.FixtureRequest) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a plain function into one kind of callable: def, lambda, async def, partial(async)."""
    return functools.partial(_as_kind, request.param)
