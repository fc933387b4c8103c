"""DeliveryStream: the Stream of a broker source, whose batches can acknowledge themselves.

With ``ack="on_next"`` a source acknowledges a delivery when it is asked for
the next one. Over ``.batch(n)`` that would be too early: the batch operator
asks for the next delivery while it fills a batch. So ``.batch()`` called
right on a broker source's stream turns the source's own acknowledgement off
and puts a node after the batches that acknowledges a whole batch, in one
round trip, when the consumer asks for the next batch, or leaves the loop
without an exception. A batch the consumer raised in is acknowledged not at
all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from .._core._nodes import Composite
from .._stream import Stream
from ._delivery import Delivery, ack

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from .._core._pipeline import Pipeline
    from .._core._scope import Scope

__all__ = ["DeliveryStream"]


class AckingSource(Protocol):
    """What a broker source exposes to its stream: how deliveries are acknowledged."""

    ack_mode: Literal["manual", "on_next"]


class DeliveryStream(Stream[Delivery]):
    """A Stream of :class:`Delivery`; ``.batch()`` over it keeps ``ack="on_next"`` per batch."""

    __slots__ = ("_source",)

    def __init__(self, source: Any) -> None:
        super().__init__(source)
        self._source: AckingSource = source

    def batch(self, size: int, *, timeout: float | None = None) -> Stream[list[Delivery]]:
        """Lists of ``size`` deliveries (see :meth:`Stream.batch`).

        With ``ack="on_next"`` a batch is acknowledged, in one round trip, when
        the next batch is asked for or the loop is left without an exception.
        """
        batches = super().batch(size, timeout=timeout)
        if self._source.ack_mode != "on_next":
            return batches
        self._source.ack_mode = "manual"  # the batches are acknowledged instead
        return batches._around(
            lambda up: _AckedBatches([up]), "acknowledge each batch"
        )  # an operator of Stream's own kind


class _AckedBatches(Composite):
    """Batches of deliveries, each acknowledged when the consumer asks for the next."""

    __slots__ = ("_clean", "_last")

    def __init__(self, inputs: list[Pipeline]) -> None:
        super().__init__(inputs)
        self._last: list[Delivery] | None = None
        self._clean = False

    def run(self, scope: Scope | None) -> AsyncIterator[Any]:
        return self._acking(self._inputs[0].start(False, scope))

    async def _acking(self, batches: AsyncIterator[list[Delivery]]) -> AsyncGenerator[Any, None]:
        async for batch in batches:
            self._last = batch
            yield batch
            await ack(batch)  # the consumer asked for the next batch: this one is done
            self._last = None

    def on_leave(self, leaving: BaseException | None) -> None:
        self._clean = leaving is None

    async def release(self) -> None:
        last, self._last = self._last, None
        try:
            if last is not None and self._clean:
                await ack(last)  # a clean exit: the batch in hand is done (its source still open)
        finally:
            await super().release()

    def describe(self) -> str:
        return f"{self._inputs[0].node.describe()} | acknowledge each batch"
