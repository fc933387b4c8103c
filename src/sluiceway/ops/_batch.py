"""Grouping items: batch(size)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core._callables import check_count
from .._core._codegen import Gen, Stage

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

__all__ = ["Batch"]


class Batch(Stage):
    """Lists of ``size`` items; the last may be shorter and none is empty.

    A partial batch is handed downstream when upstream ends, when an upstream
    stage stops the stream (``take``) and before an upstream error propagates.
    """

    __slots__ = ("size",)
    holds_items = True
    nesting = 3  # the level's try, the full-batch if, the try around the flush before an error
    copies = 3  # emitting a full batch, flushing before an error, flushing at the end

    def __init__(self, size: int) -> None:
        self.size = check_count(size, "batch", "size", minimum=1)

    def shape(self) -> Hashable:
        return ("batch",)

    def params(self) -> dict[str, object]:
        return {"n": self.size}

    def emit(self, g: Gen, k: int, rest: Callable[[], None]) -> None:
        g.init(f"buf{k} = []")
        # True while downstream runs, so an error from there is not flushed into it.
        g.init(f"dn{k} = False")
        g.line(f"buf{k}.append(x)")
        with g.block(f"if len(buf{k}) >= n{k}:"):
            g.line(f"x = buf{k}")
            g.line(f"buf{k} = []")
            g.line(f"dn{k} = True")
            rest()
            g.line(f"dn{k} = False")
