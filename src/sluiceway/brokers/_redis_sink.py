"""redis_stream_sink(): write a stream of messages to a Redis stream, every write confirmed.

The messages are sent in pipelined rounds of at most ``max_in_flight`` XADDs:
a round is sent once it is full (or the input pauses: at most ``linger``
seconds of waiting), and the next one only after the server answered every
XADD of it. So no more than ``max_in_flight`` writes are ever unconfirmed,
and when the function returns, every message it counted is in the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._core._callables import check_count, check_seconds
from .._stream import stream as to_stream

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["redis_stream_sink"]


async def redis_stream_sink(
    messages: AsyncIterable[Mapping[str, Any]] | Iterable[Mapping[str, Any]],
    client: Any,
    stream: str,
    *,
    max_in_flight: int = 100,
    linger: float = 0.05,
    maxlen: int | None = None,
) -> int:
    """XADD each message (a field -> value mapping) to ``stream``; how many were written.

    Args:
        messages: a Stream, async iterable or iterable of mappings.
        client: a ``redis.asyncio.Redis`` client.
        stream: the stream's key.
        max_in_flight: XADDs sent before their confirmations are awaited.
        linger: seconds a partial round waits for more messages before it goes.
        maxlen: trim the stream to about this many entries (``MAXLEN ~``).

    Raises:
        TypeError: a message that is not a mapping (the messages before it are written).
    """
    if not hasattr(client, "pipeline"):
        raise TypeError(
            f"redis_stream_sink() expects a redis.asyncio.Redis client, got {type(client).__name__}"
        )
    width = check_count(max_in_flight, "redis_stream_sink", "max_in_flight", minimum=1)
    wait = check_seconds(linger, "redis_stream_sink", "linger")
    if maxlen is not None:
        check_count(maxlen, "redis_stream_sink", "maxlen", minimum=1)
    written = 0
    rounds = to_stream(messages).batch(width, timeout=wait)
    async with rounds:
        async for batch in rounds:
            written += await _round(client, stream, batch, maxlen)
    return written


async def _round(client: Any, stream: str, batch: Sequence[Any], maxlen: int | None) -> int:
    """One pipelined round of XADDs, confirmed; a non-mapping ends it with TypeError."""
    good = 0
    for message in batch:
        if not isinstance(message, Mapping):
            break
        good += 1
    if good:
        pipe = client.pipeline(transaction=False)
        for message in batch[:good]:
            pipe.xadd(stream, dict(message), maxlen=maxlen, approximate=True)
        await pipe.execute()  # raises if the server refused any of them
    if good < len(batch):
        bad = batch[good]
        raise TypeError(
            f"redis_stream_sink() expects mappings (field -> value), got {type(bad).__name__}"
        )
    return good
