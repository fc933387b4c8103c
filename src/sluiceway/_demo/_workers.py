"""The scale-out part of the demo: three `sluiceway consume` workers share a Redis stream.

One of them is killed with SIGKILL while it holds messages it has not
acknowledged; the two others take them over after `claim_idle`, and every
message is handled, the killed worker's last ones twice at most.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any, TextIO

import anyio

#: Where the part finds Redis (it is skipped when nothing answers there).
URL = os.environ.get("SLUICEWAY_DEMO_REDIS", "redis://127.0.0.1:6379/0")
MESSAGES = 3_000
#: Lines the first worker prints before it is killed.
KILL_AFTER = 200
CLAIM_IDLE = 1.0
HEADING = "10. Many workers, one stream"


async def part(out: TextIO) -> None:
    """Three consumer processes, one killed mid-stream: nothing lost, the rest taken over."""
    try:
        import redis.asyncio
        from redis.exceptions import RedisError
    except ImportError:
        out.write(f"\n{HEADING}: skipped (pip install 'sluiceway[redis]')\n")
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        out.write(f"\n{HEADING}: skipped on trio (redis-py runs on asyncio only)\n")
        return
    client: Any = redis.asyncio.Redis.from_url(URL, decode_responses=True)  # pyright: ignore[reportUnknownMemberType]
    try:
        try:
            with anyio.fail_after(2):
                await client.ping()
        except (OSError, TimeoutError, RedisError) as exc:
            out.write(f"\n{HEADING}: skipped (no Redis at {URL}: {exc or type(exc).__name__})\n")
            return
        key = f"sluiceway-demo:{uuid.uuid4().hex}"
        try:
            await _run(out, client, key)
        finally:
            await client.delete(key, f"{key}:dead", f"{key}:dead:errors")
    finally:
        await (getattr(client, "aclose", None) or client.close)()


async def _run(out: TextIO, client: Any, key: str) -> None:
    from ..brokers import redis_stream_sink

    out.write(
        f"\n{HEADING}: three `sluiceway consume` processes share a Redis stream "
        f"of {MESSAGES:,} messages;\n"
        f"   w0 is killed with SIGKILL once it printed {KILL_AFTER} lines\n"
    )
    base, _, db = URL.rstrip("/").rpartition("/")
    target = f"{base}/{db if db.isdigit() else '0'}/{key}"
    names = ("w0", "w1", "w2")
    seen: list[tuple[str, str, int, float]] = []  # (worker, id, attempt, time)
    workers = {
        name: await anyio.open_process(
            [sys.executable, "-m", "sluiceway.cli", "consume", target, "--group", "demo",
             "--consumer", name, "--claim-idle", str(CLAIM_IDLE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for name in names
    }  # fmt: skip
    killed_at = 0.0
    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for name, process in workers.items():
                    tg.start_soon(_read, name, process, seen)
                while await _consumers(client, key) < len(names):  # noqa: ASYNC110
                    await anyio.sleep(0.05)  # each worker made its first read (server state)
                await redis_stream_sink(({"n": str(n)} for n in range(MESSAGES)), client, key)
                while sum(1 for row in seen if row[0] == "w0") < KILL_AFTER:  # noqa: ASYNC110
                    await anyio.sleep(0.005)  # the readers fill `seen`
                workers["w0"].send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                while len({row[1] for row in seen}) < MESSAGES:  # noqa: ASYNC110
                    await anyio.sleep(0.02)
                for name in ("w1", "w2"):
                    workers[name].send_signal(signal.SIGTERM)  # a clean stop, exit 0
    finally:
        for process in workers.values():
            if process.returncode is None:
                process.kill()
            await process.wait()
    by_worker = {name: sum(1 for row in seen if row[0] == name) for name in names}
    handled = {row[1] for row in seen}
    twice = len(seen) - len(handled)
    taken = [row for row in seen if row[0] != "w0" and row[2] > 1]
    out.write(
        "   lines printed (each acknowledged once written): "
        + ", ".join(f"{name} {count:,}" for name, count in by_worker.items())
        + f"\n   every message handled: {len(handled) == MESSAGES} ({len(handled):,} of "
        f"{MESSAGES:,}); handled twice: {twice} (only a line w0 printed and had not "
        "acknowledged yet when it died can be)\n"
    )
    if taken:
        after = max(row[3] for row in taken) - killed_at
        out.write(
            f"   {len(taken)} messages w0 had read but not acknowledged went to w1/w2 "
            f"(attempt 2) within {after:.1f} s of the kill (claim_idle {CLAIM_IDLE:g} s)\n"
        )
    else:
        out.write("   w0 held no unacknowledged message when it was killed\n")
    workers_exit = {name: workers[name].returncode for name in names}
    out.write(
        f"   exit codes: w0 {workers_exit['w0']} (SIGKILL), w1 {workers_exit['w1']}, "
        f"w2 {workers_exit['w2']} (SIGTERM: a clean stop)\n"
    )


async def _consumers(client: Any, key: str) -> int:
    """How many consumers of the demo group have read (0 before the group exists)."""
    import redis.exceptions

    try:
        return len(await client.xinfo_consumers(key, "demo"))
    except redis.exceptions.ResponseError:
        return 0


async def _read(name: str, process: Any, seen: list[tuple[str, str, int, float]]) -> None:
    """Collect a worker's JSON lines as they come."""
    buffer = b""
    async for chunk in process.stdout:
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                record = json.loads(line)
                seen.append((name, record["id"], record["attempt"], time.monotonic()))
