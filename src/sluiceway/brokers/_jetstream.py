"""jetstream(): a NATS JetStream pull consumer as a stream of deliveries, at least once.

The loop, over nats-py's JetStream context:

1. the durable pull consumer is bound, or created with explicit acks,
   ``ack_wait`` and ``max_ack_pending = max_in_flight``;
2. messages are fetched, at most as many as there is room for under
   ``max_in_flight`` (the server holds back the rest as well: the
   backpressure); a fetch that times out is "nothing yet", never an error;
3. while a message is unacknowledged, in the consumer's hands or read ahead,
   a heartbeat sends ``in_progress()`` every ``ack_wait / 3`` seconds, so
   slow work is not redelivered to another worker behind its back.

An acknowledgement is ``ack_sync()``: confirmed by the server. When the
stream closes, messages read ahead and never handed out are NAKed at once;
if the consumer left with an exception, its unacknowledged deliveries are
NAKed with ``nak_delay`` (the error kept), if it was cancelled, at once.
A message delivered more than ``max_attempts`` times is published to the
dead-letter subject (with its error as a header) and terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Literal

import anyio

from .._core._callables import check_count, check_seconds
from .._core._nodes import Source
from .._transport._backoff import backoff_delay
from ..errors import UnsupportedBackendError
from ._delivery import Delivery
from ._stream import DeliveryStream
from ._together import together

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Sequence

    from .._core._scope import Scope

__all__ = ["jetstream"]

AckMode = Literal["manual", "on_next"]

#: Messages fetched per request at most (and fewer when the in-flight bound is close).
_FETCH = 100
#: Seconds a fetch of several messages waits at most (they were said to be waiting).
_DRAIN_WAIT = 0.1
#: Seconds an acknowledgement keeps being retried over a lost connection.
_ACK_PATIENCE = 10.0
#: Seconds ack_sync waits for the server's confirmation, per try.
_ACK_TIMEOUT = 2.0
#: The longest wait between reconnect attempts, seconds.
_BACKOFF_MAX = 5.0
#: Errors kept for the dead letter (per process, the most recent ones).
_KEPT_ERRORS = 10_000
#: Longest error text carried in a header.
_ERROR_TEXT = 1000

#: (stream, consumer, stream sequence) -> the last error a consumer of this
#: process left the loop with while it had that message.
_errors: OrderedDict[tuple[str, str, int], str] = OrderedDict()


def _keep_error(key: tuple[str, str, int], error: BaseException) -> None:
    text = f"{type(error).__name__}: {error}"
    _errors[key] = " ".join(text.split())[:_ERROR_TEXT]  # one line: a header value
    _errors.move_to_end(key)
    while len(_errors) > _KEPT_ERRORS:
        _errors.popitem(last=False)


def subject_matches(pattern: str, subject: str) -> bool:
    """Whether NATS ``subject`` (or every subject of a pattern) falls under ``pattern``."""
    want, have = pattern.split("."), subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or (token != "*" and token != have[index]):
            return False
    return len(want) == len(have)


class _Fetched:
    """One fetched message, its metadata read once, and its delivery once handed out."""

    __slots__ = ("attempt", "delivery", "msg", "pending", "sequence")

    def __init__(self, msg: Any) -> None:
        self.msg = msg
        self.delivery: Delivery | None = None
        # The ack subject carries the metadata (ADR-15): $JS.ACK.<stream>.<consumer>.
        # <delivered>.<stream seq>.<consumer seq>.<time>.<pending>, with a domain
        # and an account hash after "ACK" (and a token at the end) in the newer
        # form. Read here in one split; msg.metadata parses it again at each access.
        tokens = (msg.reply or "").split(".")
        if len(tokens) == 9:
            first = 4
        elif len(tokens) >= 11:
            first = 6
        else:
            meta = msg.metadata
            self.attempt: int = meta.num_delivered
            self.sequence: int = meta.sequence.stream
            self.pending: int = meta.num_pending
            return
        self.attempt = int(tokens[first])
        self.sequence = int(tokens[first + 1])
        self.pending = int(tokens[first + 4])


class _JetStream(Source):
    """The consumer loop of one jetstream(): fetches, heartbeats, acknowledges."""

    __slots__ = (
        "_ack_wait",
        "_beat",
        "_clean",
        "_config",
        "_dead_letter",
        "_dead_letter_ready",
        "_durable",
        "_failed",
        "_fetch_timeout",
        "_heartbeat",
        "_held",
        "_js",
        "_last",
        "_max_attempts",
        "_max_in_flight",
        "_nak_delay",
        "_room",
        "_stream",
        "_stream_name",
        "_sub",
        "_subject",
        "ack_mode",
    )

    def __init__(
        self,
        js: Any,
        subject: str,
        *,
        durable: str,
        stream: str | None,
        ack: AckMode,
        max_in_flight: int,
        ack_wait: float,
        heartbeat: bool,
        fetch_timeout: float,
        max_attempts: int,
        nak_delay: float,
        dead_letter: str,
    ) -> None:
        super().__init__()
        self._js = js
        self._subject = subject
        self._durable = durable
        self._stream = stream
        self._stream_name = stream or ""
        self.ack_mode = ack
        self._max_in_flight = max_in_flight
        self._ack_wait = ack_wait
        self._heartbeat = heartbeat
        self._fetch_timeout = fetch_timeout
        self._max_attempts = max_attempts
        self._nak_delay = nak_delay
        self._dead_letter = dead_letter
        self._dead_letter_ready = False
        #: Every message fetched and not settled (acked, NAKed, buried), by stream
        #: sequence: in the consumer's hands or read ahead. The heartbeat covers them.
        self._held: dict[int, _Fetched] = {}
        self._room: anyio.Event | None = None
        self._sub: Any = None
        self._beat: asyncio.Task[None] | None = None
        self._last: Delivery | None = None
        self._failed: BaseException | None = None
        self._clean = False
        self._config: Any = None

    def describe(self) -> str:
        return f"brokers.jetstream({self._subject!r}, durable={self._durable!r})"

    def run(self, scope: Scope | None) -> AsyncGenerator[Delivery, None]:
        return self._deliveries()

    # -- acknowledgements ------------------------------------------------

    async def ack_ids(self, deliveries: Sequence[Delivery]) -> None:
        """ack_sync ``deliveries``, all at once; each is in flight no more once confirmed.

        The first error is raised after every other acknowledgement finished.
        """
        todo = [d for d in deliveries if not d.acked]
        for delivery in todo:
            if int(delivery.id) not in self._held:
                raise RuntimeError(
                    f"delivery {delivery.id} of {self._subject!r} cannot be acknowledged any "
                    "more: it was handed back (NAKed) when its stream closed after an error "
                    "or a cancellation, and will be delivered again"
                )
        if todo:
            await together(self._ack_one(d) for d in todo)

    async def _ack_one(self, delivery: Delivery) -> None:
        """One ack_sync, retried over a lost connection for up to _ACK_PATIENCE seconds."""
        import nats.errors

        msg = delivery.message
        give_up = time.monotonic() + _ACK_PATIENCE
        attempt = 0
        while True:
            try:
                await msg.ack_sync(timeout=_ACK_TIMEOUT)
                break
            except (TimeoutError, nats.errors.ConnectionReconnectingError, OSError):
                # An ack is idempotent: lost on the way, it is sent again.
                attempt += 1
                if time.monotonic() >= give_up:
                    raise
                await anyio.sleep(backoff_delay(attempt, 0.05, 1.0, random.random))
        delivery.acked = True
        self._held.pop(int(delivery.id), None)
        if self._room is not None:
            self._room.set()

    def on_leave(self, leaving: BaseException | None) -> None:
        self._clean = leaving is None
        self._failed = leaving if isinstance(leaving, Exception) else None

    async def release(self) -> None:
        try:
            await super().release()
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self._stop_heartbeat()
                    with anyio.move_on_after(5):
                        await self._settle_on_close()
                finally:
                    sub, self._sub = self._sub, None
                    if sub is not None:
                        with anyio.move_on_after(5):
                            await sub.unsubscribe()

    async def _settle_on_close(self) -> None:
        """What the consumer will not handle goes back to the server when the stream closes.

        Messages read ahead and never handed out are NAKed at once. When the
        consumer left with an exception, the deliveries it had not
        acknowledged are NAKed with ``nak_delay`` (the last one's error kept
        for the dead letter); when it was cancelled, at once. After a clean
        exit, ``ack="on_next"`` acknowledges the last delivery, and with
        ``"manual"`` the deliveries handed out stay the consumer's to
        acknowledge (``take(n).to_list()`` then ``ack(...)``): unacknowledged,
        they come again after ``ack_wait``.
        """
        last, failed = self._last, self._failed
        if last is not None and failed is not None and int(last.id) in self._held:
            _keep_error((self._stream_name, self._durable, int(last.id)), failed)
        keep_handed = self._clean
        if self._clean and self.ack_mode == "on_next" and last is not None:
            try:
                await last.ack()
            except Exception:
                keep_handed = False  # not confirmed: handed back with the rest, then raised
                await self._give_back(keep_handed, 0)
                raise
        await self._give_back(keep_handed, self._nak_delay if failed is not None else 0)

    async def _give_back(self, keep_handed: bool, delay: float) -> None:
        """NAK what is held: read ahead, and handed out too unless ``keep_handed``."""
        naked = False
        for msg in self._orphans():
            await msg.nak()
            naked = True
        for sequence, fetched in list(self._held.items()):
            if fetched.delivery is None:
                await fetched.msg.nak()
            elif keep_handed:
                continue
            else:
                await fetched.msg.nak(delay=delay or None)
            del self._held[sequence]
            naked = True
        if naked:
            await self._flush()

    def _orphans(self) -> list[Any]:
        """Messages that came for a fetch cut short (cancelled while it waited).

        They wait in the subscription's queue, delivered as far as the server
        knows: unless NAKed they would come again only after ``ack_wait``.
        Read from nats-py's internal queue, best effort: without it, they do.
        """
        queue = getattr(getattr(self._sub, "_sub", None), "_pending_queue", None)
        found: list[Any] = []
        while queue is not None and not queue.empty():
            msg = queue.get_nowait()
            if (getattr(msg, "reply", None) or "").startswith("$JS.ACK."):
                found.append(msg)  # a delivery (a status message has no ack subject)
        return found

    async def _flush(self) -> None:
        """Make sure what was published (NAKs, progress) left for the server."""
        import nats.errors

        # NAKs not sent are redelivered after ack_wait anyway.
        with contextlib.suppress(nats.errors.Error, TimeoutError, AttributeError):
            await self._js._nc.flush(timeout=2)  # the context's own client

    # -- the heartbeat -------------------------------------------------------

    def _start_heartbeat(self) -> None:
        if self._heartbeat and self._beat is None:
            self._beat = asyncio.get_running_loop().create_task(self._beat_forever())

    async def _stop_heartbeat(self) -> None:
        beat, self._beat = self._beat, None
        if beat is not None:
            beat.cancel()
            await asyncio.wait([beat])  # its end, without raising its CancelledError here
            if not beat.cancelled() and beat.exception() is not None:
                raise beat.exception()  # type: ignore[misc]  # an error of the heartbeat's own

    async def _beat_forever(self) -> None:
        """``in_progress()`` for every held message, every ``ack_wait / 3`` seconds."""
        import nats.errors

        period = max(self._ack_wait / 3, 0.01)
        while True:
            await asyncio.sleep(period)
            for fetched in list(self._held.values()):
                try:
                    await fetched.msg.in_progress()
                except (nats.errors.Error, OSError):
                    break  # the connection is down: the next beat tries again

    # -- the loop ----------------------------------------------------------

    async def _deliveries(self) -> AsyncGenerator[Delivery, None]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise UnsupportedBackendError(
                "jetstream() runs only on asyncio (uvloop too): nats-py cannot run on trio",
                where="jetstream",
            ) from None
        import nats.errors
        import nats.js.errors

        passing = (
            nats.errors.ConnectionReconnectingError,
            nats.errors.NoRespondersError,
            nats.js.errors.ServiceUnavailableError,
            OSError,
        )
        on_next = self.ack_mode == "on_next"
        failures = 0
        waiting = 0  # messages the last fetch said were waiting after it
        await self._subscribe()
        while True:
            room = await self._wait_for_room()
            # nats-py's fetch(n) waits until n messages came or the timeout passed,
            # once it has to wait at all: n > 1 only while messages are known to be
            # waiting (then they come at once), with a short timeout for the race
            # with other workers; else one, which comes as soon as it is there.
            if waiting:
                batch, timeout = min(room, waiting, _FETCH), min(self._fetch_timeout, _DRAIN_WAIT)
            else:
                batch, timeout = 1, self._fetch_timeout
            try:
                msgs = await self._sub.fetch(batch, timeout=timeout)
            except TimeoutError:  # nats' TimeoutError and FetchTimeoutError are ones too
                waiting = 0
                continue  # nothing yet
            except passing:
                waiting = 0
                failures += 1
                await anyio.sleep(backoff_delay(failures, 0.05, _BACKOFF_MAX, random.random))
                continue
            failures = 0
            fetched = [_Fetched(msg) for msg in msgs]
            waiting = fetched[-1].pending if fetched else 0
            held = self._held
            for item in fetched:
                held[item.sequence] = item
            self._start_heartbeat()
            for item in fetched:
                sequence = item.sequence
                if held.get(sequence) is not item:
                    continue  # settled meanwhile
                if item.attempt > self._max_attempts:
                    await self._bury(item.msg, sequence, item.attempt)
                    continue
                delivery = item.delivery = Delivery(
                    self, item.msg.data, str(sequence), item.attempt, item.msg
                )
                self._last = delivery
                yield delivery
                if on_next:
                    await delivery.ack()  # the consumer asked for the next one

    async def _subscribe(self) -> None:
        """Bind the durable pull consumer, creating it (and checking the dead letter) if new."""
        import nats.js.api
        import nats.js.errors

        js = self._js
        try:
            stream = self._stream or await js.find_stream_name_by_subject(self._subject)
        except nats.js.errors.NotFoundError:
            raise LookupError(
                f"jetstream(): no JetStream stream holds subject {self._subject!r}; create one "
                f"first, e.g. await js.add_stream(name=..., subjects=[{self._subject!r}])"
            ) from None
        self._stream_name = stream
        config = nats.js.api.ConsumerConfig(
            durable_name=self._durable,
            ack_policy=nats.js.api.AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_ack_pending=self._max_in_flight,
            max_deliver=-1,  # the dead letter is ours: the server never gives up on its own
        )
        self._config = config
        self._sub = await js.pull_subscribe(
            self._subject, durable=self._durable, stream=stream, config=config
        )

    async def _wait_for_room(self) -> int:
        """How many more may be fetched; waits while max_in_flight are held."""
        while True:
            room = self._max_in_flight - len(self._held)
            if room > 0:
                return room
            self._room = anyio.Event()
            await self._room.wait()

    async def _bury(self, msg: Any, sequence: int, tries: int) -> None:
        """Publish a message past max_attempts to the dead letter, with its error; terminate it."""
        import nats.errors
        import nats.js.errors

        key = (self._stream_name, self._durable, sequence)
        headers = dict(msg.headers or {})
        headers.update(
            {
                "Sluiceway-Dead-Letter-Stream": self._stream_name,
                "Sluiceway-Dead-Letter-Subject": msg.subject,
                "Sluiceway-Dead-Letter-Sequence": str(sequence),
                "Sluiceway-Dead-Letter-Attempts": str(tries - 1),
                "Sluiceway-Dead-Letter-Error": _errors.get(key, ""),
            }
        )
        await self._ensure_dead_letter_stream()
        try:
            await self._js.publish(self._dead_letter, msg.data, headers=headers)
        except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError):
            raise LookupError(
                f"jetstream(): no JetStream stream holds the dead letter subject "
                f"{self._dead_letter!r}"
            ) from None
        await msg.term()
        self._held.pop(sequence, None)
        _errors.pop(key, None)
        if self._room is not None:
            self._room.set()

    async def _ensure_dead_letter_stream(self) -> None:
        """Create a stream for the dead letter subject when none holds it (as XADD would)."""
        if self._dead_letter_ready:
            return
        import nats.js.errors

        js = self._js
        try:
            await js.find_stream_name_by_subject(self._dead_letter)
        except nats.js.errors.NotFoundError:
            name = "DEAD_" + re.sub(r"[^A-Za-z0-9_-]", "_", self._dead_letter)
            # Made meanwhile by another worker (same name), or a name in use for
            # other subjects: then the publish says what is wrong.
            with contextlib.suppress(nats.js.errors.BadRequestError):
                await js.add_stream(name=name, subjects=[self._dead_letter])
        self._dead_letter_ready = True


def jetstream(
    js: Any,
    subject: str,
    *,
    durable: str,
    stream: str | None = None,
    ack: AckMode = "manual",
    max_in_flight: int = 100,
    ack_wait: float = 30.0,
    heartbeat: bool = True,
    fetch_timeout: float = 5.0,
    max_attempts: int = 5,
    nak_delay: float = 1.0,
    dead_letter: str | None = None,
) -> DeliveryStream:
    """The messages of ``subject`` through a durable JetStream pull consumer, at least once.

    Run the same ``durable`` in N workers: the server gives each message to
    one of them, and what a dead worker had in hand comes again to the others
    after ``ack_wait`` seconds.

    Args:
        js: a nats-py JetStream context (``nc.jetstream()``).
        subject: the subject to consume (wildcards allowed); a JetStream
            stream must hold it.
        durable: the durable consumer's name, shared by the workers (created
            if missing, with explicit acks, ``ack_wait`` and
            ``max_ack_pending=max_in_flight``; an existing one keeps its own
            settings).
        stream: the stream's name (default: the one holding ``subject``).
        ack: ``"manual"``: call ``await delivery.ack()`` (or
            ``await sluiceway.brokers.ack(batch)``); ``"on_next"``: a delivery
            is acknowledged when the consumer asks for the next one (the loop
            body finished), or leaves the loop without an exception; over
            ``.batch(n)`` right on this stream, a whole batch when the next
            batch is asked for (not after other operators that read ahead).
        max_in_flight: messages fetched and not acknowledged at most (read
            ahead included); no more are fetched until acknowledgements make
            room.
        ack_wait: seconds the server waits for an acknowledgement before it
            delivers a message again.
        heartbeat: send ``in_progress()`` for every unacknowledged message
            every ``ack_wait / 3`` seconds, so work longer than ``ack_wait``
            is not redelivered meanwhile (off: keep every handler, and the
            wait of the messages read ahead with it, under ``ack_wait``).
        fetch_timeout: seconds one fetch waits for messages; a fetch that
            gets none is not an error.
        max_attempts: deliveries of one message before it goes to the dead letter.
        nak_delay: seconds before a message whose handler raised comes again.
        dead_letter: the dead-letter subject (default ``"<subject>.dead"``;
            required when ``subject`` has wildcards). A stream is created for
            it when none holds it. A message there keeps its payload and
            headers, plus ``Sluiceway-Dead-Letter-Stream``, ``-Subject``,
            ``-Sequence``, ``-Attempts`` and ``-Error`` (the last exception a
            consumer of this process left the loop with while it had the
            message, if any).

    Returns:
        A Stream of :class:`Delivery` (``value``: the payload bytes;
        ``message``: nats-py's ``Msg``; ``id`` and ``checkpoint``: the stream
        sequence). A delivery whose processing raised is NAKed with
        ``nak_delay``; one in hand at a cancellation, and messages read ahead
        and never handed out, are NAKed at once when the stream closes. After
        a clean exit the deliveries handed out can still be acknowledged
        (``ack(await s.take(n).to_list())``); left unacknowledged, they come
        again after ``ack_wait``.
    """
    if not isinstance(subject, str) or not subject:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"jetstream() expects a subject, got {subject!r}")
    if not isinstance(durable, str) or not durable:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError("jetstream() expects durable= to be a non-empty string")
    if re.search(r"[.*>\s]", durable):
        raise ValueError(
            f"jetstream() durable names cannot hold '.', '*', '>' or spaces: {durable!r}"
        )
    if ack not in ("manual", "on_next"):
        raise ValueError(f"jetstream() expects ack='manual' or 'on_next', got {ack!r}")
    if not hasattr(js, "pull_subscribe"):
        raise TypeError(
            f"jetstream() expects a nats-py JetStream context (nc.jetstream()), "
            f"got {type(js).__name__}"
        )
    if dead_letter is None:
        if "*" in subject.split(".") or ">" in subject.split("."):
            raise ValueError(
                f"jetstream() needs dead_letter= for a subject with wildcards ({subject!r})"
            )
        dead_letter = f"{subject}.dead"
    if any(token in ("*", ">") for token in dead_letter.split(".")):
        raise ValueError(
            f"jetstream(): the dead letter subject cannot have wildcards: {dead_letter!r}"
        )
    if subject_matches(subject, dead_letter):
        raise ValueError(
            f"jetstream(): the dead letter subject {dead_letter!r} falls under the consumed "
            f"subject {subject!r}: dead letters would be consumed again"
        )
    return DeliveryStream(
        _JetStream(
            js,
            subject,
            durable=durable,
            stream=stream,
            ack=ack,
            max_in_flight=check_count(max_in_flight, "jetstream", "max_in_flight", minimum=1),
            ack_wait=check_seconds(ack_wait, "jetstream", "ack_wait"),
            heartbeat=bool(heartbeat),
            fetch_timeout=check_seconds(fetch_timeout, "jetstream", "fetch_timeout"),
            max_attempts=check_count(max_attempts, "jetstream", "max_attempts", minimum=1),
            nak_delay=check_seconds(nak_delay, "jetstream", "nak_delay"),
            dead_letter=dead_letter,
        )
    )
