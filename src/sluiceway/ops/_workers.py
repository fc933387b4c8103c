"""map(fn, concurrency=n): a pool of n long-lived workers, not a task per item.

One reader task pulls the items from upstream and closes it, so a source
runs from start to end in one task, with one context: a source that sets a
context variable, or holds a cancel scope across a ``yield``, works as it
does under a sequential ``map`` (an async generator is closed in the task
that ran it). The reader keeps at most ``n`` items in an inbox, read ahead
while the calls run; the workers take them from there, call ``fn`` and hand
the results over. At most ``n`` calls run at once, and at most ``n``
finished results wait for the consumer; in ordered mode they wait in a
reorder buffer, so a slow call at the head does not stop the other workers
(no head-of-line stall). A worker whose function never suspends keeps going
until the inbox is empty or the results fill up, so a trivial function costs
a few task switches per ``n`` items, not per item.

On a failure (of ``fn`` or of upstream) at position k, nothing is pulled any
more and the calls after k are cancelled; in ordered mode the results before
k are delivered first and nothing after it; in unordered mode the results
already finished are delivered first.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from .._core._channel import Waiters, event_factory
from .._core._lifecycle import (
    Opened,
    beneath_sources,
    current_grace,
    drive,
    warn_abandoned,
)
from .._core._nodes import Node
from ..errors import StreamInterruptedError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable

    from .._core._pipeline import Pipeline
    from .._core._scope import Scope

__all__ = ["Workers"]


class Workers(Node):
    """``fn`` over the items of ``upstream``, ``n`` calls at a time."""

    __slots__ = (
        "_active",
        "_cancels",
        "_consumer",
        "_current",
        "_delivered",
        "_fail_at",
        "_failure",
        "_fn",
        "_give_up",
        "_grace",
        "_inbox",
        "_interrupted",
        "_is_async",
        "_limit",
        "_n",
        "_new_event",
        "_next_in",
        "_next_out",
        "_ordered",
        "_out",
        "_pending",
        "_read_done",
        "_reader",
        "_reader_parked",
        "_reader_room",
        "_reader_started",
        "_ready",
        "_receiver",
        "_room",
        "_scope",
        "_source",
        "_upstream",
    )
    hands_out_own = True

    @property
    def needs_scope(self) -> bool:
        return True

    def __init__(
        self, upstream: Pipeline, fn: Callable[..., Any], is_async: bool, n: int, ordered: bool
    ) -> None:
        super().__init__()
        self._upstream = upstream
        self._fn = fn
        self._is_async = is_async
        self._n = n
        self._ordered = ordered
        # Made in open(): cancel scopes need a running loop.
        self._cancels: list[anyio.CancelScope] = []
        self._reader: anyio.CancelScope | None = None
        self._current: list[int | None] = [None] * n
        self._inbox: deque[Any] = deque()  # read, not yet taken by a worker
        self._out: deque[Any] = deque()  # finished, in the order they go out
        self._pending: dict[int, Any] = {}  # ordered: finished ahead of their turn
        self._source: AsyncIterator[Any] | None = None
        self._next_in = 0  # the position of the next item a worker takes
        self._next_out = 0
        #: Calls start only at positions below this: lowered by a failure, -1 once closed.
        self._limit = sys.maxsize
        self._ready = Waiters()  # workers waiting for an item
        self._room = Waiters()  # workers waiting for room among the results
        self._reader_room = Waiters()  # the reader, waiting for a call to end
        self._reader_started = False
        self._reader_parked = False  # the reader waits for room, not inside the source
        self._read_done = False  # upstream ended, failed or was left, and is closed
        self._failure: BaseException | None = None
        self._fail_at = 0
        self._delivered = False
        self._interrupted = False
        self._active = 0  # workers that may still deliver
        self._consumer: anyio.Event | None = None
        self._receiver: AsyncGenerator[Any, None] | None = None
        self._scope: Scope | None = None
        self._grace = current_grace()
        self._give_up: float | None = None
        self._new_event: Callable[[], anyio.Event] = anyio.Event

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        assert scope is not None, "Pipeline.start checks needs_scope"
        self._scope = scope
        self._grace = current_grace()  # the grace period where the stream starts
        # Both need the running backend: made here, not in __init__.
        self._new_event = event_factory()
        self._reader = anyio.CancelScope()
        self._cancels = [anyio.CancelScope() for _ in range(self._n)]
        self._active = self._n
        self._source = self._upstream.start(False, scope, raw=True)
        scope.spawn(self._read)
        for worker in range(self._n):
            scope.spawn(self._work, worker)
        self._receiver = self._receive()
        return self._receiver

    def _wake_consumer(self) -> None:
        consumer = self._consumer
        if consumer is not None:
            self._consumer = None
            consumer.set()

    # -- the reader --------------------------------------------------------

    async def _read(self) -> None:
        if self._closed:
            return  # the consumer left before this task ran; release() closes upstream
        self._reader_started = True
        cancel = self._reader
        assert cancel is not None
        abandoned = False
        try:
            with cancel, beneath_sources(cancel):
                try:
                    abandoned, _ = await drive(self._feed(), lambda: self._give_up)
                except anyio.get_cancelled_exc_class():
                    # Cancelled from outside the stream: so is the consumer; see _receive.
                    self._interrupted = self._interrupted or not cancel.cancel_called
                    raise
                finally:
                    # In this task, inside its scope: see close_within.
                    if abandoned:
                        self._warn_abandoned(self._upstream)
                    else:
                        try:
                            await self._upstream.aclose()  # shielded by `cancel`, beneath
                        except Exception as exc:
                            self._fail(self._read_count(), exc)
        finally:
            self._read_done = True
            self._ready.wake_all()
            self._wake_consumer()

    async def _feed(self) -> None:
        source = self._source
        assert source is not None
        inbox, ready, reader_room, n = self._inbox, self._ready, self._reader_room, self._n
        ready_parked = ready.parked
        try:
            async for item in Opened(source):
                inbox.append(item)
                if ready_parked and not ready.waking:
                    ready.wake_one()
                if len(inbox) >= n:
                    # Parked here, not in the source: stopped by a wake, not a cancellation
                    # (while it is anywhere else, it is cancelled: see _stop_reading).
                    self._reader_parked = True
                    while len(inbox) >= n and self._limit >= 0 and self._failure is None:
                        await reader_room.park()
                    self._reader_parked = False
                    if self._limit < 0 or self._failure is not None:
                        return
        except Exception as exc:
            self._fail(self._read_count(), exc)

    def _read_count(self) -> int:
        """How many items were read: taken by a worker, or waiting in the inbox."""
        return self._next_in + len(self._inbox)

    def _stop_reading(self) -> None:
        """Nothing more is read: a reader parked for room is woken, one in the source cancelled.

        A parked reader is not cancelled: the source, waiting at its yield,
        may hold a cancel scope across it, and its close must not run
        cancelled (see close_within).
        """
        if not self._reader_parked and self._reader is not None:
            self._start_give_up()
            self._reader.cancel()
        self._reader_room.wake_all()

    # -- workers -----------------------------------------------------------

    async def _work(self, worker: int) -> None:
        cancel = self._cancels[worker]
        try:
            with cancel:
                abandoned, _ = await drive(self._loop(worker), lambda: self._give_up)
                if abandoned:
                    self._warn_abandoned(f"map({self._fn!r}) over {self._upstream!r}")
        except anyio.get_cancelled_exc_class():
            # Cancelled from outside the stream: so is the consumer; see _receive.
            self._interrupted = self._interrupted or not cancel.cancel_called
            raise
        finally:
            self._active -= 1
            self._room.wake_all()
            self._wake_consumer()

    async def _loop(self, worker: int) -> None:
        # The hot path of every concurrent map: locals, and no call per item
        # that the common case does not need.
        fn, is_async, n, ordered = self._fn, self._is_async, self._n, self._ordered
        inbox, out, pending, current = self._inbox, self._out, self._pending, self._current
        room, ready, reader_room = self._room, self._ready, self._reader_room
        ready_parked, reader_parked = ready.parked, reader_room.parked
        while True:
            if not inbox or len(out) + len(pending) >= n:
                while len(out) + len(pending) >= n and self._limit >= 0:
                    await room.park()
                if not inbox:
                    if self._read_done or self._limit < 0:
                        return
                    await ready.park()
                    continue
            index = self._next_in
            if index >= self._limit:
                return
            item = inbox.popleft()
            self._next_in = index + 1
            current[worker] = index
            if reader_parked and not reader_room.waking:
                reader_room.wake_one()  # room in the inbox: read on
            # Another worker may start a call while this one's runs.
            if inbox and ready_parked and not ready.waking:
                ready.wake_one()
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
        """A failure at position ``index`` (of ``fn``, of upstream, or of closing it)."""
        if self._closed:
            # The consumer is gone: the failure is raised when its scope ends.
            if self._scope is not None:
                self._scope.undelivered.append(exc)
            return
        first = self._failure
        if first is None or (self._ordered and index < self._fail_at):
            self._failure, self._fail_at = exc, index
            if first is not None:
                exc.add_note(f"sluiceway: a failure at a later position: {first!r}")
        else:
            first.add_note(f"sluiceway: a later failure: {exc!r}")
        # Ordered: the items before the failure still go through; unordered: nothing more.
        self._limit = min(self._limit, self._fail_at) if self._ordered else -1
        self._stop_reading()
        # Cancel the calls after the failing position (unordered: all others).
        for worker, current in enumerate(self._current):
            if current is not None and (not self._ordered or current > index):
                self._cancel(worker)
        self._room.wake_all()
        self._ready.wake_all()
        self._wake_consumer()

    # -- consumer ----------------------------------------------------------

    def _failure_due(self) -> bool:
        """Whether every result before the failing position was handed over."""
        if self._failure is None:
            return False
        return not self._ordered or self._next_out >= self._fail_at

    async def _receive(self) -> AsyncGenerator[Any, None]:
        out, room = self._out, self._room
        parked = room.parked
        while True:
            while out:
                result = out.popleft()
                if parked and not room.waking:
                    room.wake_one()
                yield result
            failure = self._failure
            if failure is not None and (self._active == 0 or self._failure_due()):
                self._delivered = True
                raise failure
            if self._active == 0:
                if self._interrupted and not self._closed:
                    await anyio.lowlevel.checkpoint()  # the consumer's own cancellation
                    raise StreamInterruptedError(
                        "sluiceway: the stream's background tasks were cancelled"
                    )
                return
            event = self._consumer = self._new_event()
            await event.wait()

    def _start_give_up(self) -> None:
        if self._give_up is None:
            self._give_up = time.monotonic() + self._grace

    def _cancel(self, worker: int) -> None:
        """Cancel a worker; one still running after the grace period is abandoned."""
        self._start_give_up()
        if self._cancels:
            self._cancels[worker].cancel()

    def _warn_abandoned(self, what: object) -> None:
        try:
            warn_abandoned(what, self._grace)
        except Warning as exc:  # warnings turned into errors: raise it at the scope's exit
            if self._scope is not None:
                self._scope.undelivered.append(exc)

    async def release(self) -> None:
        self._limit = -1
        self._stop_reading()
        for worker in range(self._n):
            self._cancel(worker)
        self._room.wake_all()
        self._ready.wake_all()
        if self._failure is not None and not self._delivered and self._scope is not None:
            self._scope.undelivered.append(self._failure)
        if self._receiver is not None:
            await self._receiver.aclose()
        if not self._reader_started:
            await self._upstream.aclose()  # the reader never ran: nothing of upstream started

    def describe(self) -> str:
        return f"{self._upstream!r} | map(concurrency={self._n})"
