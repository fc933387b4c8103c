"""redis_stream(): a Redis Streams consumer group as a stream of deliveries, at least once.

The loop, over redis-py's asyncio client:

1. the group is created if missing (``XGROUP CREATE ... MKSTREAM``);
2. this consumer's own pending entries are read first (``XREADGROUP`` from
   id 0): what a crashed run of the same consumer had in hand;
3. then new entries (``XREADGROUP >``), blocking at most ``block`` seconds a
   call (an empty answer is "nothing yet"), and every ``claim_idle / 2``
   seconds the entries other consumers left idle longer than ``claim_idle``
   are claimed (``XAUTOCLAIM``): a dead worker's messages are taken over.

At most ``max_in_flight`` deliveries are unacknowledged at once: the loop
reads no more until acknowledgements make room (the backpressure). An entry
delivered more than ``max_attempts`` times goes to the dead-letter stream with
the error it last failed with, and is acknowledged. A lost connection is
retried with backoff and resumes from step 2: nothing is lost, since an
entry leaves the pending list only through an acknowledgement.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .._core._callables import check_count, check_seconds
from .._core._nodes import Source
from .._transport._backoff import backoff_delay
from ..errors import UnsupportedBackendError
from ._delivery import Delivery
from ._stream import DeliveryStream

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    from .._core._scope import Scope

__all__ = ["redis_stream"]

AckMode = Literal["manual", "on_next"]

#: Entries read per call at most (and fewer when the in-flight bound is close).
_READ_COUNT = 100
#: Seconds an acknowledgement keeps being retried over lost connections (a
#: server restarting) before its error is raised.
_ACK_PATIENCE = 10.0
#: The longest wait between reconnect attempts, seconds.
_BACKOFF_MAX = 5.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(reply: Any) -> list[tuple[Any, Any]]:
    """The (id, fields) of an XREADGROUP reply for one stream, RESP2 or RESP3."""
    if not reply:
        return []
    if isinstance(reply, dict):
        pairs: list[tuple[Any, Any]] = list(reply.items())  # pyright: ignore[reportUnknownArgumentType]
        reply = pairs
    found: list[tuple[Any, Any]] = []
    for _name, messages in reply:
        if messages and isinstance(messages[0], list) and len(messages) == 1:  # RESP3 nesting
            messages = messages[0]
        found.extend((entry[0], entry[1]) for entry in messages)
    return found


class _RedisStream(Source):
    """The consumer loop of one redis_stream(): reads, claims, acknowledges."""

    __slots__ = (
        "_block",
        "_claim_idle",
        "_clean",
        "_client",
        "_consumer",
        "_dead_letter",
        "_failed",
        "_group",
        "_in_flight",
        "_last",
        "_max_attempts",
        "_max_in_flight",
        "_next",
        "_room",
        "_stream",
        "_unhanded",
        "ack_mode",
    )

    def __init__(
        self,
        client: Any,
        stream: str,
        *,
        group: str,
        consumer: str,
        ack: AckMode,
        max_in_flight: int,
        block: float,
        claim_idle: float,
        max_attempts: int,
        dead_letter: str,
    ) -> None:
        super().__init__()
        self._client = client
        self._stream = stream
        self._group = group
        self._consumer = consumer
        self.ack_mode = ack
        self._max_in_flight = max_in_flight
        self._block = block
        self._claim_idle = claim_idle
        self._max_attempts = max_attempts
        self._dead_letter = dead_letter
        #: The ids delivered and not acknowledged yet (this process's in-flight work).
        self._in_flight: set[str] = set()
        self._room: anyio.Event | None = None
        #: The last delivery handed out, and the error the consumer left with.
        self._last: Delivery | None = None
        self._failed: BaseException | None = None
        #: Whether the consumer left without an exception (async with, terminal operations).
        self._clean = False
        #: The entries of the read being handed out, the index of the next one, and
        #: their delivery counts (the read's, or XPENDING's): what is not handed yet.
        self._unhanded: tuple[list[tuple[Any, Any]], int | None, dict[str, int]] | None = None
        self._next = 0

    def describe(self) -> str:
        return f"brokers.redis_stream({self._stream!r}, group={self._group!r})"

    def run(self, scope: Scope | None) -> AsyncGenerator[Delivery, None]:
        return self._deliveries()

    # -- acknowledgements ------------------------------------------------

    async def ack_ids(self, deliveries: Sequence[Delivery]) -> None:
        """XACK ``deliveries`` in one call; they leave the in-flight count once confirmed."""
        ids = [d.id for d in deliveries if not d.acked]
        if not ids:
            return
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        # XACK is idempotent: a connection lost on the way is retried on a new one
        # (the client reconnects), for up to _ACK_PATIENCE seconds, before the
        # error reaches the caller.
        give_up = time.monotonic() + _ACK_PATIENCE
        attempt = 0
        while True:
            try:
                await self._client.xack(self._stream, self._group, *ids)
                break
            except (RedisConnectionError, RedisTimeoutError, OSError):
                attempt += 1
                if time.monotonic() >= give_up:
                    raise
                await anyio.sleep(backoff_delay(attempt, 0.05, 1.0, random.random))
        for delivery in deliveries:
            delivery.acked = True
            self._in_flight.discard(delivery.id)
        if self._room is not None:
            self._room.set()

    def on_leave(self, leaving: BaseException | None) -> None:
        self._clean = leaving is None
        # An exception (not a cancellation) is kept for the dead letter, in release().
        self._failed = leaving if isinstance(leaving, Exception) else None

    async def release(self) -> None:
        try:
            await super().release()
        finally:
            await self._give_back()
            last, failed = self._last, self._failed
            if last is not None and not last.acked:
                # The last delivery in hand: its error is recorded (it stays pending),
                # or with ack="on_next" a clean exit acknowledges it.
                with anyio.move_on_after(5, shield=True):
                    if failed is not None:
                        await self._client.hset(
                            self._errors_key, last.id, f"{type(failed).__name__}: {failed}"
                        )
                    elif self.ack_mode == "on_next" and self._clean:
                        await last.ack()

    async def _give_back(self) -> None:
        """Entries read but never handed out go back to the group, as if never delivered.

        Their delivery count is set back and their idle time made ``claim_idle``
        (XCLAIM to this consumer with RETRYCOUNT and IDLE), so another consumer's
        janitor takes them at once and this one on a restart; ``attempt`` is not
        inflated by entries nobody saw.
        """
        reading, self._unhanded = self._unhanded, None
        if reading is None:
            return
        entries, attempt, counts = reading
        by_count: dict[int, list[str]] = {}
        for raw_id, fields in entries[self._next :]:
            entry_id = _text(raw_id)
            if fields is not None and entry_id not in self._in_flight:
                tries = attempt if attempt is not None else counts.get(entry_id, 1)
                by_count.setdefault(tries - 1, []).append(entry_id)
        with anyio.move_on_after(5, shield=True):
            for count, ids in by_count.items():
                await self._client.xclaim(
                    self._stream,
                    self._group,
                    self._consumer,
                    0,
                    ids,
                    idle=int(self._claim_idle * 1000) + 1,
                    retrycount=count,
                    justid=True,
                )

    # -- the loop ----------------------------------------------------------

    @property
    def _errors_key(self) -> str:
        return f"{self._dead_letter}:errors"

    async def _deliveries(self) -> AsyncGenerator[Delivery, None]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise UnsupportedBackendError(
                "redis_stream() runs only on asyncio (uvloop too): redis-py's asyncio client "
                "cannot run on trio",
                where="redis_stream",
            ) from None
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        lost = (RedisConnectionError, RedisTimeoutError, OSError)
        on_next = self.ack_mode == "on_next"
        failures = 0
        while True:
            try:
                await self._ensure_group()
                async for delivery in self._read_all():
                    failures = 0
                    self._last = delivery
                    yield delivery
                    if on_next:
                        await delivery.ack()  # the consumer asked for the next one
            except lost:
                if on_next:
                    self._in_flight.clear()  # nothing is in the consumer's hands
                failures += 1
                await anyio.sleep(backoff_delay(failures, 0.05, _BACKOFF_MAX, random.random))

    async def _ensure_group(self) -> None:
        from redis.exceptions import ResponseError

        try:
            await self._client.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _block_ms(self, limit: float) -> int:
        """The block of one read: at most ``limit`` s, and under the client's socket timeout.

        (A block longer than the socket timeout raises a timeout: redis-py#3138.)
        """
        block = min(self._block, limit)
        pool = getattr(self._client, "connection_pool", None)
        kwargs: dict[str, Any] = getattr(pool, "connection_kwargs", {}) or {}
        timeout = kwargs.get("socket_timeout")
        if isinstance(timeout, int | float) and timeout > 0:
            block = min(block, timeout / 2)
        return max(1, int(block * 1000))

    async def _wait_for_room(self) -> int:
        """How many more may be delivered; waits while max_in_flight are unacknowledged."""
        while True:
            room = self._max_in_flight - len(self._in_flight)
            if room > 0:
                return room
            self._room = anyio.Event()
            await self._room.wait()

    async def _read_all(self) -> AsyncGenerator[Delivery, None]:
        """Own pending entries first, then new ones and claimed ones, for good."""
        client, stream, group, consumer = self._client, self._stream, self._group, self._consumer
        start = "0"
        while True:  # this consumer's own pending entries
            room = await self._wait_for_room()
            reply = await client.xreadgroup(
                group, consumer, {stream: start}, count=min(room, _READ_COUNT)
            )
            entries = _entries(reply)
            if not entries:
                break
            start = _text(entries[-1][0])
            async for delivery in self._deliver(entries, None):
                yield delivery
        next_claim = time.monotonic()  # a first pass at once: a new worker takes over at start
        while True:
            room = await self._wait_for_room()
            if time.monotonic() >= next_claim:
                next_claim = time.monotonic() + self._claim_idle / 2
                claimed = await self._claim(room)
                async for delivery in self._deliver(claimed, None):
                    yield delivery
                continue
            # The wait ends in time for the next janitor pass: a dead worker's
            # entries are claimed after claim_idle even while the stream is quiet.
            until_claim = max(next_claim - time.monotonic(), 0.001)
            reply = await client.xreadgroup(
                group,
                consumer,
                {stream: ">"},
                count=min(room, _READ_COUNT),
                block=self._block_ms(until_claim),
            )
            async for delivery in self._deliver(_entries(reply), 1):
                yield delivery

    async def _claim(self, room: int) -> list[tuple[Any, Any]]:
        """XAUTOCLAIM the entries idle longer than claim_idle; deleted ones are acknowledged."""
        reply = await self._client.xautoclaim(
            self._stream,
            self._group,
            self._consumer,
            min_idle_time=int(self._claim_idle * 1000),
            start_id="0-0",
            count=min(room, _READ_COUNT),
        )
        entries = [(entry[0], entry[1]) for entry in reply[1]]
        if len(reply) > 2 and reply[2]:  # Redis 7: ids of entries deleted meanwhile
            await self._client.xack(self._stream, self._group, *reply[2])
        return entries

    async def _deliver(
        self, entries: list[tuple[Any, Any]], attempt: int | None
    ) -> AsyncGenerator[Delivery, None]:
        """The entries as deliveries (attempts from XPENDING unless known); dead ones go."""
        if not entries:
            return
        counts: dict[str, int] = {}
        if attempt is None:
            ids = [_text(entry_id) for entry_id, _ in entries]
            pending = await self._client.xpending_range(
                self._stream, self._group, min=ids[0], max=ids[-1], count=len(ids) * 2 + 10
            )
            counts = {_text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        self._unhanded = (entries, attempt, counts)
        for index, (raw_id, fields) in enumerate(entries, start=1):
            self._next = index  # the entries from here on are not handed out
            entry_id = _text(raw_id)
            if fields is None:  # deleted from the stream while pending
                await self._client.xack(self._stream, self._group, raw_id)
                continue
            if entry_id in self._in_flight:
                continue  # still in this consumer's hands (claimed back or read again)
            tries = attempt if attempt is not None else counts.get(entry_id, 1)
            if tries > self._max_attempts:
                await self._bury(raw_id, entry_id, fields, tries)
                continue
            self._in_flight.add(entry_id)
            yield Delivery(self, fields, entry_id, tries)
        self._unhanded = None

    async def _bury(self, raw_id: Any, entry_id: str, fields: Any, tries: int) -> None:
        """Move an entry past max_attempts to the dead-letter stream, with its last error."""
        client = self._client
        error = await client.hget(self._errors_key, entry_id)
        record = dict(fields)
        record.update(
            {
                "dead_letter.stream": self._stream,
                "dead_letter.id": entry_id,
                "dead_letter.attempts": str(tries - 1),
                "dead_letter.error": _text(error) if error is not None else "",
            }
        )
        await client.xadd(self._dead_letter, record)
        await client.xack(self._stream, self._group, raw_id)
        await client.hdel(self._errors_key, entry_id)


def redis_stream(
    client: Any,
    stream: str,
    *,
    group: str,
    consumer: str,
    ack: AckMode = "manual",
    max_in_flight: int = 100,
    block: float = 5.0,
    claim_idle: float = 30.0,
    max_attempts: int = 5,
    dead_letter: str | None = None,
) -> DeliveryStream:
    """The entries of a Redis stream for one consumer of a consumer group, at least once.

    Run the same ``group`` in N workers with distinct ``consumer`` names: each
    entry goes to one of them, and what a dead worker had in hand is taken
    over after ``claim_idle`` seconds.

    Args:
        client: a ``redis.asyncio.Redis`` client.
        stream: the stream's key.
        group: the consumer group (created, with the stream, if missing).
        consumer: this consumer's name in the group; a restarted worker should
            keep its name, so that it gets its own pending entries back first.
        ack: ``"manual"``: call ``await delivery.ack()`` (or
            ``await sluiceway.brokers.ack(batch)``); ``"on_next"``: a delivery
            is acknowledged when the consumer asks for the next one (the loop
            body finished), or leaves the loop without an exception; over
            ``.batch(n)`` right on this stream, a whole batch when the next
            batch is asked for (not after other operators that read ahead).
        max_in_flight: unacknowledged deliveries at most; no more are read
            until acknowledgements make room.
        block: seconds one read waits for new entries (kept under the
            client's socket timeout); an empty read is not an error.
        claim_idle: seconds an entry stays idle with another consumer before
            it is claimed.
        max_attempts: deliveries of one entry before it goes to the dead letter.
        dead_letter: the dead-letter stream (default ``"<stream>:dead"``); an
            entry there has its fields and ``dead_letter.stream``, ``.id``,
            ``.attempts`` and ``.error`` (the last exception a consumer left
            the loop with while it had the entry, if any).

    Returns:
        A Stream of :class:`Delivery`. A delivery whose processing raised or
        was cancelled is not acknowledged: it stays pending and comes again.
    """
    if not isinstance(stream, str) or not stream:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"redis_stream() expects a stream key, got {stream!r}")
    for name, value in (("group", group), ("consumer", consumer)):
        if not isinstance(value, str) or not value:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"redis_stream() expects {name}= to be a non-empty string")
    if ack not in ("manual", "on_next"):
        raise ValueError(f"redis_stream() expects ack='manual' or 'on_next', got {ack!r}")
    if not hasattr(client, "xreadgroup"):
        raise TypeError(
            f"redis_stream() expects a redis.asyncio.Redis client, got {type(client).__name__}"
        )
    return DeliveryStream(
        _RedisStream(
            client,
            stream,
            group=group,
            consumer=consumer,
            ack=ack,
            max_in_flight=check_count(max_in_flight, "redis_stream", "max_in_flight", minimum=1),
            block=check_seconds(block, "redis_stream", "block"),
            claim_idle=check_seconds(claim_idle, "redis_stream", "claim_idle"),
            max_attempts=check_count(max_attempts, "redis_stream", "max_attempts", minimum=1),
            dead_letter=dead_letter or f"{stream}:dead",
        )
    )
