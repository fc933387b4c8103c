"""Closing things: exactly once, shielded from cancellation, within a grace period."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["DEFAULT_GRACE", "Once", "close_within"]

T = TypeVar("T")

#: Seconds a source may take to close before it is abandoned with a warning.
DEFAULT_GRACE = 5.0


async def close_within(
    close: Callable[[], Awaitable[object]], what: object, grace: float = DEFAULT_GRACE
) -> None:
    """Await ``close()`` shielded from outside cancellation, for at most ``grace`` seconds.

    An error raised while closing propagates. A close that takes longer than
    ``grace`` is cancelled and reported with a ``RuntimeWarning`` naming ``what``.
    """
    with anyio.move_on_after(grace, shield=True) as scope:
        await close()
    if scope.cancelled_caught:
        warnings.warn(
            f"sluiceway: {what!r} did not finish closing within {grace:g} s and was abandoned",
            RuntimeWarning,
            stacklevel=2,
        )


class Once(Generic[T]):
    """Hands an already-made iterator to ``async for`` without a second ``__aiter__`` call."""

    __slots__ = ("_it",)

    def __init__(self, it: AsyncIterator[T]) -> None:
        self._it = it

    def __aiter__(self) -> AsyncIterator[T]:
        return self._it
