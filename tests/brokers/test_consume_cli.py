"""`sluiceway produce` and `sluiceway consume` from a shell, against the real Redis."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import anyio
import pytest
from nats_support import nats_url
from redis_support import redis_url

from commandline import json_lines, sluiceway


def url(key: str) -> str:
    return f"{redis_url().rstrip('/').rpartition('/')[0]}/0/{key}"


class TestProduce:
    async def test_lines_become_entries(self, redis: Any, key: str) -> None:
        """Each JSON object of stdin is one entry; non-string values are written as JSON."""
        lines = '{"n": "1"}\n\n{"n": 2, "tags": ["a"]}\n{"n": "3"}\n'
        out = await anyio.to_thread.run_sync(lambda: sluiceway("produce", url(key), stdin=lines))
        assert out.returncode == 0, out.stderr
        assert out.stderr.strip() == "sluiceway: 3 messages written"
        entries = [fields for _, fields in await redis.xrange(key)]
        assert entries == [{"n": "1"}, {"n": "2", "tags": '["a"]'}, {"n": "3"}]

    async def test_a_bad_line_is_named(self, redis: Any, key: str) -> None:
        """A line that is not a JSON object: exit 1 naming it; the lines before are written."""
        lines = '{"n": "1"}\n[1, 2]\n{"n": "3"}\n'
        out = await anyio.to_thread.run_sync(lambda: sluiceway("produce", url(key), stdin=lines))
        assert out.returncode == 1
        assert "line 2 is not a JSON object" in out.stderr
        assert "Traceback" not in out.stderr
        assert [fields for _, fields in await redis.xrange(key)] == [{"n": "1"}]


class TestConsume:
    async def test_prints_and_acknowledges(self, redis: Any, key: str) -> None:
        """--max-messages N: N JSON lines (id, attempt, value), each acknowledged."""
        ids = [await redis.xadd(key, {"n": str(i)}) for i in range(5)]
        out = await anyio.to_thread.run_sync(
            lambda: sluiceway("consume", url(key), "--group", "g", "--max-messages", "3")
        )
        assert out.returncode == 0, out.stderr
        got = json_lines(out.stdout)
        assert got == [{"id": ids[i], "attempt": 1, "value": {"n": str(i)}} for i in range(3)]
        # The two read ahead and not printed were given back, as never delivered...
        left = await redis.xpending_range(key, "g", min="-", max="+", count=10)
        assert [(p["message_id"], p["times_delivered"]) for p in left] == [(ids[3], 0), (ids[4], 0)]
        # ... so another consumer takes them at once.
        out = await anyio.to_thread.run_sync(
            lambda: sluiceway(
                "consume", url(key), "--group", "g", "--consumer", "other", "--max-messages", "2"
            )
        )
        assert out.returncode == 0, out.stderr
        assert [(line["id"], line["attempt"]) for line in json_lines(out.stdout)] == [
            (ids[3], 1),
            (ids[4], 1),
        ]
        assert (await redis.xpending(key, "g"))["pending"] == 0

    async def test_sigterm_stops_it_cleanly(self, redis: Any, key: str) -> None:
        """SIGTERM while waiting: exit 0, no traceback; what was printed is acknowledged."""
        for i in range(4):
            await redis.xadd(key, {"n": str(i)})
        process = await anyio.open_process(
            [sys.executable, "-m", "sluiceway.cli", "consume", url(key), "--group", "g",
             "--consumer", "c1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        assert process.stderr is not None
        received = b""
        with anyio.fail_after(20):
            async for chunk in process.stdout:
                received += chunk
                if received.count(b"\n") == 4:
                    break
            process.send_signal(signal.SIGTERM)
            await process.wait()
            errors = b"".join([chunk async for chunk in process.stderr])
        assert process.returncode == 0, errors
        assert b"Traceback" not in errors
        assert [json.loads(line)["value"]["n"] for line in received.splitlines()] == list("0123")
        assert (await redis.xpending(key, "g"))["pending"] == 0

    @pytest.mark.parametrize(
        ("target", "said"),
        [
            ("http://127.0.0.1/x", "redis://HOST"),
            ("redis://127.0.0.1:6379", "redis://HOST"),
            ("nats://127.0.0.1/subject", "needs --durable"),
            ("nats://127.0.0.1/a/b", "nats://HOST[:PORT]/SUBJECT"),
        ],
    )
    def test_a_bad_url_is_a_usage_error(self, target: str, said: str) -> None:
        out = sluiceway("consume", target, "--group", "g")
        assert out.returncode == 2
        assert said in out.stderr

    def test_each_engine_needs_its_own_name(self) -> None:
        out = sluiceway("consume", "nats://127.0.0.1/subject")
        assert (out.returncode, "needs --durable" in out.stderr) == (2, True)
        out = sluiceway("consume", "redis://127.0.0.1/0/key")
        assert (out.returncode, "needs --group" in out.stderr) == (2, True)


def nats_target(subject: str) -> str:
    return f"{nats_url().rstrip('/')}/{subject}"


class TestJetStreamCommands:
    async def test_produce_then_consume(self, js: Any, subject: str) -> None:
        """produce publishes each line; consume prints them (JSON parsed) and acknowledges."""
        lines = '{"n": 1}\n\n"two"\n3\n'
        out = await anyio.to_thread.run_sync(
            lambda: sluiceway("produce", nats_target(subject), stdin=lines)
        )
        assert out.returncode == 0, out.stderr
        assert out.stderr.strip() == "sluiceway: 3 messages written"
        out = await anyio.to_thread.run_sync(
            lambda: sluiceway(
                "consume", nats_target(subject), "--durable", "d", "--max-messages", "3"
            )
        )
        assert out.returncode == 0, out.stderr
        assert json_lines(out.stdout) == [
            {"id": "1", "attempt": 1, "value": {"n": 1}},
            {"id": "2", "attempt": 1, "value": "two"},
            {"id": "3", "attempt": 1, "value": 3},
        ]
        state = await js.consumer_info(await js.find_stream_name_by_subject(subject), "d")
        assert (state.num_ack_pending, state.num_pending) == (0, 0)

    async def test_sigterm_stops_it_cleanly(self, js: Any, subject: str) -> None:
        """SIGTERM while waiting: exit 0, no traceback, nothing left unacknowledged."""
        for n in range(4):
            await js.publish(subject, str(n).encode())
        process = await anyio.open_process(
            [sys.executable, "-m", "sluiceway.cli", "consume", nats_target(subject),
             "--durable", "d"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        assert process.stderr is not None
        received = b""
        with anyio.fail_after(20):
            async for chunk in process.stdout:
                received += chunk
                if received.count(b"\n") == 4:
                    break
            process.send_signal(signal.SIGTERM)
            await process.wait()
            errors = b"".join([chunk async for chunk in process.stderr])
        assert process.returncode == 0, errors
        assert errors == b""
        assert [json.loads(line)["value"] for line in received.splitlines()] == [0, 1, 2, 3]
        state = await js.consumer_info(await js.find_stream_name_by_subject(subject), "d")
        assert state.num_ack_pending == 0

    def test_a_server_that_is_not_there(self) -> None:
        """A refused first connection: exit 1 at once, naming host and port, no traceback."""
        out = sluiceway("consume", "nats://127.0.0.1:1/subject", "--durable", "d")
        assert out.returncode == 1
        assert "cannot connect to NATS at 127.0.0.1:1" in out.stderr
        assert "Traceback" not in out.stderr

    async def test_a_subject_no_stream_holds(self) -> None:
        out = await anyio.to_thread.run_sync(
            lambda: sluiceway(
                "produce", nats_target("sluiceway-test.nobody.listens"), stdin='"x"\n'
            )
        )
        assert out.returncode == 1
        assert "no JetStream stream holds subject" in out.stderr
        assert "Traceback" not in out.stderr

    async def test_a_line_that_is_not_json(self, js: Any, subject: str) -> None:
        out = await anyio.to_thread.run_sync(
            lambda: sluiceway("produce", nats_target(subject), stdin='"a"\nnot json\n')
        )
        assert out.returncode == 1
        assert "line 2 is not JSON" in out.stderr
        info = await js.stream_info(await js.find_stream_name_by_subject(subject))
        assert info.state.messages == 1
