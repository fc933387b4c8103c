"""together(): run a few awaitables at once, let every one finish, raise the first error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable


async def together(calls: Iterable[Callable[[], Awaitable[object]]]) -> None:
    """Await every call concurrently, in a task group; then raise the first failure, if any.

    Unlike ``asyncio.gather`` no call is left running when one fails, and the
    error is the call's own, not an exception group: each call's success or
    failure is its own to record (an acknowledgement is either confirmed or not).
    """
    errors: list[Exception] = []

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        try:
            await call()
        except Exception as exc:  # every one is kept, the first raised
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(one, call)
    if errors:
        raise errors[0]
