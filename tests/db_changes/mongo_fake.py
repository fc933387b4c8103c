"""A fake of pymongo's async change stream, because no MongoDB server can run here.

It copies the surface sluiceway uses from pymongo 4.x
(``pymongo/asynchronous/change_stream.py`` and ``collection.py``):

- ``await collection.watch(pipeline=None, full_document=None, resume_after=None,
  max_await_time_ms=None, batch_size=None, ..., start_after=None, ...)`` runs the
  aggregate at once, so a resume token the oplog no longer holds fails there
  with ``OperationFailure`` code 286 (``ChangeStreamHistoryLost``, label
  ``NonResumableChangeStreamError``);
- ``AsyncChangeStream``: ``async with`` (closes on exit), ``__aiter__``,
  ``next``/``__anext__`` (loops over ``try_next`` while ``alive``),
  ``try_next()`` (one getMore: a change, or None after ``max_await_time_ms``
  with nothing new, when ``resume_token`` becomes the post-batch token),
  ``resume_token`` (a copy of the cached token, updated when a change is
  *returned*), ``alive`` and ``close()``;
- a change document's ``_id`` is its resume token; an ``invalidate`` event
  (a dropped collection) ends the stream: ``alive`` turns False after it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import anyio
from pymongo.errors import OperationFailure


def token(n: int) -> dict[str, str]:
    return {"_data": f"{n:08X}"}


def history_lost() -> OperationFailure:
    return OperationFailure(
        "Resume of change stream was not possible, as the resume point may no longer be in "
        "the oplog.",
        code=286,
        details={
            "ok": 0,
            "code": 286,
            "codeName": "ChangeStreamHistoryLost",
            "errorLabels": ["NonResumableChangeStreamError"],
        },
    )


@dataclass
class Oplog:
    """Change events by sequence number; events before ``oldest`` have rolled off."""

    events: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    oldest: int = 1
    added: anyio.Event = field(default_factory=anyio.Event)

    def insert(self, doc: dict[str, Any]) -> dict[str, Any]:
        n = len(self.events) + 1
        event = {
            "_id": token(n),
            "operationType": "insert",
            "ns": {"db": "shop", "coll": "orders"},
            "documentKey": {"_id": doc["_id"]},
            "fullDocument": doc,
        }
        self.events.append(event)
        self.added.set()
        self.added = anyio.Event()
        return event

    def noise(self) -> None:
        """A change in another collection: not for our stream, but it moves the oplog on."""
        n = len(self.events) + 1
        self.events.append(
            {"_id": token(n), "operationType": "insert", "ns": {"db": "shop", "coll": "other"}}
        )
        self.added.set()
        self.added = anyio.Event()

    def invalidate(self) -> None:
        n = len(self.events) + 1
        self.events.append(
            {"_id": token(n), "operationType": "invalidate", "ns": {"db": "shop", "coll": "orders"}}
        )
        self.added.set()
        self.added = anyio.Event()

    def position(self, resume: dict[str, str] | None) -> int:
        """Index of the first event after ``resume``; 286 if it has rolled off."""
        if resume is None:
            return len(self.events)  # a new stream starts now
        n = int(resume["_data"], 16)  # the index of the event after it
        if self.lost(n):
            raise history_lost()
        return n

    def lost(self, index: int) -> bool:
        """Whether the event at ``index`` (sequence number index + 1) has rolled off."""
        return index + 1 < self.oldest


class FakeChangeStream:
    """The ``AsyncChangeStream`` surface over an :class:`Oplog`."""

    def __init__(
        self,
        oplog: Oplog,
        start: int,
        resume: dict[str, str] | None,
        max_await_time_ms: int | None,
        batch_size: int | None,
    ) -> None:
        self._oplog = oplog
        self._next = start
        self._resume_token = copy.deepcopy(resume)
        self._wait = (max_await_time_ms or 1000) / 1000
        self._batch_size = batch_size or 101
        self._batch: list[dict[str, Any]] = []
        self._closed = False
        self.getmores = 0
        self.fail_next: BaseException | None = None

    @property
    def resume_token(self) -> dict[str, str] | None:
        return copy.deepcopy(self._resume_token)

    @property
    def alive(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True

    def __aiter__(self) -> FakeChangeStream:
        return self

    async def next(self) -> dict[str, Any]:
        while self.alive:
            doc = await self.try_next()
            if doc is not None:
                return doc
        raise StopAsyncIteration

    __anext__ = next

    async def try_next(self) -> dict[str, Any] | None:
        if self._closed:
            return None
        if not self._batch:
            await self._get_more()
        if not self._batch:
            # An empty batch: the post-batch token is the position reached.
            self._resume_token = token(self._next) if self._next else self._resume_token
            return None
        change = self._batch.pop(0)
        self._resume_token = change["_id"]
        if change["operationType"] == "invalidate":
            self._closed = True
        return change

    async def _get_more(self) -> None:
        self.getmores += 1
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            if isinstance(exc, OperationFailure) and not exc.has_error_label(
                "ResumableChangeStreamError"
            ):
                await self.close()  # pymongo closes the stream after a fatal error
            raise exc
        oplog = self._oplog
        if oplog.lost(self._next):
            await self.close()
            raise history_lost()
        if self._next >= len(oplog.events):
            with anyio.move_on_after(self._wait):  # the server's await on a tailable cursor
                await oplog.added.wait()
        batch: list[dict[str, Any]] = []
        while self._next < len(oplog.events) and len(batch) < self._batch_size:
            event = oplog.events[self._next]
            self._next += 1  # scanned: the post-batch token passes it, ours or not
            if event["ns"]["coll"] == "orders":
                batch.append(event)
        self._batch = batch

    async def __aenter__(self) -> FakeChangeStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class FakeCollection:
    """An ``AsyncCollection`` as far as ``watch()`` goes."""

    full_name = "shop.orders"

    def __init__(self, oplog: Oplog) -> None:
        self.oplog = oplog
        self.streams: list[FakeChangeStream] = []
        self.watch_calls: list[dict[str, Any]] = []

    async def watch(
        self,
        pipeline: list[dict[str, Any]] | None = None,
        full_document: str | None = None,
        resume_after: dict[str, str] | None = None,
        max_await_time_ms: int | None = None,
        batch_size: int | None = None,
        collation: Any = None,
        start_at_operation_time: Any = None,
        session: Any = None,
        start_after: dict[str, str] | None = None,
        comment: Any = None,
        full_document_before_change: str | None = None,
        show_expanded_events: bool | None = None,
    ) -> FakeChangeStream:
        self.watch_calls.append(
            {
                "pipeline": pipeline,
                "resume_after": resume_after,
                "start_after": start_after,
                "max_await_time_ms": max_await_time_ms,
                "full_document": full_document,
            }
        )
        resume = start_after or resume_after
        start = self.oplog.position(resume)  # the aggregate runs now: 286 surfaces here
        stream = FakeChangeStream(self.oplog, start, resume, max_await_time_ms, batch_size)
        self.streams.append(stream)
        return stream
