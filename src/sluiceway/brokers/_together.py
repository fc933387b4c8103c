"""together(): run a few awaitables at once on asyncio, let every one finish, raise the first error.

For the JetStream paths, which run on asyncio alone (nats-py): plain asyncio
tasks cost a fraction of a portable task group's, and an acknowledgement
batch starts one per message.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable
    from typing import Any


async def together(coroutines: Iterable[Coroutine[Any, Any, object]]) -> None:
    """Await them concurrently; once every one finished, raise the first failure, if any.

    Unlike ``asyncio.gather`` no task is left running when one fails or the
    caller is cancelled (they are cancelled and waited for), and the error is
    the task's own, not an exception group: each one's success or failure is
    its own to record (an acknowledgement is either confirmed or not).
    """
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(coroutine) for coroutine in coroutines]
    if not tasks:
        return
    try:
        await asyncio.wait(tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.shield(asyncio.wait(tasks))
        raise
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
