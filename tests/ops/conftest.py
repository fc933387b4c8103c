"""Fixtures for the operator tests: kinds of source and kinds of callable, sampled.

``make`` (a factory of Streams over one kind of source) and ``wrap`` (one
kind of callable) are not run as a full product with the backends. Within a
test class (or module), the tests that take them are one factor of a
covering design, the source kinds, the callable kinds and the backends the
others: every pair of levels of two factors appears in at least one case
(tests/covering.py). So each such test runs on every source kind (five
cases), and every source kind meets every callable kind and every backend
somewhere in the class. These are the operators' own results, over cheap
sequential stages; the lifecycle and error contract, where the full product
finds bugs, is tests/ops/test_contract.py. A test that parametrizes ``make``
itself (``indirect=True``) runs as it says, on every backend.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import anyio.lowlevel
import pytest

import sluiceway as sw
from backends import BACKENDS
from covering import pairwise

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence


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


@pytest.fixture
def make(request: pytest.FixtureRequest) -> Source:
    """A factory of Streams over one kind of source (chosen by the covering design)."""
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


@pytest.fixture
def wrap(request: pytest.FixtureRequest) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn a plain function into one kind of callable: def, lambda, async def, partial(async)."""
    return functools.partial(_as_kind, request.param)


# -- the covering design ---------------------------------------------------------

#: The sampled fixtures and their levels, in the order they appear in case ids.
SAMPLED: dict[str, tuple[str, ...]] = {"make": SOURCE_KINDS, "wrap": CALLABLE_KINDS}


def _marks(obj: object) -> list[pytest.Mark]:
    """The marks set on a class, module or function with ``pytestmark`` or decorators."""
    marks = getattr(obj, "pytestmark", [])
    if not isinstance(marks, list | tuple):
        marks = [marks]
    return [getattr(mark, "mark", mark) for mark in marks]


def _parametrized(marks: Iterable[pytest.Mark]) -> set[str]:
    """The argument names that ``parametrize`` marks among ``marks`` give values to."""
    names: set[str] = set()
    for mark in marks:
        if mark.name != "parametrize":
            continue
        argnames = mark.args[0] if mark.args else mark.kwargs["argnames"]
        if isinstance(argnames, str):
            argnames = argnames.split(",")
        names.update(name.strip() for name in argnames)
    return names


def _sampled(fn: Callable[..., Any], owner_marks: list[pytest.Mark]) -> tuple[str, ...]:
    """The sampled fixtures test ``fn`` takes and does not parametrize itself."""
    params = inspect.signature(fn).parameters
    explicit = _parametrized([*_marks(fn), *owner_marks])
    return tuple(name for name in SAMPLED if name in params and name not in explicit)


_designs: dict[tuple[object, tuple[str, ...]], dict[str, list[tuple[Any, ...]]]] = {}


def _design(owner: object, sampled: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """The cases of every test of ``owner`` (class or module) that samples ``sampled``.

    Rows: the test, then one level per sampled fixture, then the backend.
    """
    key = (owner, sampled)
    if key not in _designs:
        owner_marks = _marks(owner)
        tests = [
            name
            for name, fn in vars(owner).items()
            if name.startswith("test") and callable(fn) and _sampled(fn, owner_marks) == sampled
        ]
        factors: list[Sequence[Any]] = [tests, *(SAMPLED[name] for name in sampled), BACKENDS]
        rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tests}
        for test, *levels in pairwise(*factors):
            rows[test].append(tuple(levels))
        _designs[key] = rows
    return _designs[key]


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give the tests that take ``make`` or ``wrap`` their cases of the covering design.

    As a ``parametrize`` mark, added before pytest reads the marks, so that
    the ``anyio_backend`` fixture's own parameters give way to it.
    """
    owner = metafunc.cls if metafunc.cls is not None else metafunc.module
    owner_marks = _marks(owner)
    sampled = _sampled(metafunc.function, owner_marks)
    if not sampled or "anyio_backend" in _parametrized(metafunc.definition.iter_markers()):
        return
    cases = [
        pytest.param(*kinds, backend.values[0], id="-".join((*kinds, str(backend.id))))
        for *kinds, backend in _design(owner, sampled)[metafunc.function.__name__]
    ]
    metafunc.definition.add_marker(
        pytest.mark.parametrize((*sampled, "anyio_backend"), cases, indirect=list(sampled))
    )
