"""mongo_changes() against a fake of pymongo's async change stream (no MongoDB server here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from mongo_fake import FakeCollection, Oplog, token
from pymongo.errors import OperationFailure

from sluiceway.db import mongo_changes
from sluiceway.errors import HistoryLost


@pytest.fixture
def orders() -> FakeCollection:
    oplog = Oplog()
    return FakeCollection(oplog)


def ids(changes: list[Mapping[str, Any]]) -> list[Any]:
    return [c["fullDocument"]["_id"] for c in changes]


class TestResumeToken:
    async def test_the_token_moves_only_after_the_consumer_is_done(
        self, orders: FakeCollection
    ) -> None:
        """While a change is being processed the token is the previous one's; then its own."""
        for i in range(3):
            orders.oplog.insert({"_id": i})
        stream = mongo_changes(orders, resume_after=token(0), max_await_time_ms=50)
        seen: list[tuple[Any, Any]] = []
        async with stream:
            async for change in stream:
                seen.append((change["_id"], stream.resume_token))
                if len(seen) == 3:
                    break
        assert seen == [(token(1), token(0)), (token(2), token(1)), (token(3), token(2))]
        # Left cleanly: the last one counts as processed.
        assert stream.resume_token == token(3)
        # The driver's own token had moved on as soon as it returned each change.
        assert orders.streams[0].resume_token == token(3)

    async def test_save_is_called_after_processing_and_not_for_a_failed_change(
        self, orders: FakeCollection
    ) -> None:
        """save() gets each token once its change is done; a failing handler's change is not."""
        for i in range(4):
            orders.oplog.insert({"_id": i})
        saved: list[Any] = []
        handled: list[Any] = []

        async def save(resume: Mapping[str, Any]) -> None:
            await anyio.lowlevel.checkpoint()
            saved.append((resume, list(handled)))

        stream = mongo_changes(orders, resume_after=token(0), save=save, max_await_time_ms=50)
        with pytest.raises(RuntimeError, match="handler"):
            async with stream:
                async for change in stream:
                    if change["fullDocument"]["_id"] == 2:
                        raise RuntimeError("handler failed")
                    handled.append(change["fullDocument"]["_id"])
        assert saved == [(token(1), [0]), (token(2), [0, 1])]
        assert stream.resume_token == token(2)
        assert not orders.streams[0].alive  # closed on the way out

    async def test_resume_in_a_new_stream_loses_nothing(self, orders: FakeCollection) -> None:
        """resume_after=stream.resume_token goes on with the first change not processed."""
        for i in range(5):
            orders.oplog.insert({"_id": i})
        first = mongo_changes(orders, resume_after=token(0), max_await_time_ms=50)
        got: list[Mapping[str, Any]] = []
        stream_it = aiter(first)
        got.append(await anext(stream_it))
        got.append(await anext(stream_it))  # asking for #2 finishes #1
        await first.aclose()  # closed, not left cleanly: #2 is not counted
        assert first.resume_token == token(1)
        second = mongo_changes(orders, resume_after=first.resume_token, max_await_time_ms=50)
        rest = await second.take(4).to_list()
        assert ids(got) == [0, 1]
        assert ids(rest) == [1, 2, 3, 4]
        assert orders.watch_calls[1]["resume_after"] == token(1)

    async def test_a_sync_save_and_the_post_batch_token_while_idle(
        self, orders: FakeCollection
    ) -> None:
        """With nothing outstanding, the driver's post-batch token is saved as the stream idles."""
        orders.oplog.insert({"_id": 0})
        saved: list[Any] = []
        stream = mongo_changes(
            orders, resume_after=token(0), save=saved.append, max_await_time_ms=20
        )
        async with stream:
            it = aiter(stream)
            first = await anext(it)
            async with anyio.create_task_group() as tg:

                async def more() -> None:
                    await anyio.sleep(0.1)
                    orders.oplog.noise()  # another collection: not ours, but the oplog moves
                    await anyio.sleep(0.1)
                    orders.oplog.insert({"_id": 1})

                tg.start_soon(more)
                second = await anext(it)
        assert (first["_id"], second["_id"]) == (token(1), token(3))
        assert saved == [token(1), token(2), token(3)]

    async def test_invalidate_ends_the_stream(self, orders: FakeCollection) -> None:
        """A dropped collection's invalidate event is delivered, then the stream ends."""
        orders.oplog.insert({"_id": 0})
        orders.oplog.invalidate()
        stream = mongo_changes(orders, resume_after=token(0), max_await_time_ms=50)
        changes = await stream.to_list()
        assert [c["operationType"] for c in changes] == ["insert", "invalidate"]
        assert stream.resume_token == token(2)


class TestHistoryLost:
    async def test_a_token_off_the_oplog_raises_history_lost_once(
        self, orders: FakeCollection
    ) -> None:
        """Error 286 at watch() is HistoryLost, from the driver's error; watch() is not retried."""
        for i in range(5):
            orders.oplog.insert({"_id": i})
        orders.oplog.oldest = 4  # events 1-3 rolled off
        stream = mongo_changes(orders, resume_after=token(1))
        with pytest.raises(HistoryLost, match="286") as info:
            await stream.first()
        assert isinstance(info.value.__cause__, OperationFailure)
        assert info.value.__cause__.code == 286
        assert "shop.orders" in info.value.source
        assert len(orders.watch_calls) == 1

    async def test_history_lost_while_streaming(self, orders: FakeCollection) -> None:
        """A cursor that falls off the oplog mid-stream ends with HistoryLost after its items."""
        for i in range(3):
            orders.oplog.insert({"_id": i})
        stream = mongo_changes(orders, resume_after=token(0), batch_size=2, max_await_time_ms=50)
        got: list[Mapping[str, Any]] = []
        with pytest.raises(HistoryLost):
            async with stream:
                async for change in stream:
                    got.append(change)
                    orders.oplog.oldest = 10  # the oplog rolls over while we work
        assert ids(got) == [0, 1]
        assert stream.resume_token == token(2)  # the last one done: #2 was processed
        assert len(orders.watch_calls) == 1

    async def test_other_errors_are_raised_as_they_are(self, orders: FakeCollection) -> None:
        """A non-resumable error other than 286 reaches the consumer unchanged, not retried."""
        orders.oplog.insert({"_id": 0})
        stream = mongo_changes(orders, resume_after=token(0), max_await_time_ms=50)
        error = OperationFailure("not authorized", code=13, details={"code": 13})
        with pytest.raises(OperationFailure) as info:
            async with stream:
                async for _change in stream:
                    orders.streams[0].fail_next = error
        assert info.value is error
        assert len(orders.watch_calls) == 1


class TestArguments:
    def test_bad_arguments_fail_at_the_call(self, orders: FakeCollection) -> None:
        """Something without watch(), both resume options, or a save that is not callable."""
        with pytest.raises(TypeError, match="watch"):
            mongo_changes(object())

        class SyncCollection:  # pymongo's MongoClient side: watch() is not async
            def watch(self) -> None: ...

        with pytest.raises(TypeError, match="AsyncMongoClient"):
            mongo_changes(SyncCollection())
        with pytest.raises(ValueError, match="not both"):
            mongo_changes(orders, resume_after=token(1), start_after=token(1))
        with pytest.raises(TypeError, match="save"):
            mongo_changes(orders, save=42)  # type: ignore[arg-type]

    async def test_options_reach_watch(self, orders: FakeCollection) -> None:
        """pipeline, start_after and watch() options are passed through."""
        orders.oplog.insert({"_id": 0})
        stream = mongo_changes(
            orders,
            start_after=token(0),
            pipeline=[{"$match": {"operationType": "insert"}}],
            full_document="updateLookup",
            max_await_time_ms=50,
        )
        await stream.first()
        (call,) = orders.watch_calls
        assert call["start_after"] == token(0)
        assert call["resume_after"] is None
        assert call["pipeline"] == [{"$match": {"operationType": "insert"}}]
        assert call["full_document"] == "updateLookup"
