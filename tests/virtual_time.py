"""Virtual time for tests of waits (backoff, retry, idle timeouts): seconds pass at once.

A test that asks for the ``anyio_backend`` fixture below runs on asyncio and
on trio with a clock that jumps straight to the next deadline whenever every
task is waiting, so a 30-second backoff takes no real time and
``anyio.current_time()`` reads exact virtual seconds. trio has this built in
(``MockClock(autojump_threshold=0)``); for asyncio, ``VirtualTimeLoop`` is a
selector event loop whose clock does the same.

Only for tests without real I/O (``httpx.MockTransport``, in-memory
sources): a wait for a socket or a thread would see its timeouts fire at
once. uvloop has no virtual clock, so it is not among these backends.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

import pytest


class _JumpingSelector(selectors.BaseSelector):
    """A selector that never sleeps: when nothing is ready it moves the clock to the deadline."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:
            # Nothing is scheduled: only a real event (another thread) can wake the loop.
            return self._real.select(None)
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on a virtual clock that starts at 0 and jumps to each deadline."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the loop does it itself when it would wait)."""
        self._virtual_now += seconds


#: The backends of a virtual-time test, by the id pytest shows.
VIRTUAL_BACKENDS = ["asyncio-virtual", "trio-virtual"]


def backend(name: str) -> tuple[str, dict[str, Any]]:
    """The ``anyio_backend`` value for one of VIRTUAL_BACKENDS, with a fresh clock."""
    if name == "asyncio-virtual":
        return "asyncio", {"loop_factory": VirtualTimeLoop}
    from trio.testing import MockClock

    return "trio", {"clock": MockClock(autojump_threshold=0)}


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """asyncio and trio, each on a virtual clock (a fresh one per test).

    For a whole test module: ``anyio_backend = virtual_time.anyio_backend``. In
    a class, a fixture method of the same name returns ``backend(request.param)``.
    """
    return backend(request.param)
