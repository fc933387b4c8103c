"""`sluiceway demo`: real pipelines, end to end, with what they cost.

Each part lives in its own module and numbers its own headings; `PARTS` lists
them in the order they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from . import _engine, _pages, _rows, _sse, _workers

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

PARTS: tuple[Callable[[TextIO], Awaitable[None]], ...] = (
    _engine.basics,
    _engine.concurrency,
    _sse.part,
    _pages.part,
    _rows.part,
    _workers.part,
)


async def run(out: TextIO) -> None:
    """Run every part of the demo, writing what it shows to `out`."""
    for part in PARTS:
        await part(out)
