"""Pacing a stream: prefetch, timeout, throttle."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import anyio

from .._core._callables import check_count, check_seconds
from .._core._codegen import CodeWriter, Stage
from .._core._funnel import Funnel
from .._core._nodes import Composite

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Hashable

    from .._core._pipeline import Pipeline
    from .._core._scope import Scope

__all__ = ["Prefetch", "Throttle", "Timeout", "Window"]


class Prefetch(Funnel):
    """Reads ahead in a background task: at most n items held, plus one being handed over."""

    __slots__ = ()

    def describe(self) -> str:
        return f"{super().describe()} | prefetch({self._buffer})"


class Timeout(Composite):
    """TimeoutError when the next item takes longer than ``seconds`` to arrive.

    The clock starts at each pull. On expiry the pending pull is cancelled
    (which ends and closes the upstream pipeline) and the stream ends with
    the error. Nothing runs in the background.
    """

    __slots__ = ("_seconds",)

    def __init__(self, upstream: Pipeline, seconds: float) -> None:
        super().__init__([upstream])
        self._seconds = seconds

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        pull = self._inputs[0].start(False, scope, raw=True).__anext__
        return _within(pull, self._seconds)

    def describe(self) -> str:
        return f"{self._inputs[0]!r} | timeout({self._seconds:g})"


async def _within(pull: Callable[[], Any], seconds: float) -> AsyncIterator[Any]:
    while True:
        # The deadline covers the pull only: never a yield inside a cancel scope.
        item: Any = None
        with anyio.move_on_after(seconds) as deadline:
            try:
                item = await pull()
            except StopAsyncIteration:
                return
        if deadline.cancelled_caught:
            raise TimeoutError(f"timeout(): no item within {seconds:g} s")
        yield item


class Window:
    """The send times of the last ``rate`` items: a sliding window of ``per`` seconds."""

    __slots__ = ("_per", "_rate", "_sent")

    def __init__(self, rate: int, per: float) -> None:
        self._rate = rate
        self._per = per
        self._sent: deque[float] = deque()

    async def wait(self) -> None:
        """Sleep until one more item fits in the window, then count it."""
        sent = self._sent
        if len(sent) >= self._rate:
            delay = sent.popleft() + self._per - anyio.current_time()
            if delay > 0:
                await anyio.sleep(delay)
        sent.append(anyio.current_time())


class Throttle(Stage):
    """At most ``rate`` items in any ``per`` seconds; items are delayed, never dropped."""

    __slots__ = ("per", "rate")

    def __init__(self, rate: int, per: float) -> None:
        self.rate = check_count(rate, "throttle", "rate", minimum=1)
        self.per = check_seconds(per, "throttle", "per")

    def shape(self) -> Hashable:
        return ("throttle",)

    def params(self) -> dict[str, object]:
        return {"r": self.rate, "p": self.per}

    def names(self) -> dict[str, object]:
        return {"_Window": Window}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"w{k} = _Window(r{k}, p{k})")
        g.line(f"await w{k}.wait()")
        rest()
