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
    "Opened",
    "aclose_iterator",
    "beneath_sources",
    "close_within",
    "current_grace",
    "drive",
    "grace_period",
]

T = TypeVar("T")

#: Seconds a source may take to close before it is abandoned with a warning.
DEFAULT_GRACE = 5.0

_grace: ContextVar[float] = ContextVar("sluiceway_grace", default=DEFAULT_GRACE)
#: The running task's scope beneath its sources (see beneath_sources), with the task.
_below: ContextVar[tuple[object, anyio.CancelScope] | None] = ContextVar(
    "sluiceway_scope_below", default=None
)


async def aclose_iterator(iterator: AsyncIterator[Any]) -> None:
    """``aclose()`` an async iterator that has one, as async generators do.

    For iterators typed as ``AsyncIterator`` (the protocol has no ``aclose``)
    that are generators in fact: a library's body stream, a node's run.
    """
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


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

    Inside :func:`beneath_sources` the shield and the time limit are set on
    that scope, beneath the source, for the time of the close: a source that
    holds a cancel scope of its own across its ``yield`` (a deadline on the
    whole read) can only leave it while it is the task's innermost scope,
    which a scope entered here would not let it be. If that scope was
    already cancelled (the source was stopped inside a pull), the close runs
    under the cancellation, as any cancelled code does.
    """
    grace = current_grace() if grace is None else grace
    give_up = time.monotonic() + grace
    below = _below.get()
    if below is not None and below[0] == anyio.get_current_task().id:
        await _close_below(below[1], close, what, grace, give_up)
        return
    abandoned = False
    with anyio.move_on_after(grace, shield=True) as scope:
        abandoned, _ = await drive(close(), lambda: give_up)
    if abandoned or scope.cancelled_caught:
        warn_abandoned(what, grace)


async def _close_below(
    scope: anyio.CancelScope,
    close: Callable[[], Awaitable[object]],
    what: object,
    grace: float,
    give_up: float,
) -> None:
    if scope.cancel_called:
        abandoned, _ = await drive(close(), lambda: give_up)
        if abandoned:
            warn_abandoned(what, grace)
        return
    shield, deadline = scope.shield, scope.deadline
    scope.shield = True
    scope.deadline = min(deadline, anyio.current_time() + grace)
    try:
        abandoned, _ = await drive(close(), lambda: give_up)
    except anyio.get_cancelled_exc_class():
        if not _cancelled(scope):
            raise  # not the time limit: a scope of the source's own
        # Shielded, so the time limit: the rest of the scope is cancelled too.
        warn_abandoned(what, grace)
        return
    finally:
        if not _cancelled(scope):
            scope.shield, scope.deadline = shield, deadline
    if abandoned:
        warn_abandoned(what, grace)


def _cancelled(scope: anyio.CancelScope) -> bool:
    # A call, not the attribute: it changes while the close is awaited.
    return scope.cancel_called


@contextmanager
def beneath_sources(scope: anyio.CancelScope) -> Generator[None, None, None]:
    """Closes in this task, inside the ``with``, use ``scope`` (see :func:`close_within`).

    ``scope`` must be entered by this task before it runs any source, and
    left after it closed them (a background task's own scope, or one around
    a terminal operation): it lies beneath every cancel scope a source holds.
    """
    token = _below.set((anyio.get_current_task().id, scope))
    try:
        yield
    finally:
        _below.reset(token)


class Opened(Generic[T]):
    """Hands an already-made iterator to ``async for`` without a second ``__aiter__`` call."""

    __slots__ = ("_it",)

    def __init__(self, it: AsyncIterator[T]) -> None:
        self._it = it

    def __aiter__(self) -> AsyncIterator[T]:
        return self._it
