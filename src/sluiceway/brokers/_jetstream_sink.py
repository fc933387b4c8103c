"""jetstream_sink(): publish a stream of messages to JetStream, every publish confirmed.

The messages go out in rounds of at most ``max_in_flight`` publishes sent
together: a round leaves once it is full (or the input pauses: at most
``linger`` seconds of waiting), and the next one only after the server
acknowledged (PubAck) every publish of it. So no more than ``max_in_flight``
publishes are ever unconfirmed, and when the function returns, every message
it counted is stored in a stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core._callables import check_count, check_seconds
from .._stream import stream as to_stream
from ._together import together

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Iterable, Sequence

__all__ = ["jetstream_sink"]


async def jetstream_sink(
    messages: AsyncIterable[bytes | bytearray | memoryview | str]
    | Iterable[bytes | bytearray | memoryview | str],
    js: Any,
    subject: str,
    *,
    max_in_flight: int = 100,
    linger: float = 0.05,
) -> int:
    """Publish each message (bytes, or str sent as UTF-8) to ``subject``; how many were stored.

    Args:
        messages: a Stream, async iterable or iterable of payloads.
        js: a nats-py JetStream context (``nc.jetstream()``).
        subject: the subject (a JetStream stream must hold it).
        max_in_flight: publishes sent before their acknowledgements are awaited.
        linger: seconds a partial round waits for more messages before it goes.

    Raises:
        TypeError: a message that is neither bytes nor str (the messages before
            it are published).
        LookupError: no stream holds ``subject`` (nothing was stored).
    """
    if not hasattr(js, "publish") or not hasattr(js, "pull_subscribe"):
        raise TypeError(
            "jetstream_sink() expects a nats-py JetStream context (nc.jetstream()), "
            f"got {type(js).__name__}"
        )
    if not isinstance(subject, str) or not subject:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"jetstream_sink() expects a subject, got {subject!r}")
    width = check_count(max_in_flight, "jetstream_sink", "max_in_flight", minimum=1)
    wait = check_seconds(linger, "jetstream_sink", "linger")
    written = 0
    rounds = to_stream(messages).batch(width, timeout=wait)
    async with rounds:
        async for batch in rounds:
            written += await _round(js, subject, batch)
    return written


async def _round(js: Any, subject: str, batch: Sequence[Any]) -> int:
    """One round of publishes, all acknowledged; a bad payload ends it with TypeError."""
    payloads: list[bytes] = []
    for message in batch:
        if isinstance(message, str):
            payloads.append(message.encode())
        elif isinstance(message, bytes):
            payloads.append(message)
        elif isinstance(message, bytearray | memoryview):
            payloads.append(bytes(message))  # pyright: ignore[reportUnknownArgumentType]
        else:
            break
    if payloads:
        import nats.errors
        import nats.js.errors

        # Sent together, each confirmed (PubAck); the first refusal is raised.
        try:
            await together(js.publish(subject, payload) for payload in payloads)
        except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
            raise LookupError(
                f"jetstream_sink(): no JetStream stream holds subject {subject!r}; create one "
                f"first, e.g. await js.add_stream(name=..., subjects=[{subject!r}])"
            ) from None
    if len(payloads) < len(batch):
        bad = batch[len(payloads)]
        raise TypeError(
            f"jetstream_sink() expects bytes or str, got {type(bad).__name__} "
            "(encode it first, e.g. json.dumps(value))"
        )
    return len(payloads)
