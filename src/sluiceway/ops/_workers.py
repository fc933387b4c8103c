"""map(fn, concurrency=n): a pool of n long-lived workers, not a task per item.

Workers take turns pulling the next item from upstream (one pull at a time,
as an async iterator allows), call ``fn`` on it and hand the result over.
At most ``n`` calls run at once, and at most ``n`` finished results wait for
the consumer; in ordered mode they wait in a reorder buffer, so a slow call
at the head does not stop the other workers (no head-of-line stall). A
worker whose function never suspends keeps going until the buffer is full,
so a trivial function costs about what a sequential loop costs.

On a failure (of ``fn`` or of upstream) at position k, nothing is pulled any
more and the calls after k are cancelled; in ordered mode the results before
k are delivered first and nothing after it; in unordered mode the results
already finished are delivered first.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from .._core._channel import Waiters, event_factory
from .._core._lifecycle import current_grace, drive, warn_abandoned
from .._core._nodes import Node

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from .._core._scope import Scope
    from .._core._stream import Stream

__all__ = ["Workers"]


class Workers(Node):
    """``fn`` over the items of ``upstream``, ``n`` calls at a time."""

    __slots__ = (
        "_active",
        "_cancels",
        "_consumer",
        "_current",
        "_delivered",
        "_exhausted",
        "_fail_at",
        "_failure",
        "_fn",
        "_give_up",
        "_grace",
        "_interrupted",
        "_is_async",
        "_n",
        "_new_event",
        "_next_in",
        "_next_out",
        "_ordered",
        "_out",
        "_pending",
        "_pull",
        "_pull_turn",
        "_pulling",
        "_receiver",
        "_room",
        "_running",
        "_scope",
        "_stop",
        "_upstream",
    )
    needs_scope = True
    hands_out_own = True

    def __init__(
        self, upstream: Stream[Any], fn: Callable[..., Any], is_async: bool, n: int, ordered: bool
    ) -> None:
        super().__init__()
        self._upstream = upstream
        self._fn = fn
        self._is_async = is_async
        self._n = n
        self._ordered = ordered
        self._cancels: list[anyio.CancelScope] = []  # made in open(): needs a running loop
        self._current: list[int | None] = [None] * n
        self._out: deque[Any] = deque()
        self._pending: dict[int, Any] = {}
        self._next_in = 0
        self._next_out = 0
        self._pulling = False
        self._pull_turn = Waiters()
        self._room = Waiters()
        self._exhausted = False
        self._stop = False  # end, failure or close: no worker starts another call
        self._failure: BaseException | None = None
        self._fail_at = 0
        self._delivered = False
        self._interrupted = False
        self._active = 0  # workers that may still deliver
        self._running = 0  # workers inside their loop right now
        self._consumer: anyio.Event | None = None
        self._receiver: AsyncIterator[Any] | None = None
        self._scope: Scope | None = None
        self._pull: Callable[[], Any] | None = None
        self._grace = current_grace()
        self._give_up: float | None = None
        self._new_event: Callable[[], anyio.Event] = anyio.Event

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        assert scope is not None, "Stream._engine checks needs_scope"
        self._scope = scope
        # Both need the running backend: made here, not in __init__.
        self._new_event = event_factory()
        self._cancels = [anyio.CancelScope() for _ in range(self._n)]
        self._pull = self._upstream._engine(False, scope, raw=True).__anext__  # pyright: ignore[reportPrivateUsage]
        self._active = self._n
        for worker in range(self._n):
            scope.spawn(self._work, worker)
        self._receiver = self._receive()
        return self._receiver

    # -- workers ---------------------------------------------------------

    def _wake_consumer(self) -> None:
        consumer = self._consumer
        if consumer is not None:
            self._consumer = None
            consumer.set()

    async def _work(self, worker: int) -> None:
        # A worker only leaves its loop once everything stops (end, failure,
        # close), so the last one running may close upstream: the others will
        # not pull any more.
        self._running += 1
        cancel = self._cancels[worker]
        try:
            with cancel:
                abandoned, _ = await drive(self._loop(worker), lambda: self._give_up)
                if abandoned:
                    self._warn_abandoned()
        except anyio.get_cancelled_exc_class():
            # Cancelled from outside the stream: so is the consumer; see _receive.
            self._interrupted = self._interrupted or not cancel.cancel_called
            raise
        finally:
            self._running -= 1
            self._active -= 1
            if self._running == 0:
                await self._close_upstream()
            self._pull_turn.wake_all()
            self._room.wake_all()
            self._wake_consumer()

    async def _loop(self, worker: int) -> None:
        # The hot path of every concurrent map: locals, and no call per item
        # that the common case does not need.
        fn, is_async, n, pull, ordered = (
            self._fn,
            self._is_async,
            self._n,
            self._pull,
            self._ordered,
        )
        out, pending, current = self._out, self._pending, self._current
        room, pull_turn = self._room, self._pull_turn
        assert pull is not None
        while True:
            if len(out) + len(pending) >= n or self._pulling:
                while len(out) + len(pending) >= n and not self._stop:
                    await room.park()
                while self._pulling and not self._stop:
                    await pull_turn.park()
            if self._stop:
                return
            self._pulling = True
            index = self._next_in
            try:
                item = await pull()
            except StopAsyncIteration:
                self._pulling = False
                self._exhausted = self._stop = True
                return
            except BaseException as exc:
                self._pulling = False
                if isinstance(exc, Exception):
                    self._fail(index, exc)
                    return
                raise
            self._pulling = False
            if pull_turn.parked:
                pull_turn.wake_one()
            self._next_in = index + 1
            current[worker] = index
            # Another parked worker may start a call while this one's runs.
            if room.parked and not room.waking and len(out) + len(pending) < n:
                room.wake_one()
            try:
                result = await fn(item) if is_async else fn(item)
            except Exception as exc:
                current[worker] = None
                self._fail(index, exc)
                return
            current[worker] = None
            if not ordered or index == self._next_out:
                out.append(result)
                if ordered:
                    self._next_out = index + 1
                    if pending:
                        self._release_pending()
            else:
                pending[index] = result
            if self._consumer is not None:
                self._wake_consumer()

    def _release_pending(self) -> None:
        """Move the results that are next in order from the reorder buffer to the output."""
        pending, out = self._pending, self._out
        while self._next_out in pending:
            out.append(pending.pop(self._next_out))
            self._next_out += 1

    def _fail(self, index: int, exc: BaseException) -> None:
        if self._closed:
            # The consumer is gone: the failure is raised when its scope ends.
            if self._scope is not None:
                self._scope.undelivered.append(exc)
            return
        first = self._failure
        if first is None or (self._ordered and index < self._fail_at):
            self._failure, self._fail_at = exc, index
            self._stop = True
            if first is not None:
                exc.add_note(f"sluiceway: a failure at a later position: {first!r}")
        else:
            first.add_note(f"sluiceway: a later failure: {exc!r}")
        # Cancel the calls after the failing position (unordered: all others).
        for worker, current in enumerate(self._current):
            if current is not None and (not self._ordered or current > index):
                self._cancel(worker)
        self._room.wake_all()
        self._pull_turn.wake_all()
        self._wake_consumer()

    async def _close_upstream(self) -> None:
        try:
            await self._upstream.aclose()
        except Exception as exc:
            self._fail(self._next_in, exc)

    # -- consumer ----------------------------------------------------------

    def _failure_due(self) -> bool:
        """Whether every result before the failing position was handed over."""
        if self._failure is None:
            return False
        return not self._ordered or self._next_out >= self._fail_at

    async def _receive(self) -> AsyncIterator[Any]:
        out, room = self._out, self._room
        parked = room.parked
        while True:
            while out:
                result = out.popleft()
                if parked and not room.waking:
                    room.wake_one()
                yield result
            if self._failure_due() or (self._active == 0 and self._failure is not None):
                self._delivered = True
                raise self._failure  # type: ignore[misc]  # checked just above
            if self._active == 0:
                if self._interrupted and not self._closed:
                    await anyio.lowlevel.checkpoint()  # the consumer's own cancellation
                    raise RuntimeError("sluiceway: the stream's background tasks were cancelled")
                return
            event = self._consumer = self._new_event()
            await event.wait()

    def _cancel(self, worker: int) -> None:
        """Cancel a worker; one still running after the grace period is abandoned."""
        if self._give_up is None:
            self._give_up = time.monotonic() + self._grace
        if self._cancels:
            self._cancels[worker].cancel()

    def _warn_abandoned(self) -> None:
        try:
            warn_abandoned(f"map({self._fn!r}) over {self._upstream!r}", self._grace)
        except Warning as exc:  # warnings turned into errors: raise it at the scope's exit
            if self._scope is not None:
                self._scope.undelivered.append(exc)

    async def _release(self) -> None:
        self._stop = True
        for worker in range(self._n):
            self._cancel(worker)
        self._room.wake_all()
        self._pull_turn.wake_all()
        if self._failure is not None and not self._delivered and self._scope is not None:
            self._scope.undelivered.append(self._failure)
        if self._receiver is not None:
            await self._receiver.aclose()  # type: ignore[attr-defined]  # our own async generator
        if self._running == 0:
            await self._upstream.aclose()  # no worker left to do it (or none ever ran)

    def describe(self) -> str:
        return f"{self._upstream!r} | map(concurrency={self._n})"
