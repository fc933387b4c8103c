"""Three worker processes share 10,000 messages; one is killed with SIGKILL mid-batch.

On Redis Streams and on NATS JetStream: every message is handled at least
once; duplicates come only from the killed worker's in-flight messages (never
more than ``max_in_flight``); the others take them over within ``claim_idle``
(Redis) or ``ack_wait`` (JetStream) + 1 s of the kill; nothing stays pending.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from nats_support import nats_url
from redis_support import redis_url

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

TOTAL = 10_000
MAX_IN_FLIGHT = 50
#: claim_idle (Redis) and ack_wait (JetStream): how long a dead worker's messages wait.
TAKEOVER = 1.0


def handled(log: Path) -> list[tuple[int, int, str, float]]:
    """(n, attempt, consumer, time) of each line a worker wrote (a torn last line skipped)."""
    rows = []
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 4:
                rows.append((int(parts[0]), int(parts[1]), parts[2], float(parts[3])))
    return rows


async def run_workers(
    worker: str, url: str, target: str, tmp_path: Path, settled: Callable[[], Awaitable[bool]]
) -> tuple[dict[str, Path], float]:
    """Three workers on ``target``; w0 killed after 500 lines; until every n is handled.

    Returns the logs and the time of the kill, once ``settled()`` (nothing pending).
    """
    logs = {name: tmp_path / f"{name}.log" for name in ("w0", "w1", "w2")}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    script = str(Path(__file__).with_name(worker))
    workers = {
        name: await anyio.open_process(
            [sys.executable, script, url, target, name, str(log), str(MAX_IN_FLIGHT),
             str(TAKEOVER)],
            env=env, stdout=None, stderr=None,
        )
        for name, log in logs.items()
    }  # fmt: skip
    try:
        with anyio.fail_after(60):
            while len(handled(logs["w0"])) < 500:  # noqa: ASYNC110  # another process's file
                await anyio.sleep(0.01)
        workers["w0"].send_signal(signal.SIGKILL)
        killed_at = time.time()
        await workers["w0"].wait()
        with anyio.fail_after(90):
            while True:
                rows = [row for log in logs.values() for row in handled(log)]
                if {row[0] for row in rows} >= set(range(TOTAL)):
                    break
                await anyio.sleep(0.1)
        with anyio.fail_after(10):  # the last batches acknowledged
            while not await settled():  # noqa: ASYNC110  # the server's state
                await anyio.sleep(0.05)
    finally:
        for process in workers.values():
            if process.returncode is None:
                process.terminate()
        with anyio.fail_after(10):
            for process in workers.values():
                await process.wait()
    return logs, killed_at


def check_takeover(logs: dict[str, Path], killed_at: float) -> None:
    """At least once, duplicates only the killed worker's in-flight ones, taken over in time."""
    rows = [row for log in logs.values() for row in handled(log)]
    counts = Counter(row[0] for row in rows)
    assert set(counts) == set(range(TOTAL))  # every message at least once
    duplicates = [n for n, seen in counts.items() if seen > 1]
    by_killed = {row[0] for row in handled(logs["w0"])}
    assert len(duplicates) <= MAX_IN_FLIGHT
    assert set(duplicates) <= by_killed  # only the killed worker's in-flight messages
    taken_over = [row for row in rows if row[2] != "w0" and row[0] in by_killed]
    if taken_over:  # those it had handled but not yet acknowledged
        assert max(row[3] for row in taken_over) - killed_at <= TAKEOVER + 1
        assert min(row[1] for row in taken_over) >= 2  # a redelivery, and it says so


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_killed_redis_worker_loses_nothing(
    anyio_backend: str, redis: Any, key: str, tmp_path: Path
) -> None:
    pipe = redis.pipeline()
    for n in range(TOTAL):
        pipe.xadd(key, {"n": str(n)})
    await pipe.execute()

    async def settled() -> bool:
        return bool((await redis.xpending(key, "g"))["pending"] == 0)

    logs, killed_at = await run_workers("redis_worker.py", redis_url(), key, tmp_path, settled)
    check_takeover(logs, killed_at)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_killed_jetstream_worker_loses_nothing(
    anyio_backend: str, js: Any, subject: str, tmp_path: Path
) -> None:
    from sluiceway.brokers import jetstream_sink

    assert await jetstream_sink((str(n) for n in range(TOTAL)), js, subject) == TOTAL

    async def settled() -> bool:
        stream = await js.find_stream_name_by_subject(subject)
        state = await js.consumer_info(stream, "d")
        return bool(state.num_ack_pending == 0 and state.num_pending == 0)

    logs, killed_at = await run_workers("nats_worker.py", nats_url(), subject, tmp_path, settled)
    check_takeover(logs, killed_at)
