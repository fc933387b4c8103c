"""Three worker processes share 10,000 entries; one is killed with SIGKILL mid-batch.

Every entry is handled at least once; duplicates come only from the killed
worker's in-flight entries (never more than ``max_in_flight``); the others
take them over within ``claim_idle`` + 1 s of the kill; nothing stays pending.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from redis_support import redis_url

WORKER = Path(__file__).with_name("redis_worker.py")
TOTAL = 10_000
MAX_IN_FLIGHT = 50
CLAIM_IDLE = 1.0


def handled(log: Path) -> list[tuple[int, int, str, float]]:
    """(n, attempt, consumer, time) of each line a worker wrote (a torn last line skipped)."""
    rows = []
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 4:
                rows.append((int(parts[0]), int(parts[1]), parts[2], float(parts[3])))
    return rows


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_killed_worker_loses_nothing(
    anyio_backend: str, redis: Any, key: str, tmp_path: Path
) -> None:
    pipe = redis.pipeline()
    for n in range(TOTAL):
        pipe.xadd(key, {"n": str(n)})
    await pipe.execute()
    logs = {name: tmp_path / f"{name}.log" for name in ("w0", "w1", "w2")}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = {
        name: await anyio.open_process(
            [sys.executable, str(WORKER), redis_url(), key, name, str(log), str(MAX_IN_FLIGHT),
             str(CLAIM_IDLE)],
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
            while (await redis.xpending(key, "g"))["pending"] > 0:  # noqa: ASYNC110  # the server's
                await anyio.sleep(0.05)
    finally:
        for process in workers.values():
            if process.returncode is None:
                process.terminate()
        with anyio.fail_after(10):
            for process in workers.values():
                await process.wait()
    rows = [row for log in logs.values() for row in handled(log)]
    counts = Counter(row[0] for row in rows)
    assert set(counts) == set(range(TOTAL))  # every entry at least once
    duplicates = [n for n, seen in counts.items() if seen > 1]
    by_killed = {row[0] for row in handled(logs["w0"])}
    assert len(duplicates) <= MAX_IN_FLIGHT
    assert set(duplicates) <= by_killed  # only the killed worker's in-flight entries
    taken_over = [row for row in rows if row[2] != "w0" and row[0] in by_killed]
    if taken_over:  # those it had handled but not yet acknowledged
        assert max(row[3] for row in taken_over) - killed_at <= CLAIM_IDLE + 1
        assert min(row[1] for row in taken_over) >= 2  # a redelivery, and it says so
