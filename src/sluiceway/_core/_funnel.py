"""Background tasks that move streams into a channel: the base of merge, prefetch, timed batch.

One task per input stream pulls its items and puts them into a bounded
:class:`Channel`; the consumer takes them at its own pace. Each task opens,
iterates and closes its input itself (an async generator is closed in the
task that ran it). A task parked at the channel is stopped through it, not
cancelled: its input may hold a cancel scope across its ``yield``, which it
can only leave with nothing entered above it, and its ``finally`` then runs
uncancelled (see :func:`close_within`); a task anywhere else is in its
input's pull, and is cancelled there. The first failure is handed to the
consumer after the items put before it and stops the other tasks; a failure
that happens after the consumer left is kept in the scope and raised when
it exits.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio

from ._channel import Channel
from ._lifecycle import Opened, beneath_sources, current_grace, drive, warn_abandoned
from ._nodes import Node
from ._scope import raise_first

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from ._pipeline import Pipeline
    from ._scope import Scope

__all__ = ["Funnel"]


class Funnel(Node):
    """Items of several streams, as they arrive, through one bounded channel."""

    __slots__ = (
        "_buffer",
        "_cancels",
        "_channel",
        "_give_up",
        "_grace",
        "_parts",
        "_receiver",
        "_scope",
        "_started",
        "_waiting",
    )
    hands_out_own = True

    @property
    def needs_scope(self) -> bool:
        return True

    def __init__(self, parts: list[Pipeline], buffer: int) -> None:
        super().__init__()
        self._parts = parts
        self._buffer = buffer
        self._started = [False] * len(parts)
        self._waiting = [False] * len(parts)  # a task is parked at the channel
        self._cancels: list[anyio.CancelScope] = []  # made in open(): needs a running loop
        self._channel: Channel | None = None
        self._receiver: AsyncGenerator[Any, None] | None = None
        self._scope: Scope | None = None
        self._grace = current_grace()
        self._give_up: float | None = None  # set when the tasks are asked to stop

    def open(self, scope: Scope | None) -> AsyncIterator[Any]:
        assert scope is not None, "Pipeline.start checks needs_scope"
        self._scope = scope
        self._grace = current_grace()  # the grace period where the stream starts
        self._cancels = [anyio.CancelScope() for _ in self._parts]
        channel = self._channel = Channel(self._buffer, len(self._parts))
        for index in range(len(self._parts)):
            scope.spawn(self._pump, index)
        self._receiver = self._receive(channel)
        return self._receiver

    def _receive(self, channel: Channel) -> AsyncGenerator[Any, None]:
        """The consumer's side; subclasses reshape it (timed batches)."""
        return channel.receive()

    def _report(self, exc: BaseException) -> None:
        """A failure for the consumer, or for the scope's exit once the consumer left."""
        channel = self._channel
        if channel is not None and not channel.closed:
            channel.fail(exc)
        elif self._scope is not None:
            self._scope.undelivered.append(exc)

    def _stop_tasks(self) -> None:
        """Stop every task: cancel those in their input (the others stop at the channel).

        One still running after the grace period is abandoned.
        """
        if self._give_up is None:
            self._give_up = time.monotonic() + self._grace
        for index, cancel in enumerate(self._cancels):
            if not self._waiting[index]:
                cancel.cancel()

    async def _pump(self, index: int) -> None:
        if self._closed:
            return  # the consumer left before this task ran; release() closes the part
        self._started[index] = True
        part = self._parts[index]
        channel = self._channel
        assert channel is not None
        cancel = self._cancels[index]
        interrupted = abandoned = False
        try:
            with cancel, beneath_sources(cancel):
                try:
                    abandoned, _ = await drive(
                        self._drain(index, part, channel), lambda: self._give_up
                    )
                except anyio.get_cancelled_exc_class():
                    interrupted = not cancel.cancel_called  # cancelled from outside the stream
                    raise
                except Exception as exc:
                    self._report(exc)
                    self._stop_tasks()
                finally:
                    if abandoned:
                        self._warn_abandoned(part)
                    else:
                        try:
                            await part.aclose()  # shielded by `cancel`, beneath the source
                        except Exception as exc:
                            self._report(exc)
        finally:
            channel.producer_done(interrupted=interrupted)

    async def _drain(self, index: int, part: Pipeline, channel: Channel) -> None:
        put_nowait = channel.put_nowait
        waiting = self._waiting
        async for item in Opened(part.start(False, self._scope, raw=True)):
            if channel.stopped:
                break
            if not put_nowait(item):
                # Parked at the channel, not in the input: stopped without a cancellation.
                waiting[index] = True
                room = await channel.wait_room()
                waiting[index] = False
                if not room:
                    break

    def _warn_abandoned(self, what: object) -> None:
        try:
            warn_abandoned(what, self._grace)
        except Warning as exc:  # warnings turned into errors: raise it at the scope's exit
            self._report(exc)

    async def release(self) -> None:
        channel = self._channel
        if channel is not None:
            pending = channel.undelivered()
            if pending is not None and self._scope is not None:
                self._scope.undelivered.append(pending)
            channel.close()
        self._stop_tasks()
        if self._receiver is not None:
            await self._receiver.aclose()
        errors: list[BaseException] = []
        for index, part in enumerate(self._parts):
            if not self._started[index]:
                try:
                    await part.aclose()
                except Exception as exc:
                    errors.append(exc)
        raise_first(errors, None)

    def describe(self) -> str:
        return ", ".join(repr(part) for part in self._parts)
