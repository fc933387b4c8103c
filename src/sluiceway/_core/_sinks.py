"""Where a compiled pipeline delivers its items to an ``async for``: one by one, or in batches.

The terminal operations' sinks (``to_list``, ``reduce``, ...) live with the
operators, in ``sluiceway.ops._terminal``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._codegen import CodeWriter, Sink

if TYPE_CHECKING:
    from collections.abc import Hashable

__all__ = ["Batches", "Items"]


class Items(Sink):
    """``yield`` each item to an ``async for`` consumer."""

    __slots__ = ()
    is_generator = True

    def shape(self) -> Hashable:
        return ("items",)

    def item(self, g: CodeWriter) -> None:
        g.line("yield x")

    def finish(self, g: CodeWriter) -> None:
        pass


class Batches(Sink):
    """``yield`` a list per source unit (a source batch, or one async item).

    Every list handed out is a new one the consumer owns (it may clear or
    keep it); empty batches are never yielded.
    """

    __slots__ = ()
    is_generator = True
    flushes_on_error = True

    def shape(self) -> Hashable:
        return ("batches",)

    def init(self, g: CodeWriter) -> None:
        g.init("out = []")

    def item(self, g: CodeWriter) -> None:
        g.line("out.append(x)")

    def whole_batch(self, g: CodeWriter) -> bool:
        with g.block("if _b:"):
            g.line("yield list(_b)")
        return True

    def unit_done(self, g: CodeWriter) -> None:
        with g.block("if out:"):
            g.line("yield out")
            g.line("out = []")

    def on_error(self, g: CodeWriter) -> None:
        with g.block("if out:"):
            g.line("yield out")

    def finish(self, g: CodeWriter) -> None:
        with g.block("if out:"):
            g.line("yield out")
