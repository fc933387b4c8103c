"""Closing things: exactly once, shielded from cancellation, within a grace period.

A source gets a grace period (5 s by default, :func:`grace_period` to change
it) to finish closing once it is asked to. One that is still running after
that, typically because it swallows cancellation, is abandoned: the
coroutine running it is dropped, a ``RuntimeWarning`` names it, and the
program goes on instead of hanging. :func:`drive` makes that possible: it
runs an awaitable step by step, so it can stop at any step.
"""

from __future__ import annotations

import time
import types
import warnings
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio

from ._callables import check_seconds

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Generator

__all__ = [
    "DEFAULT_GRACE",
    "Once",
    "close_from_below",
    "close_within",
    "current_grace",
    "drive",
    "grace_period",
]

T = TypeVar("T")

#: Seconds a source may take to close before it is abandoned with a warning.
DEFAULT_GRACE = 5.0

_grace: ContextVar[float] = ContextVar("sluiceway_grace", default=DEFAULT_GRACE)
#: Set while a close runs under a scope of its task's own beneath the source
#: (close_from_below): close_within then adds no scope of its own above it.
_guarded: ContextVar[bool] = ContextVar("sluiceway_close_guarded", default=False)


def current_grace() -> float:
    """The grace period in force here (see :func:`grace_period`)."""
    return _grace.get()


@contextmanager
def grace_period(seconds: float) -> Generator[None, None, None]:
    """Give sources ``seconds`` (instead of 5) to finish closing, for streams started inside.

    The setting follows the context: streams opened inside the ``with``
    block, and the background tasks they start, use it.

    Raises:
        ValueError: ``seconds`` is not a positive number.
    """
    token = _grace.set(check_seconds(seconds, "grace_period"))
    try:
        yield
    finally:
        _grace.reset(token)


@types.coroutine
def drive(
    awaitable: Awaitable[T], give_up_at: Callable[[], float | None]
) -> Generator[Any, Any, tuple[bool, T | None]]:
    """Await ``awaitable`` one step at a time; drop it once ``give_up_at()`` has passed.

    Every request of the awaitable goes to the event loop and every answer
    (value or exception, cancellations included) comes back to it, so it
    behaves exactly as if awaited directly. But when it resumes after the
    time ``give_up_at()`` returns (a ``time.monotonic()`` value, or None for
    no limit), it is closed instead of continued. Returns ``(abandoned,
    result)``.
    """
    inner = awaitable.__await__()
    send: Any = None
    throw: BaseException | None = None
    while True:
        try:
            if throw is not None:
                exc, throw = throw, None
                request = inner.throw(exc)
            else:
                request = inner.send(send)
        except StopIteration as stop:
            return False, stop.value
        limit = give_up_at()
        if limit is not None and time.monotonic() >= limit:
            _abandon(inner)
            return True, None
        try:
            send = yield request
        except BaseException as exc:
            send, throw = None, exc


class _Abandoned(BaseException):
    """Thrown into a coroutine that is given up on, to unwind its frames.

    A BaseException, so ``except Exception`` and ``except CancelledError``
    in the abandoned code do not stop it. Thrown rather than closed:
    ``close()`` does not reach into the async generators the coroutine is
    awaiting, and would leave them (and their cancel scopes) suspended.
    """


def _abandon(inner: Generator[Any, Any, Any]) -> None:
    try:
        inner.throw(_Abandoned())
    except (_Abandoned, StopIteration, Exception):
        return  # unwound (its own cleanup may have raised on the way out)
    # It caught even that and awaits again: drop it where it is.
    with suppress(RuntimeError):
        inner.close()


def warn_abandoned(what: object, grace: float) -> None:
    warnings.warn(
        f"sluiceway: {what!r} did not finish closing within {grace:g} s and was abandoned",
        RuntimeWarning,
        stacklevel=3,
    )


async def close_within(
    close: Callable[[], Awaitable[object]], what: object, grace: float | None = None
) -> None:
    """Await ``close()`` shielded from outside cancellation, for at most ``grace`` seconds.

    An error raised while closing propagates. A close still running after
    the grace period is cancelled; if it does not end then either, it is
    abandoned with a ``RuntimeWarning`` naming ``what``.
    """
    grace = current_grace() if grace is None else grace
    give_up = time.monotonic() + grace
    if _guarded.get():
        # The scope beneath already shields this close and ends it after the
        # grace period (close_from_below); a scope entered here would sit
        # above any cancel scope the source holds across its yield, which
        # the source could then not leave.
        abandoned, _ = await drive(close(), lambda: give_up)
        if abandoned:
            warn_abandoned(what, grace)
        return
    abandoned = False
    with anyio.move_on_after(grace, shield=True) as scope:
        abandoned, _ = await drive(close(), lambda: give_up)
    if abandoned or scope.cancelled_caught:
        warn_abandoned(what, grace)


async def close_from_below(
    scope: anyio.CancelScope, close: Callable[[], Awaitable[object]], what: object
) -> None:
    """Await ``close()`` inside ``scope``: a scope of this task entered before the source ran.

    A source may hold a cancel scope of its own across its ``yield`` (a
    deadline on the whole read). Such a source can only be closed while its
    scope is the task's innermost one, so nothing may be entered above it:
    ``scope``, which lies beneath, is shielded from outside cancellation and
    given the grace period instead, and :func:`close_within` adds no scope.
    A close that overruns the grace period is cut short with a
    ``RuntimeWarning``. If ``scope`` was already cancelled (the source was
    stopped inside a pull), the close runs under that cancellation, as any
    cancelled code does, and a source that will not stop is abandoned.
    """
    grace = current_grace()
    token = _guarded.set(True)
    try:
        if scope.cancel_called:
            await close()
            return
        scope.shield = True
        scope.deadline = anyio.current_time() + grace
        try:
            await close()
        except anyio.get_cancelled_exc_class():
            # Shielded: only the grace period ends it. Nothing is awaited after this.
            warn_abandoned(what, grace)
    finally:
        _guarded.reset(token)


class Once(Generic[T]):
    """Hands an already-made iterator to ``async for`` without a second ``__aiter__`` call."""

    __slots__ = ("_it",)

    def __init__(self, it: AsyncIterator[T]) -> None:
        self._it = it

    def __aiter__(self) -> AsyncIterator[T]:
        return self._it
