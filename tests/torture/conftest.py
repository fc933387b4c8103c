"""Every torture case ends with no task left over and nothing sent to the loop's error handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest


async def _settle() -> None:
    for _ in range(5):
        await anyio.lowlevel.checkpoint()


@pytest.fixture(autouse=True)
async def no_leftovers(anyio_backend_name: str) -> AsyncIterator[None]:
    """Fail the test if it leaves a task running or an error for the loop's handler."""
    if anyio_backend_name == "trio":
        import trio

        before = trio.lowlevel.current_statistics().tasks_living
        yield
        await _settle()
        assert trio.lowlevel.current_statistics().tasks_living == before
        return
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    before = asyncio.all_tasks()
    try:
        yield
        await _settle()
        leftover = {
            task
            for task in asyncio.all_tasks() - before
            # the pytest plugin runs fixtures and tests through tasks of its own
            if "TestRunner" not in getattr(task.get_coro(), "__qualname__", "")
        }
        assert leftover == set()
        assert reported == []
    finally:
        loop.set_exception_handler(previous)
