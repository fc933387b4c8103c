"""`sluiceway consume URL` and `sluiceway produce URL`: a Redis stream from and to a shell.

`consume` prints each delivery of a consumer group as one JSON line and
acknowledges it only once the line is flushed: whatever was not printed stays
pending for the next run (or another consumer). SIGINT and SIGTERM stop it
cleanly. `produce` writes the JSON objects of stdin's lines to the stream.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

if TYPE_CHECKING:
    import argparse
    from collections.abc import AsyncGenerator


def register(commands: Any) -> None:
    consume: argparse.ArgumentParser = commands.add_parser(
        "consume",
        help="print the messages of a consumer group as JSON lines, acknowledging each",
        description=(
            "Print each message of a Redis stream's consumer group as one JSON object per "
            "line (id, attempt, value); a message is acknowledged once its line is written. "
            "URL: redis://HOST[:PORT][/DB]/STREAM. SIGINT or SIGTERM stops it, exit 0."
        ),
    )
    consume.add_argument("url", metavar="URL")
    consume.add_argument("--group", required=True, help="the consumer group (made if missing)")
    consume.add_argument(
        "--consumer", help="this consumer's name in the group (default: the host name)"
    )
    consume.add_argument("--max-messages", type=int, metavar="N", help="stop after N messages")
    consume.add_argument(
        "--claim-idle",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="take over other consumers' messages idle this long (default 30)",
    )
    consume.set_defaults(run=run_consume)
    produce: argparse.ArgumentParser = commands.add_parser(
        "produce",
        help="write the JSON objects of stdin's lines to a Redis stream",
        description=(
            "Read one JSON object per line from stdin and add it to the stream, each write "
            "confirmed by the server; prints how many were written on stderr. "
            "URL: redis://HOST[:PORT][/DB]/STREAM."
        ),
    )
    produce.add_argument("url", metavar="URL")
    produce.set_defaults(run=run_produce)


def _target(url: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    """(the server's URL, the stream's key) of ``redis://HOST[:PORT][/DB]/STREAM``."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        parser.error(f"expected a redis://HOST/STREAM URL, got {url!r} (only Redis for now)")
    segments = [s for s in parts.path.split("/") if s]
    db = "0"
    if len(segments) >= 2 and segments[0].isdigit():
        db, segments = segments[0], segments[1:]
    if not segments:
        parser.error(f"no stream in {url!r}: expected redis://HOST[:PORT][/DB]/STREAM")
    return f"{parts.scheme}://{parts.netloc}/{db}", "/".join(segments)


def run_consume(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    server, key = _target(args.url, parser)
    if args.max_messages is not None and args.max_messages < 0:
        parser.error("--max-messages must be >= 0")
    if not args.claim_idle > 0:
        parser.error("--claim-idle must be > 0")
    anyio.run(_consume, args, server, key)


def _client(server: str) -> Any:
    try:
        import redis.asyncio
    except ImportError:
        raise ImportError(
            "sluiceway consume/produce need redis-py: pip install 'sluiceway[redis]'"
        ) from None
    return redis.asyncio.Redis.from_url(server, decode_responses=True)  # pyright: ignore[reportUnknownMemberType]


async def _consume(args: argparse.Namespace, server: str, key: str) -> None:
    from ..brokers import redis_stream

    client = _client(server)
    deliveries = redis_stream(
        client,
        key,
        group=args.group,
        consumer=args.consumer or socket.gethostname(),
        claim_idle=args.claim_idle,
    )
    if args.max_messages is not None:
        deliveries = deliveries.take(args.max_messages)
    out = sys.stdout
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, tg.cancel_scope)
            async with deliveries:
                async for delivery in deliveries:
                    line = {"id": delivery.id, "attempt": delivery.attempt, "value": delivery.value}
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    out.flush()
                    await delivery.ack()
            tg.cancel_scope.cancel()
    finally:
        await (getattr(client, "aclose", None) or client.close)()


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


def run_produce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    server, key = _target(args.url, parser)
    anyio.run(_produce, server, key)


async def _messages() -> AsyncGenerator[dict[str, str], None]:
    """stdin's lines (read in a thread) as field -> text mappings; ValueError names a bad one."""
    number = 0
    while line := await anyio.to_thread.run_sync(sys.stdin.readline):
        number += 1
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError(f"line {number} is not a JSON object (field -> value)")  # noqa: TRY004  # bad input, as the line above
        fields: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        yield {
            name: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for name, v in fields.items()
        }


async def _produce(server: str, key: str) -> None:
    from ..brokers import redis_stream_sink

    client = _client(server)
    try:
        written = await redis_stream_sink(_messages(), client, key)
    finally:
        await (getattr(client, "aclose", None) or client.close)()
    print(f"sluiceway: {written:,} message{'' if written == 1 else 's'} written", file=sys.stderr)
