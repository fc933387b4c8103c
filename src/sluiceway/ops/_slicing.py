"""Where a stream starts and stops: take, skip, take_while, drop_while."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._callables import check_callable, check_count, is_async_callable
from .._core._codegen import CodeWriter, Stage

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

__all__ = ["DropWhile", "Skip", "Take", "TakeWhile"]


class Take(Stage):
    """The first n items; pulls exactly n from upstream (none for n=0)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = check_count(n, "take")

    def shape(self) -> Hashable:
        return ("take",)

    def params(self) -> dict[str, object]:
        return {"n": self.n}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"c{k} = 0")
        g.check(f"if n{k} <= 0: raise {g.stop(k)}")
        g.line(f"c{k} += 1")
        rest()
        # After downstream is done with the n-th item, before pulling another.
        g.line(f"if c{k} >= n{k}: raise {g.stop(k)}")


class Skip(Stage):
    __slots__ = ("n",)
    nesting = 1

    def __init__(self, n: int) -> None:
        self.n = check_count(n, "skip")

    def shape(self) -> Hashable:
        return ("skip",)

    def params(self) -> dict[str, object]:
        return {"n": self.n}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"c{k} = n{k}")
        with g.block(f"if c{k} > 0:"):
            g.line(f"c{k} -= 1")
        with g.block("else:"):
            rest()


class _PredicateStage(Stage):
    __slots__ = ("is_async", "pred")
    name = ""

    def __init__(self, pred: Callable[..., Any]) -> None:
        check_callable(pred, self.name, "predicate")
        self.pred = pred
        self.is_async = is_async_callable(pred)

    def shape(self) -> Hashable:
        return (self.name, self.is_async)

    def params(self) -> dict[str, object]:
        return {"p": self.pred}


class TakeWhile(_PredicateStage):
    """Items while the predicate holds; the first failing item is consumed, not passed."""

    __slots__ = ()
    name = "take_while"

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        with g.block(f"if not {g.call(self.is_async, f'p{k}', 'x')}:"):
            g.line(f"raise {g.stop(k)}")
        rest()


class DropWhile(_PredicateStage):
    __slots__ = ()
    nesting = 1
    name = "drop_while"

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"d{k} = True")
        with g.block(f"if d{k} and {g.call(self.is_async, f'p{k}', 'x')}:"):
            g.line("pass")
        with g.block("else:"):
            g.line(f"d{k} = False")
            rest()
