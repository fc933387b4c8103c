"""Terminal operations, as sinks of the compiled pipeline: to_list, count, first, reduce...."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._callables import check_callable, is_async_callable
from .._core._codegen import CodeWriter, Sink
from .._core._nothing import NOTHING
from ..errors import EmptyStreamError

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

__all__ = ["Count", "First", "Foreach", "Last", "Reduce", "ToList"]


class ToList(Sink):
    __slots__ = ()

    def shape(self) -> Hashable:
        return ("to_list",)

    def init(self, g: CodeWriter) -> None:
        g.init("out = []")
        g.init("append = out.append")

    def item(self, g: CodeWriter) -> None:
        g.line("append(x)")

    def whole_batch(self, g: CodeWriter) -> bool:
        g.line("out.extend(_b)")
        return True

    def finish(self, g: CodeWriter) -> None:
        g.line("return out")


class Count(Sink):
    __slots__ = ()

    def shape(self) -> Hashable:
        return ("count",)

    def init(self, g: CodeWriter) -> None:
        g.init("count = 0")

    def item(self, g: CodeWriter) -> None:
        g.line("count += 1")

    def whole_batch(self, g: CodeWriter) -> bool:
        g.line("count += len(_b)")
        return True

    def finish(self, g: CodeWriter) -> None:
        g.line("return count")


class _Pick(Sink):
    """first() / last(): one item, or EmptyStreamError."""

    __slots__ = ()
    name = ""

    def shape(self) -> Hashable:
        return (self.name,)

    def names(self) -> dict[str, object]:
        return {"EmptyStreamError": EmptyStreamError}

    def init(self, g: CodeWriter) -> None:
        g.init("found = NOTHING")

    def finish(self, g: CodeWriter) -> None:
        with g.block("if found is NOTHING:"):
            g.line(f'raise EmptyStreamError("{self.name}() on a stream with no items")')
        g.line("return found")


class First(_Pick):
    __slots__ = ()
    name = "first"

    def item(self, g: CodeWriter) -> None:
        g.line("found = x")
        g.line(f"raise {g.stop_all()}")


class Last(_Pick):
    __slots__ = ()
    name = "last"

    def item(self, g: CodeWriter) -> None:
        g.line("found = x")

    def whole_batch(self, g: CodeWriter) -> bool:
        with g.block("if _b:"):
            g.line("found = _b[-1]")
        return True


class Reduce(Sink):
    """``reduce(fn, initial)``; without an initial value the first item starts it."""

    __slots__ = ("fn", "initial", "is_async")

    def __init__(self, fn: Callable[..., Any], initial: object) -> None:
        check_callable(fn, "reduce")
        self.fn = fn
        self.initial = initial
        self.is_async = is_async_callable(fn)

    def shape(self) -> Hashable:
        return ("reduce", self.is_async, self.initial is NOTHING)

    def params(self) -> dict[str, object]:
        return {"f": self.fn, "i": self.initial}

    def names(self) -> dict[str, object]:
        return {"EmptyStreamError": EmptyStreamError}

    def init(self, g: CodeWriter) -> None:
        g.init("acc = _i")

    def item(self, g: CodeWriter) -> None:
        step = f"acc = {g.call(self.is_async, '_f', 'acc', 'x')}"
        if self.initial is NOTHING:
            with g.block("if acc is NOTHING:"):
                g.line("acc = x")
            with g.block("else:"):
                g.line(step)
        else:
            g.line(step)

    def finish(self, g: CodeWriter) -> None:
        if self.initial is NOTHING:
            with g.block("if acc is NOTHING:"):
                g.line(
                    'raise EmptyStreamError("reduce() of a stream with no items '
                    'and no initial value")'
                )
        g.line("return acc")


class Foreach(Sink):
    __slots__ = ("fn", "is_async")

    def __init__(self, fn: Callable[..., Any]) -> None:
        check_callable(fn, "foreach")
        self.fn = fn
        self.is_async = is_async_callable(fn)

    def shape(self) -> Hashable:
        return ("foreach", self.is_async)

    def params(self) -> dict[str, object]:
        return {"f": self.fn}

    def item(self, g: CodeWriter) -> None:
        g.line(g.call(self.is_async, "_f", "x"))

    def finish(self, g: CodeWriter) -> None:
        g.line("return None")
