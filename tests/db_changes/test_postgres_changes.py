"""postgres_changes() against the real PostgreSQL: order, values, acknowledgement, resume."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pytest
from changes_support import confirmed_lsn, make_slot, slot_ready, sql

from sluiceway.db import Change, add_wakeup_trigger, drop_wakeup_trigger, postgres_changes
from sluiceway.db._wal2json import parse_lsn
from sluiceway.errors import ChangeStreamError, HistoryLost


def xid_of(dsn: str, *statements: str) -> int:
    """Run statements in one transaction; its xid."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]
        row = conn.execute("SELECT txid_current()").fetchone()
        assert row is not None
        conn.commit()
        return int(row[0]) & 0xFFFFFFFF


async def until_idle_after_a_read(conn: Any, slot: str) -> None:
    """Wait until the stream on ``slot`` has read its slot and waits, idle, for more."""
    # Polled: the stream's session state is on the server, nothing here can signal it.
    with anyio.fail_after(10):
        while not await conn.fetchval(  # noqa: ASYNC110
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
            "AND state = 'idle' AND query ILIKE '%peek_changes%'",
            f"sluiceway changes {slot}",
        ):
            await anyio.sleep(0.01)


async def take(stream: Any, n: int) -> list[Change]:
    """The first n changes, leaving `async with` cleanly (the last one counts as processed)."""
    got: list[Change] = []
    async with stream:
        async for change in stream:
            got.append(change)
            if len(got) == n:
                break
    return got


def short(changes: list[Change]) -> list[tuple[str, Any, Any]]:
    return [(c.operation, c.new, c.old) for c in changes]


class TestDelivery:
    async def test_inserts_updates_deletes_in_commit_order(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """Each change comes with its table, operation, values and its transaction's xid."""
        make_slot(dsn, slot)
        x1 = xid_of(dsn, f"INSERT INTO {table} VALUES (1, 'a', 1.25)")
        x2 = xid_of(dsn, f"UPDATE {table} SET name = 'b', n = 2 WHERE id = 1")
        x3 = xid_of(dsn, f"INSERT INTO {table} VALUES (2, 'c', NULL)")
        x4 = xid_of(dsn, f"DELETE FROM {table} WHERE id = 1")
        got = await take(postgres_changes(dsn, slot=slot, tables=[table]), 4)
        assert short(got) == [
            ("insert", {"id": 1, "name": "a", "n": Decimal("1.25")}, None),
            ("update", {"id": 1, "name": "b", "n": Decimal("2")}, {"id": 1}),
            ("insert", {"id": 2, "name": "c", "n": None}, None),
            ("delete", None, {"id": 1}),
        ]
        assert [c.xid for c in got] == [x1, x2, x3, x4]
        assert {c.table for c in got} == {f"public.{table}"}
        assert got[1].new is not None
        assert type(got[1].new["n"]) is Decimal
        assert all(c.commit_time is not None and c.commit_time.tzinfo for c in got)
        lsns = [parse_lsn(c.commit_lsn) for c in got]
        assert lsns == sorted(lsns)
        assert len(set(lsns)) == 4
        assert all(c.ends_transaction for c in got)

    async def test_replica_identity_full_gives_the_whole_old_row(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """With REPLICA IDENTITY FULL an update and a delete carry every old column."""
        sql(dsn, f"ALTER TABLE {table} REPLICA IDENTITY FULL")
        sql(dsn, f"INSERT INTO {table} VALUES (1, 'a', 1)")
        make_slot(dsn, slot)
        sql(dsn, f"UPDATE {table} SET name = 'b' WHERE id = 1")
        sql(dsn, f"DELETE FROM {table}")
        got = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        assert short(got) == [
            ("update", {"id": 1, "name": "b", "n": 1}, {"id": 1, "name": "a", "n": 1}),
            ("delete", None, {"id": 1, "name": "b", "n": 1}),
        ]

    async def test_a_transactions_changes_come_together_at_its_commit(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """Interleaved transactions are delivered whole, in commit order, not statement order."""
        import psycopg

        make_slot(dsn, slot)
        with psycopg.connect(dsn) as a, psycopg.connect(dsn) as b:
            a.execute(f"INSERT INTO {table} VALUES (1, 'a1')")  # type: ignore[arg-type]
            b.execute(f"INSERT INTO {table} VALUES (2, 'b1')")  # type: ignore[arg-type]
            a.execute(f"INSERT INTO {table} VALUES (3, 'a2')")  # type: ignore[arg-type]
            b.execute(f"INSERT INTO {table} VALUES (4, 'b2')")  # type: ignore[arg-type]
            b.commit()
            a.execute(f"INSERT INTO {table} VALUES (5, 'a3')")  # type: ignore[arg-type]
            a.commit()
        sql(dsn, f"TRUNCATE {table}")
        got = await take(postgres_changes(dsn, slot=slot, tables=[table]), 6)
        assert [c.new and c.new["id"] for c in got[:5]] == [2, 4, 1, 3, 5]
        assert [c.ends_transaction for c in got] == [False, True, False, False, True, True]
        assert len({c.xid for c in got[:2]}) == 1
        assert len({c.xid for c in got[2:5]}) == 1
        assert got[0].commit_lsn == got[1].commit_lsn != got[2].commit_lsn
        assert (got[5].operation, got[5].table) == ("truncate", f"public.{table}")

    async def test_tables_filter(self, dsn: str, slot: str, table: str, other_table: str) -> None:
        """tables= keeps only the changes of the tables named, bare or schema-qualified."""
        make_slot(dsn, slot)
        xid_of(dsn, f"INSERT INTO {other_table} VALUES (1, 'x')", f"INSERT INTO {table} VALUES (1)")
        sql(dsn, f"INSERT INTO {other_table} VALUES (2, 'y')")
        sql(dsn, f"INSERT INTO {table} VALUES (2)")
        got = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        assert [(c.table, c.new and c.new["id"]) for c in got] == [
            (f"public.{table}", 1),
            (f"public.{table}", 2),
        ]
        sql(dsn, f"INSERT INTO {other_table} VALUES (3, 'z')")
        sql(dsn, f"INSERT INTO {table} VALUES (3)")
        again = await take(postgres_changes(dsn, slot=slot, tables=f"public.{table}"), 1)
        assert [(c.table, c.new and c.new["id"]) for c in again] == [(f"public.{table}", 3)]

    async def test_values_of_other_types_are_postgres_text(self, dsn: str, slot: str) -> None:
        """Booleans and numbers are JSON values, floats are floats, other types their text form."""
        import uuid

        name = f"chg_{uuid.uuid4().hex[:12]}"
        sql(dsn, f"CREATE TABLE {name} (id int PRIMARY KEY, f float8, b bool, j jsonb, t date)")
        try:
            make_slot(dsn, slot)
            sql(dsn, f"""INSERT INTO {name} VALUES (1, 0.5, true, '{{"k": [1]}}', '2024-02-29')""")
            (change,) = await take(postgres_changes(dsn, slot=slot, tables=[name]), 1)
        finally:
            sql(dsn, f"DROP TABLE {name}")
        assert change.new == {"id": 1, "f": 0.5, "b": True, "j": '{"k": [1]}', "t": "2024-02-29"}
        assert type(change.new["f"]) is float


class TestAcknowledgement:
    async def test_resume_continues_after_the_last_processed_change(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """Leaving `async with` cleanly acknowledges what was delivered; a new stream goes on."""
        make_slot(dsn, slot)
        for i in range(1, 6):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        first = await take(postgres_changes(dsn, slot=slot, tables=[table]), 3)
        assert confirmed_lsn(dsn, slot) == parse_lsn(first[-1].commit_lsn)
        rest = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        assert [c.new and c.new["id"] for c in first + rest] == [1, 2, 3, 4, 5]

    @pytest.mark.parametrize("interval", [0, 60])
    async def test_the_slot_advances_per_transaction_or_per_interval(
        self, dsn: str, slot: str, table: str, interval: float
    ) -> None:
        """By default each processed transaction is acknowledged on the server at once;
        with ack_interval the advances are put off (never past what was processed)."""
        make_slot(dsn, slot)
        for i in range(1, 6):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        start = confirmed_lsn(dsn, slot)
        stream = postgres_changes(dsn, slot=slot, tables=[table], ack_interval=interval)
        got: list[Change] = []
        async with stream:
            async for change in stream:
                got.append(change)
                if len(got) == 4:  # #1-#3 processed, #4 in hand
                    server = confirmed_lsn(dsn, slot)
                    break
        assert server == (parse_lsn(got[2].commit_lsn) if interval == 0 else start)
        assert confirmed_lsn(dsn, slot) == parse_lsn(got[3].commit_lsn)

    async def test_an_error_in_the_consumer_leaves_its_change_unacknowledged(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """The change being processed when the consumer fails comes again; those before do not."""
        make_slot(dsn, slot)
        for i in range(1, 4):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        stream = postgres_changes(dsn, slot=slot, tables=[table])
        with pytest.raises(KeyError):
            async with stream:
                async for change in stream:
                    if change.new and change.new["id"] == 2:
                        raise KeyError("handler failed")
        again = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        assert [c.new and c.new["id"] for c in again] == [2, 3]

    async def test_a_partly_processed_transaction_comes_again_whole(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """The slot advances per transaction: stopping inside one redelivers all of it.

        `after=` with the last processed checkpoint skips the part already done.
        """
        make_slot(dsn, slot)
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        xid_of(dsn, *(f"INSERT INTO {table} VALUES ({i})" for i in (2, 3, 4)))
        first = await take(
            postgres_changes(dsn, slot=slot, tables=[table]), 3
        )  # 1, then 2 and 3 of (2, 3, 4)
        assert [c.new and c.new["id"] for c in first] == [1, 2, 3]
        assert confirmed_lsn(dsn, slot) == parse_lsn(first[0].commit_lsn)
        whole = await take(postgres_changes(dsn, slot=slot, tables=[table]), 3)
        assert [c.new and c.new["id"] for c in whole] == [2, 3, 4]
        # That stream stopped at the transaction's end: acknowledged now.
        assert confirmed_lsn(dsn, slot) == parse_lsn(whole[-1].commit_lsn)
        sql(dsn, f"INSERT INTO {table} VALUES (5)")
        assert [
            c.new and c.new["id"]
            for c in await take(postgres_changes(dsn, slot=slot, tables=[table]), 1)
        ] == [5]

    async def test_after_skips_to_a_checkpoint_inside_a_transaction(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """after=checkpoint delivers only the changes after it, the slot's position permitting."""
        make_slot(dsn, slot)
        xid_of(dsn, *(f"INSERT INTO {table} VALUES ({i})" for i in (1, 2, 3)))
        sql(dsn, f"INSERT INTO {table} VALUES (4)")
        first = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        stream = postgres_changes(dsn, slot=slot, tables=[table], after=first[-1].checkpoint)
        assert stream.checkpoint == first[-1].checkpoint
        rest = await take(stream, 2)
        assert [c.new and c.new["id"] for c in rest] == [3, 4]

    async def test_manual_acknowledgement(self, dsn: str, slot: str, table: str) -> None:
        """With auto_ack=False only ack() counts: unacknowledged changes come again."""
        make_slot(dsn, slot)
        for i in range(1, 5):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        start = confirmed_lsn(dsn, slot)
        got = await take(postgres_changes(dsn, slot=slot, tables=[table], auto_ack=False), 3)
        assert confirmed_lsn(dsn, slot) == start  # nothing acknowledged
        stream = postgres_changes(dsn, slot=slot, tables=[table], auto_ack=False)
        async with stream:
            seen: list[Change] = []
            async for change in stream:
                seen.append(change)
                if len(seen) == 3:
                    stream.ack(seen[1])  # cumulative: 1 and 2
                    with pytest.raises(ValueError, match="not delivered"):
                        stream.ack(_later(change))
                    break
        assert [c.new for c in seen] == [c.new for c in got]
        assert stream.checkpoint == seen[1].checkpoint
        assert confirmed_lsn(dsn, slot) == parse_lsn(seen[1].commit_lsn)
        rest = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        assert [c.new and c.new["id"] for c in rest] == [3, 4]

    async def test_manual_acknowledgement_behind_read_ahead(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """Behind batch(), acks after each processed batch make the slot follow exactly."""
        make_slot(dsn, slot)
        for i in range(1, 8):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        changes = postgres_changes(dsn, slot=slot, tables=[table], auto_ack=False)
        batches = changes.batch(3, timeout=0.5)
        done: list[int] = []
        async with batches:
            async for batch in batches:
                done.extend(c.new["id"] for c in batch if c.new)
                changes.ack(batch[-1])
                if len(done) >= 6:
                    break
        assert done == [1, 2, 3, 4, 5, 6]
        rest = await take(postgres_changes(dsn, slot=slot, tables=[table]), 1)
        assert [c.new and c.new["id"] for c in rest] == [7]


def _later(change: Change) -> Change:
    from dataclasses import replace

    lsn, _, index = change.checkpoint.partition("#")
    return replace(change, checkpoint=f"{lsn}#{int(index) + 5}")


class TestSlots:
    async def test_missing_slot_without_create_raises_history_lost(
        self, dsn: str, slot: str
    ) -> None:
        """create_slot=False and no slot: HistoryLost at once, naming the slot; no slot made."""
        stream = postgres_changes(dsn, slot=slot, create_slot=False)
        with pytest.raises(HistoryLost, match=slot) as info:
            await stream.first()
        assert info.value.source == f"replication slot {slot!r}"
        assert sql(dsn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", slot) == []

    async def test_create_slot_starts_at_the_current_position(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """A created slot sees changes committed after it was made, none before."""
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        stream = postgres_changes(dsn, slot=slot, tables=[table], poll_interval=0.05)
        async with stream:
            it = aiter(stream)
            async with anyio.create_task_group() as tg:
                got: list[Change] = []

                async def read() -> None:
                    got.append(await anext(it))

                tg.start_soon(read)
                for _ in range(200):  # the stream makes the slot when it starts
                    if slot_ready(dsn, slot):
                        break
                    await anyio.sleep(0.05)
                sql(dsn, f"INSERT INTO {table} VALUES (2)")
        assert [c.new for c in got] == [{"id": 2, "name": None, "n": None}]

    async def test_a_slot_dropped_while_streaming_raises_history_lost(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """A slot dropped under a running stream ends it with HistoryLost, without retrying."""
        make_slot(dsn, slot)
        stream = postgres_changes(dsn, slot=slot, tables=[table], poll_interval=0.05)
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        with pytest.raises(HistoryLost, match="does not exist"):
            async with stream:
                async for _change in stream:
                    sql(dsn, "SELECT pg_drop_replication_slot(%s)", slot)

    async def test_a_lost_connection_ends_the_stream_and_a_new_one_resumes(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """A connection killed under the stream is a ChangeStreamError; nothing is lost."""
        make_slot(dsn, slot)
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        stream = postgres_changes(dsn, slot=slot, tables=[table], poll_interval=0.05)
        got: list[Change] = []
        with pytest.raises(ChangeStreamError, match="connection to PostgreSQL was lost"):
            async with stream:
                async for change in stream:
                    got.append(change)
                    killed = sql(
                        dsn,
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s",
                        f"sluiceway changes {slot}",
                    )
                    assert killed == [(True,)]
                    sql(dsn, f"INSERT INTO {table} VALUES (2)")
        again = await take(postgres_changes(dsn, slot=slot, tables=[table]), 2)
        assert [c.new and c.new["id"] for c in got + again] == [1, 1, 2]

    async def test_a_slot_of_another_plugin_is_refused(self, dsn: str, slot: str) -> None:
        """A slot decoded by another plugin is a clear ChangeStreamError, not garbage."""
        sql(dsn, "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", slot)
        with pytest.raises(ChangeStreamError, match="test_decoding"):
            await postgres_changes(dsn, slot=slot).first()

    async def test_a_slot_of_another_database_is_refused(self, dsn: str, slot: str) -> None:
        """A slot made in another database says which one to connect to."""
        other = dsn.rsplit("/", 1)[0] + "/postgres"
        make_slot(other, slot)
        with pytest.raises(ChangeStreamError, match="belongs to database 'postgres'"):
            await postgres_changes(dsn, slot=slot).first()

    async def test_a_bad_dsn_is_a_change_stream_error(self, slot: str) -> None:
        """Nothing listening: ChangeStreamError naming the slot, from the connect error."""
        stream = postgres_changes("postgresql://127.0.0.1:1/test", slot=slot)
        with pytest.raises(ChangeStreamError, match="cannot connect"):
            await stream.first()

    async def test_a_connection_passed_in_stays_open(
        self, dsn: str, slot: str, table: str, conn: Any
    ) -> None:
        """The stream uses the connection it is given and leaves it open, not listening."""
        make_slot(dsn, slot)
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        (change,) = await take(postgres_changes(conn, slot=slot, tables=[table]), 1)
        assert change.new == {"id": 1, "name": None, "n": None}
        assert await conn.fetchval("SELECT 41 + 1") == 42
        assert await conn.fetchval("SELECT count(*) FROM pg_listening_channels()") == 0


class TestIdle:
    async def test_notify_wakes_an_idle_stream_before_the_poll(
        self, dsn: str, slot: str, table: str, conn: Any
    ) -> None:
        """With the wake-up trigger a change arrives long before the poll interval.

        The stream has read and found nothing, and would read again in a
        minute: the change must come within fail_after's 20 s, so by NOTIFY.
        """
        make_slot(dsn, slot)
        await add_wakeup_trigger(conn, table)
        try:
            stream = postgres_changes(dsn, slot=slot, tables=[table], poll_interval=60)
            with anyio.fail_after(20):
                async with stream:
                    it = aiter(stream)
                    async with anyio.create_task_group() as tg:
                        arrived: list[Change] = []

                        async def read() -> None:
                            arrived.append(await anext(it))

                        tg.start_soon(read)
                        await until_idle_after_a_read(conn, slot)
                        await conn.execute(f"INSERT INTO {table} VALUES (1)")
        finally:
            await drop_wakeup_trigger(conn, table)
        assert [c.new for c in arrived] == [{"id": 1, "name": None, "n": None}]
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal",
                table,
            )
            == 0
        )

    async def test_heartbeat_advances_an_idle_slot_past_other_databases_wal(
        self, dsn: str, slot: str
    ) -> None:
        """While idle the slot moves up to the server's current WAL position: no WAL piles up."""
        make_slot(dsn, slot)
        start = confirmed_lsn(dsn, slot)
        # WAL written in another database: nothing this slot would ever deliver.
        other = dsn.rsplit("/", 1)[0] + "/postgres"
        probe = f"sw_heartbeat_{slot}"  # tests may run in parallel
        sql(other, f"CREATE TABLE {probe} (x int)")
        sql(other, f"DROP TABLE {probe}")
        written = parse_lsn(sql(dsn, "SELECT pg_current_wal_lsn()::text")[0][0])
        assert written > start
        stream = postgres_changes(
            dsn, slot=slot, tables=["sw_no_such_table"], poll_interval=0.05, heartbeat=0.1
        )
        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(stream.first)  # never comes: it keeps the stream reading
            with anyio.fail_after(10):
                # Polled: the slot's position is on the server, nothing here can signal it.
                while await anyio.to_thread.run_sync(confirmed_lsn, dsn, slot) < written:  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()


class TestArguments:
    def test_bad_arguments_fail_at_the_call(self) -> None:
        """Slot names, tables, numbers and the connection are checked before anything runs."""
        dsn = "postgresql://127.0.0.1/test"
        with pytest.raises(ValueError, match="slot"):
            postgres_changes(dsn, slot="Bad-Name")
        with pytest.raises(TypeError, match="asyncpg connection or a DSN"):
            postgres_changes(42, slot="ok")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="tables"):
            postgres_changes(dsn, slot="ok", tables=[1])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="empty"):
            postgres_changes(dsn, slot="ok", tables=[" "])
        with pytest.raises(ValueError, match="poll_interval"):
            postgres_changes(dsn, slot="ok", poll_interval=0)
        with pytest.raises(ValueError, match="ack_interval"):
            postgres_changes(dsn, slot="ok", ack_interval=-1)
        with pytest.raises(ValueError, match="batch_size"):
            postgres_changes(dsn, slot="ok", batch_size=0)
        with pytest.raises(ValueError, match="checkpoint"):
            postgres_changes(dsn, slot="ok", after="0/16")
