"""The task group that owns a stream's background work.

Entered by ``async with stream:`` (or by a terminal operation) in the
consumer's own task, so the consumer's body runs inside it, as with any task
group. Background tasks never raise into it: they hand their results and
errors to the consumer through channels, so nothing is ever injected into the
consumer's code. Leaving it cancels what is still running, waits for it
(shielded from outside cancellation) and then raises any failure that never
reached the consumer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from anyio.abc import TaskGroup

__all__ = ["Scope", "raise_first"]


class Scope:
    """Background work of one pipeline, and the failures nobody has seen yet."""

    __slots__ = ("_tg", "undelivered")

    def __init__(self) -> None:
        self._tg: TaskGroup | None = None
        #: Failures that happened after the consumer stopped listening.
        self.undelivered: list[BaseException] = []

    async def enter(self) -> None:
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, None]], *args: object) -> None:
        """Start ``fn(*args)`` in the background; it must never raise (but may be cancelled)."""
        assert self._tg is not None, "spawn() before enter()"
        self._tg.start_soon(fn, *args)

    async def exit(self) -> None:
        """Cancel and await what still runs; outside cancellation waits until it has ended."""
        tg = self._tg
        if tg is None:
            return
        self._tg = None
        tg.cancel_scope.cancel()
        # The task group's own (cancelled) scope shields the wait from outside.
        tg.cancel_scope.shield = True
        await tg.__aexit__(None, None, None)


def raise_first(errors: list[BaseException], leaving: BaseException | None) -> None:
    """Raise the first of ``errors`` with the others as notes, or note them all on ``leaving``."""
    if not errors:
        return
    if leaving is not None:
        for exc in errors:
            leaving.add_note(f"sluiceway: a background failure was not delivered: {exc!r}")
        return
    first, *later = errors
    for exc in later:
        first.add_note(f"sluiceway: a later failure: {exc!r}")
    raise first
