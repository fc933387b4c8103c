"""Argument checks done at the call, and sync/async detection done once."""

from __future__ import annotations

import functools
import inspect
import operator
from inspect import CO_COROUTINE
from types import BuiltinFunctionType, FunctionType
from typing import cast

__all__ = ["check_callable", "check_count", "check_int", "check_seconds", "is_async_callable"]


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` gives a coroutine to await.

    True for ``async def`` functions and methods, ``functools.partial`` objects
    wrapping one, and objects whose ``__call__`` is ``async def``. Decided once
    per operator, never per item.
    """
    if type(fn) is FunctionType:  # the common case, without inspect's unwrapping
        return bool(fn.__code__.co_flags & CO_COROUTINE)
    if type(fn) is BuiltinFunctionType:
        return False
    while isinstance(fn, functools.partial):
        fn = cast("functools.partial[object]", fn).func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return False
    cls: type[object] = type(fn)
    # The method itself is inspected here, not whether fn is callable.
    return inspect.iscoroutinefunction(getattr(cls, "__call__", None))  # noqa: B004


def check_callable(fn: object, where: str, what: str = "fn") -> None:
    """Raise TypeError unless ``fn`` is callable."""
    if not callable(fn):
        raise TypeError(f"{where}() expects a callable {what}, got {type(fn).__name__}: {fn!r}")


def check_int(n: object, where: str, what: str) -> int:
    """Return ``n`` as an int (anything with ``__index__``, not a bool); else TypeError."""
    if isinstance(n, bool):
        raise TypeError(f"{where}() expects an int {what}, got bool: {n!r}")
    try:
        return operator.index(n)  # type: ignore[arg-type]  # checked by index() itself
    except TypeError:
        raise TypeError(f"{where}() expects an int {what}, got {type(n).__name__}: {n!r}") from None


def check_count(n: object, where: str, what: str = "n", minimum: int = 0) -> int:
    """Return ``n`` if it is an int of at least ``minimum``; raise TypeError/ValueError."""
    n = check_int(n, where, what)
    if n < minimum:
        raise ValueError(f"{where}() expects {what} >= {minimum}, got {n}")
    return n


def check_seconds(value: object, where: str, what: str = "seconds") -> float:
    """A positive, finite number of seconds, or TypeError/ValueError at the call."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{where}() expects a number of {what}, got {type(value).__name__}")
    seconds = float(value)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{where}() expects {what} > 0, got {value!r}")
    return seconds
