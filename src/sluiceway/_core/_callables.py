"""Argument checks done at the call, and sync/async detection done once."""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["check_callable", "check_count", "is_async_callable"]


def is_async_callable(fn: Any) -> bool:
    """Whether calling ``fn`` gives a coroutine to await.

    True for ``async def`` functions and methods, ``functools.partial`` objects
    wrapping one, and objects whose ``__call__`` is ``async def``. Decided once
    per operator, never per item.
    """
    while isinstance(fn, functools.partial):
        fn = fn.func  # pyright: ignore[reportUnknownMemberType]
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return False
    return inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))


def check_callable(fn: object, where: str, what: str = "fn") -> None:
    """Raise TypeError unless ``fn`` is callable."""
    if not callable(fn):
        raise TypeError(f"{where}() expects a callable {what}, got {type(fn).__name__}: {fn!r}")


def check_count(n: object, where: str, what: str = "n", minimum: int = 0) -> int:
    """Return ``n`` if it is an int of at least ``minimum``; raise TypeError/ValueError."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{where}() expects an int {what}, got {type(n).__name__}: {n!r}")
    if n < minimum:
        raise ValueError(f"{where}() expects {what} >= {minimum}, got {n}")
    return n
