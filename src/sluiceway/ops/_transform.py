"""Item-by-item transforms: map, filter, flat_map, flatten, scan, enumerate, distinct."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._callables import check_callable, check_int, is_async_callable
from .._core._codegen import CodeWriter, Stage
from .._core._lifecycle import close_within
from .._core._nothing import NOTHING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Hashable

__all__ = ["Distinct", "Enumerate", "Filter", "FlatMap", "Map", "Scan"]


class _FnStage(Stage):
    """A stage around one user callable, sync or async (detected here, once)."""

    __slots__ = ("fn", "is_async")
    name = ""

    def __init__(self, fn: Callable[..., Any]) -> None:
        check_callable(fn, self.name)
        self.fn = fn
        self.is_async = is_async_callable(fn)

    def shape(self) -> Hashable:
        return (self.name, self.is_async)

    def params(self) -> dict[str, object]:
        return {"f": self.fn}


class Map(_FnStage):
    __slots__ = ()
    name = "map"

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.line(f"x = {g.call(self.is_async, f'f{k}', 'x')}")
        rest()


class Filter(_FnStage):
    __slots__ = ()
    nesting = 1
    name = "filter"

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        with g.block(f"if {g.call(self.is_async, f'f{k}', 'x')}:"):
            rest()


class FlatMap(Stage):
    """``flat_map(fn)``, or ``flatten()`` when ``fn`` is None.

    Each inner value may be a sync or an async iterable (checked per value);
    an async one is closed as soon as it is done or abandoned.
    """

    __slots__ = ("fn", "is_async")
    nesting = 3  # if, try, async for
    copies = 2  # the async and the sync branch

    def __init__(self, fn: Callable[..., Any] | None) -> None:
        if fn is not None:
            check_callable(fn, "flat_map")
        self.fn = fn
        self.is_async = fn is not None and is_async_callable(fn)

    def shape(self) -> Hashable:
        return ("flat_map", self.fn is not None, self.is_async)

    def params(self) -> dict[str, object]:
        return {} if self.fn is None else {"f": self.fn}

    def names(self) -> dict[str, object]:
        return {"_close_inner": _close_inner}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        value = "x" if self.fn is None else g.call(self.is_async, f"f{k}", "x")
        g.line(f"v{k} = {value}")
        with g.block(f'if hasattr(v{k}, "__aiter__"):'):
            g.line(f"it{k} = v{k}.__aiter__()")
            with g.block("try:"), g.block(f"async for x in _Opened(it{k}):"):
                rest()
            with g.block("finally:"):
                g.line(f"await _close_inner(v{k}, it{k})")
        with g.block("else:"), g.block(f"for x in v{k}:"):
            rest()


async def _close_inner(value: object, it: AsyncIterator[Any]) -> None:
    """Close an async iterable that flat_map got from the user's function.

    One with an ``aclose`` of its own (a Stream) owns its iterator and closes
    everything it holds with it; otherwise the iterator is closed, within the
    grace period.
    """
    if value is not it:
        own = getattr(value, "aclose", None)
        if own is not None:
            await own()
            return
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        await close_within(aclose, it)


class Scan(Stage):
    """Running accumulation; yields each accumulated value, not the initial one."""

    __slots__ = ("fn", "initial", "is_async")

    def __init__(self, fn: Callable[..., Any], initial: object) -> None:
        check_callable(fn, "scan")
        self.fn = fn
        self.initial = initial
        self.is_async = is_async_callable(fn)

    def shape(self) -> Hashable:
        return ("scan", self.is_async, self.initial is NOTHING)

    def params(self) -> dict[str, object]:
        return {"f": self.fn, "i": self.initial}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"a{k} = i{k}")
        step = f"a{k} = {g.call(self.is_async, f'f{k}', f'a{k}', 'x')}"
        if self.initial is NOTHING:
            # Like itertools.accumulate without initial: the first item starts it.
            with g.block(f"if a{k} is NOTHING:"):
                g.line(f"a{k} = x")
            with g.block("else:"):
                g.line(step)
        else:
            g.line(step)
        g.line(f"x = a{k}")
        rest()


class Enumerate(Stage):
    __slots__ = ("start",)

    def __init__(self, start: int) -> None:
        self.start = check_int(start, "enumerate", "start")

    def shape(self) -> Hashable:
        return ("enumerate",)

    def params(self) -> dict[str, object]:
        return {"s": self.start}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"c{k} = s{k}")
        g.line(f"x = (c{k}, x)")
        g.line(f"c{k} += 1")
        rest()


class Distinct(Stage):
    """Drops every later duplicate; keys that cannot be hashed are compared by ==."""

    __slots__ = ("is_async", "key")
    nesting = 1

    def __init__(self, key: Callable[..., Any] | None) -> None:
        if key is not None:
            check_callable(key, "distinct", "key")
        self.key = key
        self.is_async = key is not None and is_async_callable(key)

    def shape(self) -> Hashable:
        return ("distinct", self.key is not None, self.is_async)

    def params(self) -> dict[str, object]:
        return {} if self.key is None else {"f": self.key}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"seen{k} = set()")
        g.init(f"unhashable{k} = []")
        key = "x" if self.key is None else g.call(self.is_async, f"f{k}", "x")
        g.line(f"y{k} = {key}")
        with g.block("try:"):
            g.line(f"new{k} = y{k} not in seen{k}")
            with g.block(f"if new{k}:"):
                g.line(f"seen{k}.add(y{k})")
        with g.block("except TypeError:"):
            g.line(f"new{k} = y{k} not in unhashable{k}")
            with g.block(f"if new{k}:"):
                g.line(f"unhashable{k}.append(y{k})")
        with g.block(f"if new{k}:"):
            rest()
