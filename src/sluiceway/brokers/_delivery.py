"""Delivery: one message of a consumer group, acknowledged only when you say so.

A delivery is never acknowledged on receipt: :meth:`Delivery.ack` sends the
acknowledgement and returns once the server confirmed it. :func:`ack`
acknowledges many in one round trip per source. Until then the message stays
pending with the broker, so a crash, an exception or a cancellation leaves it
to be delivered again (``attempt`` counts the deliveries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["Acker", "Delivery", "ack"]


class Acker(Protocol):
    """What a source gives its deliveries: acknowledge some of its own, confirmed."""

    async def ack_ids(self, deliveries: Sequence[Delivery]) -> None: ...


class Delivery:
    """One message, as the consumer group delivered it to this consumer.

    Attributes:
        value: the message's content (for Redis Streams, the entry's field ->
            value mapping as the client returns it; for JetStream, the payload
            bytes).
        id: the message's id in the stream.
        attempt: how many times it has been delivered, this time included (1
            the first time): a handler can tell a redelivery, and should be
            idempotent, since delivery is at least once.
        checkpoint: where the stream stood at this message (its id).
        acked: whether :meth:`ack` went through.
        source: what acknowledges it (the consumer loop it came from).
        message: the client library's own message, for what ``value`` leaves
            out (nats-py's ``Msg``: subject and headers); None for Redis.
    """

    __slots__ = ("acked", "attempt", "checkpoint", "id", "message", "source", "value")

    def __init__(
        self, source: Acker, value: Any, id: str, attempt: int, message: Any = None
    ) -> None:
        self.source: Acker = source
        self.value: Any = value
        self.id: str = id
        self.attempt: int = attempt
        self.checkpoint: str = id
        self.acked: bool = False
        self.message: Any = message

    async def ack(self) -> None:
        """Acknowledge it, and return once the server confirmed; again: nothing."""
        if not self.acked:
            await self.source.ack_ids([self])

    def __repr__(self) -> str:
        state = "acked" if self.acked else "pending"
        return f"Delivery(id={self.id!r}, attempt={self.attempt}, {state}, value={self.value!r})"


async def ack(deliveries: Iterable[Delivery]) -> int:
    """Acknowledge ``deliveries`` (a batch), one round trip per source; how many were new.

    Those already acknowledged are left out. Over ``stream.batch(n)`` of
    deliveries: ``await sluiceway.brokers.ack(batch)`` after the batch is done.
    """
    by_source: dict[int, tuple[Acker, list[Delivery]]] = {}
    for delivery in deliveries:
        if not isinstance(delivery, Delivery):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"ack() expects deliveries, got {type(delivery).__name__}")
        if not delivery.acked:
            source = delivery.source
            by_source.setdefault(id(source), (source, []))[1].append(delivery)
    count = 0
    for source, batch in by_source.values():
        await source.ack_ids(batch)
        count += len(batch)
    return count
