"""mongo_changes(): a MongoDB change stream whose resume token moves only after processing.

A thin adapter over pymongo's async change stream (``AsyncMongoClient``,
``await collection.watch()``). The driver caches a resume token as soon as it
*returns* a change; resuming from that after a crash would skip the change
being processed. This stream keeps its own token instead: the ``_id`` of the
last change the consumer is done with (it asked for the next one, or left
``async with`` without an error), and, while no change is outstanding, the
driver's post-batch token, so a quiet stream's position keeps moving.

The driver resumes once by itself after a network error; anything else ends
the stream. A token the server no longer has (error 286,
``ChangeStreamHistoryLost``) raises :class:`~sluiceway.errors.HistoryLost`:
the stream never retries it.

No MongoDB server runs in sluiceway's test environment: this module is tested
against a fake of pymongo's ``AsyncChangeStream`` surface (``watch()``,
``try_next()``, ``resume_token``, ``alive``, ``close()``, error 286).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._core._callables import is_async_callable
from .._core._nodes import Source
from .._stream import Stream
from ..errors import HistoryLost

try:
    from pymongo.errors import OperationFailure
except ImportError:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "sluiceway.db.mongo_changes needs pymongo: pip install 'sluiceway[mongo]'"
    ) from None

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from .._core._scope import Scope

__all__ = ["HISTORY_LOST", "MongoChangeStream", "mongo_changes"]

#: MongoDB's error code for a resume token older than the oplog (ChangeStreamHistoryLost).
HISTORY_LOST = 286


@dataclass(frozen=True, slots=True)
class _WatchOptions:
    """mongo_changes()'s arguments for ``watch()``, checked."""

    pipeline: list[Mapping[str, Any]] | None
    resume_after: Mapping[str, Any] | None
    start_after: Mapping[str, Any] | None
    #: every other ``watch()`` option, passed through as given
    extra: Mapping[str, Any]

    def watch_kwargs(self, token: Mapping[str, Any] | None) -> dict[str, Any]:
        """``watch()``'s keyword arguments: resume after ``token`` unless start_after is set."""
        kwargs = dict(self.extra)
        if self.pipeline is not None:
            kwargs["pipeline"] = self.pipeline
        if self.resume_after is not None:
            kwargs["resume_after"] = self.resume_after
        if self.start_after is not None:
            kwargs["start_after"] = self.start_after
        elif token is not None:
            kwargs["resume_after"] = token
        return kwargs


class _WatchLoop(Source):
    """The watch loop, as the node of a MongoChangeStream."""

    __slots__ = ("_options", "_outstanding", "_save", "_watchable", "clean_exit", "token")

    def __init__(
        self,
        watchable: Any,
        options: _WatchOptions,
        save: Callable[[Mapping[str, Any]], Any] | None,
    ) -> None:
        super().__init__()
        self._watchable = watchable
        self._options = options
        self._save = save
        self._outstanding: Mapping[str, Any] | None = None
        self.token: Mapping[str, Any] | None = options.resume_after or options.start_after
        self.clean_exit: bool = False

    def describe(self) -> str:
        return f"mongo_changes({self._watchable!r})"

    def on_leave(self, leaving: BaseException | None) -> None:
        # A clean exit of `async with` (or a terminal operation): the consumer
        # is done with the last change it was given.
        if leaving is None:
            self.clean_exit = True

    def run(self, scope: Scope | None) -> AsyncGenerator[Mapping[str, Any], None]:
        return self._changes()

    async def _commit(self, token: Mapping[str, Any] | None) -> None:
        """The consumer is done up to ``token``: keep it, and hand it to ``save``."""
        if token is None or token == self.token:
            return
        self.token = token
        save = self._save
        if save is not None:
            if is_async_callable(save):
                await save(token)
            else:
                save(token)

    def _where(self) -> str:
        return f"change stream on {getattr(self._watchable, 'full_name', self._watchable)!r}"

    def _translate(self, exc: OperationFailure) -> Exception:
        if exc.code == HISTORY_LOST:
            return HistoryLost(
                f"the {self._where()} cannot resume from {self.token!r}: the oplog no longer "
                f"holds it (MongoDB error {HISTORY_LOST}, ChangeStreamHistoryLost); the changes "
                "in between are lost: re-read the data, then watch from now",
                source=self._where(),
            )
        return exc

    async def _changes(self) -> AsyncGenerator[Mapping[str, Any], None]:
        try:
            cursor = await self._watchable.watch(**self._options.watch_kwargs(self.token))
        except OperationFailure as exc:
            raise self._translate(exc) from exc
        try:
            while True:
                try:
                    change = await cursor.try_next()
                except OperationFailure as exc:
                    raise self._translate(exc) from exc
                if change is None:
                    if not cursor.alive:
                        return  # closed, or invalidated (after the invalidate event)
                    # An empty batch (the server waited max_await_time_ms): the
                    # driver's post-batch token is a position with nothing
                    # outstanding before it.
                    await self._commit(cursor.resume_token)
                    continue
                self._outstanding = change
                yield change
                # The consumer asked for the next one: it is done with this one.
                self._outstanding = None
                await self._commit(change.get("_id"))
        finally:
            try:
                if self.clean_exit and self._outstanding is not None:
                    await self._commit(self._outstanding.get("_id"))
            finally:
                await cursor.close()


class MongoChangeStream(Stream[Mapping[str, Any]]):
    """The Stream of change documents :func:`mongo_changes` returns, with its resume token.

    ``resume_token`` is the position after the last change the consumer is
    done with (or the ``resume_after`` given, until then): pass it as
    ``resume_after=`` to continue in another process without skipping one.
    """

    __slots__ = ("_source",)

    def __init__(self, source: _WatchLoop) -> None:
        super().__init__(source)
        self._source = source

    @property
    def resume_token(self) -> Mapping[str, Any] | None:
        return self._source.token


def mongo_changes(
    watchable: Any,
    *,
    resume_after: Mapping[str, Any] | None = None,
    start_after: Mapping[str, Any] | None = None,
    pipeline: list[Mapping[str, Any]] | None = None,
    save: Callable[[Mapping[str, Any]], Any] | None = None,
    **watch_options: Any,
) -> MongoChangeStream:
    """The change documents of a MongoDB collection, database or cluster, resumable after a crash.

    ``watchable`` is what you would call ``await x.watch()`` on: an
    ``AsyncCollection``, ``AsyncDatabase`` or ``AsyncMongoClient`` of
    pymongo's async API (change streams need a replica set or a sharded
    cluster). The stream's ``resume_token`` moves past a change only once the
    consumer is done with it: when it asks for the next change, or leaves
    ``async with stream:`` (or a terminal operation) without an error.
    ``save``, sync or async, is called with each new token at that moment:
    store it durably and pass it back as ``resume_after`` to resume with
    nothing lost (the change being processed at a crash comes again).

    Args:
        watchable: an object with pymongo's async ``watch()``.
        resume_after: resume after this token (a change's ``_id``).
        start_after: like ``resume_after``, and also past an ``invalidate``
            (a dropped or renamed collection).
        pipeline: aggregation stages applied to the change documents.
        save: called with the token after each processed change.
        **watch_options: passed to ``watch()`` (``full_document``,
            ``max_await_time_ms``, ``batch_size``, ...).

    Raises:
        HistoryLost: while iterating, when the server no longer holds the
            position to resume from (error 286). Other driver errors are
            raised as they are; the stream does not retry them.
    """
    if not callable(getattr(watchable, "watch", None)):
        raise TypeError(
            "mongo_changes() expects a pymongo AsyncCollection, AsyncDatabase or "
            f"AsyncMongoClient (something with watch()), got {type(watchable).__name__}"
        )
    if not is_async_callable(watchable.watch):
        raise TypeError(
            f"mongo_changes() needs pymongo's async API: {type(watchable).__name__}.watch() is "
            "not a coroutine function (use AsyncMongoClient, not MongoClient)"
        )
    if resume_after is not None and start_after is not None:
        raise ValueError("mongo_changes() takes resume_after or start_after, not both")
    if save is not None and not callable(save):
        raise TypeError(f"mongo_changes() expects a callable save, got {type(save).__name__}")
    options = _WatchOptions(
        pipeline=pipeline,
        resume_after=resume_after,
        start_after=start_after,
        extra=MappingProxyType(dict(watch_options)),
    )
    return MongoChangeStream(_WatchLoop(watchable, options, save))
