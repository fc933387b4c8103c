"""Bounded hand-over from background tasks to the consumer.

The consumer takes items one at a time from an async generator, so a fast
item costs a ``popleft`` and a resume, not an await on a lock. Producers
that are ahead by more than the buffer wait at a shared gate, which opens
once half the buffer is free (and whenever the consumer runs dry): a full
buffer costs a couple of task switches per refill, not one per item.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import StreamInterruptedError

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

__all__ = ["Channel", "Gate", "Waiters", "event_factory"]


def event_factory() -> Callable[[], anyio.Event]:
    """The running backend's Event class: makes events without a backend lookup each."""
    return type(anyio.Event())


class Waiters:
    """Tasks parked until something changes; woken one at a time, or all at once."""

    __slots__ = ("_new_event", "parked", "waking")

    def __init__(self) -> None:
        #: Events of the parked tasks, longest parked first (read on hot paths).
        self.parked: deque[anyio.Event] = deque()
        #: A task was woken and has not run yet.
        self.waking = False
        self._new_event: Callable[[], anyio.Event] | None = None

    async def park(self) -> None:
        if self._new_event is None:
            self._new_event = event_factory()
        event = self._new_event()
        self.parked.append(event)
        try:
            await event.wait()
        finally:
            if not event.is_set():
                self.parked.remove(event)  # cancelled while parked
            self.waking = False

    def wake_one(self) -> None:
        """Wake the longest-parked task, unless one woken earlier has not run yet."""
        if self.parked and not self.waking:
            self.waking = True
            self.parked.popleft().set()

    def wake_all(self) -> None:
        while self.parked:
            self.parked.popleft().set()
        self.waking = False


class Gate:
    """Tasks waiting for one shared event; opening it lets them all re-check at once."""

    __slots__ = ("_new_event", "event")

    def __init__(self, new_event: Callable[[], anyio.Event]) -> None:
        #: The event the waiting tasks wait for; None when nobody waits.
        self.event: anyio.Event | None = None
        self._new_event = new_event

    async def wait(self) -> None:
        event = self.event
        if event is None:
            event = self.event = self._new_event()
        await event.wait()

    def open(self) -> None:
        event = self.event
        if event is not None:
            self.event = None
            event.set()


class Channel:
    """Items from ``producers`` tasks to one consumer, at most ``buffer`` ahead.

    Each producer may put one item beyond the buffer (its item in hand) and
    then waits until that item is taken. The consumer gets every item put
    before a failure, then the failure; when every producer has finished,
    the end. After ``close()`` (the consumer left) waiting producers are
    released and ``wait_room()`` returns False.
    """

    __slots__ = (
        "_buffer",
        "_consumer",
        "_delivered",
        "_failure",
        "_interrupted",
        "_items",
        "_new_event",
        "_producers",
        "_put",
        "_room",
        "_taken",
        "closed",
        "stopped",
    )

    def __init__(self, buffer: int, producers: int) -> None:
        self._items: deque[Any] = deque()
        self._buffer = buffer
        self._producers = producers
        self._failure: BaseException | None = None
        self._consumer: anyio.Event | None = None
        self._new_event = event_factory()
        self._room = Gate(self._new_event)
        self._put = 0
        self._taken = 0
        self._delivered = False
        self._interrupted = False
        self.closed = False
        #: Closed or failed: producers put nothing more.
        self.stopped = False

    def _wake_consumer(self) -> None:
        consumer = self._consumer
        if consumer is not None:
            self._consumer = None
            consumer.set()

    def put_nowait(self, item: object) -> bool:
        """Hand ``item`` over; False if the caller must now ``await wait_room()``.

        No coroutine per item: the caller checks ``closed`` first, and awaits
        ``wait_room()`` before its next put when this returns False.
        """
        self._items.append(item)
        self._put += 1
        if self._consumer is not None:
            self._wake_consumer()
        return self._taken + self._buffer >= self._put

    async def wait_room(self) -> bool:
        """Wait until the item just put is within the buffer; False once closed or failed."""
        mine = self._put
        while self._taken + self._buffer < mine and self._is_open():
            await self._room.wait()
        return self._is_open()

    def _is_open(self) -> bool:
        # A method, not the attribute: it changes while a producer is parked.
        return not self.stopped

    def producer_done(self, *, interrupted: bool = False) -> None:
        """A producer finished; ``interrupted``: cancelled from outside, not at its end."""
        self._producers -= 1
        self._interrupted = self._interrupted or interrupted
        if self._producers == 0:
            self._wake_consumer()

    def fail(self, exc: BaseException) -> None:
        """Deliver ``exc`` after the items already put; later failures become notes.

        Producers put nothing more: a waiting one is released (``wait_room()`` returns False).
        """
        self.stopped = True
        self._room.open()
        if self._failure is None:
            self._failure = exc
        elif exc is not self._failure:
            self._failure.add_note(f"sluiceway: a later failure: {exc!r}")
        self._wake_consumer()

    def undelivered(self) -> BaseException | None:
        """The failure, if the consumer has not been given it."""
        return None if self._delivered else self._failure

    def take_nowait(self) -> Any:
        """The next item; the caller checked ``ready()``."""
        item = self._items.popleft()
        self._taken += 1
        if self._room.event is not None and len(self._items) <= self._buffer // 2:
            self._room.open()
        return item

    def ready(self) -> bool:
        """Whether an item is waiting."""
        return bool(self._items)

    def failure_pending(self) -> bool:
        return self._failure is not None

    def ended(self) -> bool:
        """No item will come any more (every producer done, or closed)."""
        return self._producers <= 0 or self.closed

    def raise_failure(self) -> None:
        """Raise the failure if there is one (the consumer saw every item before it)."""
        if self._failure is not None:
            self._delivered = True
            raise self._failure

    async def wait(self) -> None:
        """Until an item, a failure or the end; cancelling it loses nothing."""
        if self._items or self._failure is not None or self.ended():
            return
        self._room.open()
        event = self._consumer = self._new_event()
        await event.wait()

    def close(self) -> None:
        """The consumer is gone: release every waiting producer."""
        self.closed = self.stopped = True
        self._room.open()

    async def receive(self) -> AsyncGenerator[Any, None]:
        """The consumer's side: items in order, then the failure or the end."""
        items = self._items
        room = self._room
        low = self._buffer // 2
        while True:
            while items:
                item = items.popleft()
                self._taken += 1
                if room.event is not None and len(items) <= low:
                    room.open()
                yield item
            self.raise_failure()
            if self.ended():
                await self.check_interrupted()
                return
            await self.wait()

    async def check_interrupted(self) -> None:
        """A producer cancelled from outside means the consumer is being cancelled too.

        The producers run in a task group inside the consumer's own cancel
        scopes, so a cancellation that reached them reaches the consumer at
        this checkpoint; their end must not look like the end of the stream.
        """
        if self._interrupted and not self.closed:
            await anyio.lowlevel.checkpoint()
            raise StreamInterruptedError("sluiceway: the stream's background tasks were cancelled")
