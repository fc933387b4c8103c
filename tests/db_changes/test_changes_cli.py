"""`sluiceway changes` as a process: JSON lines, exit codes, and a SIGKILL mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

from changes_support import confirmed_lsn, make_slot, slot_ready, sql

from sluiceway.db._wal2json import parse_lsn


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def command(dsn: str, slot: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "sluiceway.cli", "changes", dsn, "--slot", slot, *args]


def run(dsn: str, slot: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(dsn, slot, *args), capture_output=True, text=True, timeout=timeout, check=False
    )


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def insert_transactions(dsn: str, table: str, sizes: list[int], start: int, pad: int) -> int:
    """Commit one transaction per size, of that many rows with ids from ``start``; the next id."""
    import psycopg

    next_id = start
    with psycopg.connect(dsn) as conn:
        for size in sizes:
            for _ in range(size):
                conn.execute(
                    f"INSERT INTO {table} (id, name) VALUES (%s, %s)",  # type: ignore[arg-type]
                    (next_id, "x" * pad),
                )
                next_id += 1
            conn.commit()
    return next_id


class TestChangesCommand:
    def test_prints_one_json_object_per_change(self, dsn: str, slot: str, table: str) -> None:
        """Each change is a JSON line with table, operation, values, xid and positions."""
        make_slot(dsn, slot)
        sql(dsn, f"INSERT INTO {table} VALUES (1, 'a', 2.5)")
        sql(dsn, f"DELETE FROM {table}")
        out = run(dsn, slot, "--tables", table, "--max-changes", "2")
        assert out.returncode == 0, out.stderr
        first, second = lines(out.stdout)
        assert first["table"] == f"public.{table}"
        assert (first["operation"], first["new"], first["old"]) == (
            "insert",
            {"id": 1, "name": "a", "n": "2.5"},
            None,
        )
        assert (second["operation"], second["new"], second["old"]) == ("delete", None, {"id": 1})
        assert set(first) == {
            "table", "operation", "new", "old", "xid", "lsn", "commit_lsn", "commit_time",
            "checkpoint",
        }  # fmt: skip
        assert isinstance(first["xid"], int)
        assert first["commit_time"].endswith("+00:00")
        # --max-changes stops after the last one is acknowledged.
        assert confirmed_lsn(dsn, slot) == parse_lsn(second["commit_lsn"])

    def test_a_missing_slot_is_an_error_without_from_start(self, dsn: str, slot: str) -> None:
        """No slot and no --from-start: exit 1, one line that says what to do; no slot made."""
        out = run(dsn, slot)
        assert out.returncode == 1
        assert out.stdout == ""
        assert len(out.stderr.strip().splitlines()) == 1
        assert "HistoryLost" in out.stderr
        assert "--from-start" in out.stderr
        assert sql(dsn, "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", slot) == []

    def test_from_start_creates_the_slot_at_the_current_position(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """--from-start makes the missing slot; it sees what is committed after, not before."""
        sql(dsn, f"INSERT INTO {table} VALUES (1)")
        proc = subprocess.Popen(
            command(
                dsn,
                slot,
                "--tables",
                table,
                "--from-start",
                "--max-changes",
                "1",
                "--poll-interval",
                "0.05",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not slot_ready(dsn, slot):
                assert time.monotonic() < deadline, "the slot was never created"
                time.sleep(0.05)
            sql(dsn, f"INSERT INTO {table} VALUES (2)")
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):  # not left to the collector after a timeout
                if pipe is not None:
                    pipe.close()
        assert proc.returncode == 0, stderr
        assert [line["new"]["id"] for line in lines(stdout)] == [2]

    def test_bad_dsn_and_bad_usage(self, slot: str) -> None:
        """A server that is not there is exit 1 with one line; bad options are exit 2."""
        out = run("postgresql://127.0.0.1:1/test", slot)
        assert out.returncode == 1
        assert len(out.stderr.strip().splitlines()) == 1
        assert "cannot connect" in out.stderr
        assert run("postgresql://127.0.0.1:1/test", "Bad-Slot").returncode == 2
        assert run("postgresql://127.0.0.1:1/test", slot, "--max-changes", "-1").returncode == 2
        assert run("postgresql://127.0.0.1:1/test", slot, "--ack-interval", "-1").returncode == 2

    def test_ctrl_c_exits_130_and_keeps_what_was_printed(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """SIGINT: exit 130, no traceback; every printed change is acknowledged."""
        make_slot(dsn, slot)
        for i in range(1, 4):
            sql(dsn, f"INSERT INTO {table} VALUES ({i})")
        proc = subprocess.Popen(
            command(dsn, slot, "--tables", table),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As typed at a terminal: a run started in the background of a
            # non-interactive shell inherits SIGINT ignored, and so would the CLI.
            preexec_fn=_default_sigint,
        )
        try:
            assert proc.stdout is not None
            printed = [json.loads(proc.stdout.readline()) for _ in range(3)]
            time.sleep(0.3)  # idle, waiting for more
            proc.send_signal(signal.SIGINT)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):  # not left to the collector after a timeout
                if pipe is not None:
                    pipe.close()
        assert proc.returncode == 130, stderr
        assert stdout == ""
        assert "Traceback" not in stderr
        assert confirmed_lsn(dsn, slot) == parse_lsn(printed[-1]["commit_lsn"])
        sql(dsn, f"INSERT INTO {table} VALUES (4)")
        out = run(dsn, slot, "--tables", table, "--max-changes", "1")
        assert [line["new"]["id"] for line in lines(out.stdout)] == [4]


class TestKilled:
    def test_sigkill_mid_stream_loses_nothing_and_repeats_only_after_the_last_ack(
        self, dsn: str, slot: str, table: str
    ) -> None:
        """A consumer killed with SIGKILL mid-stream and restarted: nothing lost, no early repeat.

        The first run's stdout is a pipe the test stops reading, so the process
        is blocked writing a line when it is killed. The restart must print
        exactly the changes of the transactions after the slot's acknowledged
        position (every one, in order, none before it), and the only repeats
        are printed changes of the transaction the killed process was in.
        """
        make_slot(dsn, slot)
        sizes = [1 + i % 3 for i in range(200)]  # 200 transactions of 1-3 rows: 399 changes
        pad = 600  # about 700 bytes a line: far more than a pipe holds
        end = insert_transactions(dsn, table, sizes, start=1, pad=pad)
        with subprocess.Popen(
            command(dsn, slot, "--tables", table), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            assert proc.stdout is not None
            assert proc.stderr is not None
            head = [proc.stdout.readline() for _ in range(40)]
            time.sleep(1.0)  # the pipe fills up; the process blocks in a write
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            # Read on through the same buffered reader (communicate() would skip its buffer).
            rest = proc.stdout.read()
            stderr = proc.stderr.read()
        assert proc.returncode == -signal.SIGKILL, stderr
        text = b"".join(head) + rest
        complete = text[: text.rfind(b"\n") + 1]  # a line cut by the kill was never flushed whole
        first = lines(complete.decode())
        assert 40 <= len(first) < end - 1, "the process was not killed mid-stream"
        acked = confirmed_lsn(dsn, slot)

        # Changes committed while the consumer is down are not lost either.
        end = insert_transactions(dsn, table, [2, 1, 3], start=end, pad=pad)
        before = [c for c in first if parse_lsn(c["commit_lsn"]) <= acked]
        expected = end - 1 - len(before)
        out = run(
            dsn, slot, "--tables", f"public.{table}", "--max-changes", str(expected), timeout=120
        )
        assert out.returncode == 0, out.stderr
        second = lines(out.stdout)

        ids_first = [c["new"]["id"] for c in first]
        ids_second = [c["new"]["id"] for c in second]
        assert ids_first == list(range(1, len(first) + 1))  # in order, none skipped
        assert ids_first[: len(before)] == [c["new"]["id"] for c in before]
        # Nothing lost: the restart goes on from the first change after the ack to the end.
        assert ids_second == list(range(len(before) + 1, end))
        # Nothing acknowledged comes again.
        assert all(parse_lsn(c["commit_lsn"]) > acked for c in second)
        # Repeats: only printed changes of the one transaction the process was in when killed.
        repeated = [c for c in first if c["new"]["id"] in set(ids_second)]
        assert {c["commit_lsn"] for c in repeated} <= {first[-1]["commit_lsn"]}
        assert confirmed_lsn(dsn, slot) == parse_lsn(second[-1]["commit_lsn"])
