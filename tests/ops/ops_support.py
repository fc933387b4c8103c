"""Helpers shared by the operator tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable

    import sluiceway as sw


class Boom(Exception):
    """A failure raised on purpose by a source or a user function."""


async def items_then_error(s: sw.Stream[Any]) -> tuple[list[Any], BaseException]:
    """Iterate ``s`` with ``async for``: the items it gave, then the exception it raised."""
    got: list[Any] = []
    try:
        async with s:
            async for item in s:
                got.append(item)
    except Boom as exc:
        return got, exc
    pytest.fail(f"no error raised; items: {got!r}")


def failing_at(bad: object, fn: Callable[..., Any], error: BaseException) -> Callable[..., Any]:
    """``fn``, except that it raises ``error`` for the item ``bad``."""

    def call(*args: Any) -> Any:
        if args[-1] == bad:
            raise error
        return fn(*args)

    return call
