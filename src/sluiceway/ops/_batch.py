"""Grouping items: batch(size) and batch(size, timeout=...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from .._core._callables import check_count
from .._core._codegen import CodeWriter, Stage
from .._core._funnel import Funnel

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Hashable

    from .._core._channel import Channel
    from .._core._pipeline import Pipeline

__all__ = ["Batch", "TimedBatch"]


class Batch(Stage):
    """Lists of ``size`` items; the last may be shorter and none is empty.

    A partial batch is handed downstream when upstream ends, when an upstream
    stage stops the stream (``take``) and before an upstream error propagates.
    """

    __slots__ = ("size",)
    holds_items = True
    nesting = 3  # the level's try, the full-batch if, the try around the flush before an error
    copies = 3  # emitting a full batch, flushing before an error, flushing at the end

    def __init__(self, size: int) -> None:
        self.size = check_count(size, "batch", "size", minimum=1)

    def shape(self) -> Hashable:
        return ("batch",)

    def params(self) -> dict[str, object]:
        return {"n": self.size}

    def emit(self, g: CodeWriter, k: int, rest: Callable[[], None]) -> None:
        g.init(f"buf{k} = []")
        # True while downstream runs, so an error from there is not flushed into it.
        g.init(f"dn{k} = False")
        g.line(f"buf{k}.append(x)")
        with g.block(f"if len(buf{k}) >= n{k}:"):
            g.line(f"x = buf{k}")
            g.line(f"buf{k} = []")
            g.line(f"dn{k} = True")
            rest()
            g.line(f"dn{k} = False")

    def flush(self, g: CodeWriter, k: int, rest: Callable[[], None], before_error: bool) -> None:
        # Before an error, not while downstream runs: the error came from there.
        with g.block(f"if not dn{k} and buf{k}:" if before_error else f"if buf{k}:"):
            g.line(f"x = buf{k}")
            g.line(f"buf{k} = []")
            rest()


class TimedBatch(Funnel):
    """Lists of up to ``size`` items, handed over ``timeout`` seconds after their first item.

    A background task reads upstream (at most ``size`` items ahead), so a
    slow source never holds a batch back past its deadline; the timer covers
    only the wait for the next item, never the consumer's own work. A partial
    batch is handed over at the end and before an upstream error; an empty
    batch never is.
    """

    __slots__ = ("_size", "_timeout")

    def __init__(self, upstream: Pipeline, size: int, timeout: float) -> None:
        super().__init__([upstream], size)
        self._size = size
        self._timeout = timeout

    def _receive(self, channel: Channel) -> AsyncGenerator[Any, None]:
        return _timed_batches(channel, self._size, self._timeout)

    def describe(self) -> str:
        return f"{super().describe()} | batch({self._size}, timeout={self._timeout:g})"


async def _timed_batches(
    channel: Channel, size: int, wait_at_most: float
) -> AsyncGenerator[list[Any], None]:
    while True:
        await channel.wait()
        if not channel.ready():
            channel.raise_failure()
            await channel.check_interrupted()
            return
        batch = [channel.take_nowait()]
        deadline = anyio.current_time() + wait_at_most
        while len(batch) < size:
            if channel.ready():
                batch.append(channel.take_nowait())
                continue
            if channel.failure_pending() or channel.ended():
                break
            with anyio.move_on_after(deadline - anyio.current_time()):
                await channel.wait()
            if not channel.ready() and anyio.current_time() >= deadline:
                break
        yield batch
