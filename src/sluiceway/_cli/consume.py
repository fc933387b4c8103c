"""`sluiceway consume URL` and `sluiceway produce URL`: Redis streams and JetStream from a shell.

`consume` prints each delivery of a consumer group (Redis) or durable
consumer (JetStream) as one JSON line and acknowledges it only once the line
is flushed: whatever was not printed stays pending for the next run (or
another consumer). SIGINT and SIGTERM stop it cleanly. `produce` writes
stdin's JSON lines out: to Redis as entries (a JSON object a line), to
JetStream as payloads (the line's JSON text).
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
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from .. import Stream
    from ..brokers import Delivery


def register(commands: Any) -> None:
    consume: argparse.ArgumentParser = commands.add_parser(
        "consume",
        help="print the messages of a consumer group as JSON lines, acknowledging each",
        description=(
            "Print each message of a Redis stream's consumer group, or of a NATS JetStream "
            "durable consumer, as one JSON object per line (id, attempt, value); a message is "
            "acknowledged once its line is written. URL: redis://HOST[:PORT][/DB]/STREAM "
            "(with --group) or nats://HOST[:PORT]/SUBJECT (with --durable). A JetStream "
            "payload that is JSON is printed as its value, else as text. SIGINT or SIGTERM "
            "stops it, exit 0."
        ),
    )
    consume.add_argument("url", metavar="URL")
    consume.add_argument("--group", help="Redis: the consumer group (made if missing)")
    consume.add_argument(
        "--consumer", help="Redis: this consumer's name in the group (default: the host name)"
    )
    consume.add_argument(
        "--durable", help="JetStream: the durable consumer, shared by the workers (made if missing)"
    )
    consume.add_argument("--max-messages", type=int, metavar="N", help="stop after N messages")
    consume.add_argument(
        "--claim-idle",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="Redis: take over other consumers' messages idle this long (default 30)",
    )
    consume.add_argument(
        "--ack-wait",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="JetStream: a new durable's ack wait (default 30)",
    )
    consume.set_defaults(run=run_consume)
    produce: argparse.ArgumentParser = commands.add_parser(
        "produce",
        help="write stdin's JSON lines to a Redis stream or a JetStream subject",
        description=(
            "Read one JSON value per line from stdin and write it out, each write confirmed by "
            "the server; prints how many were written on stderr. "
            "URL: redis://HOST[:PORT][/DB]/STREAM (each line a JSON object: an entry's fields) "
            "or nats://HOST[:PORT]/SUBJECT (each line published as it is; a stream must hold "
            "the subject)."
        ),
    )
    produce.add_argument("url", metavar="URL")
    produce.set_defaults(run=run_produce)


def _target(url: str, parser: argparse.ArgumentParser) -> tuple[str, str]:
    """(the server's URL, the stream's key or the subject) of a redis:// or nats:// URL."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme in ("nats", "tls"):
        if len(segments) != 1:
            parser.error(f"expected nats://HOST[:PORT]/SUBJECT, got {url!r}")
        return f"{parts.scheme}://{parts.netloc}", segments[0]
    if parts.scheme not in ("redis", "rediss"):
        parser.error(f"expected a redis://HOST/STREAM or nats://HOST/SUBJECT URL, got {url!r}")
    db = "0"
    if len(segments) >= 2 and segments[0].isdigit():
        db, segments = segments[0], segments[1:]
    if not segments:
        parser.error(f"no stream in {url!r}: expected redis://HOST[:PORT][/DB]/STREAM")
    return f"{parts.scheme}://{parts.netloc}/{db}", "/".join(segments)


def _is_nats(server: str) -> bool:
    return server.startswith(("nats:", "tls:"))


def run_consume(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    server, key = _target(args.url, parser)
    if args.max_messages is not None and args.max_messages < 0:
        parser.error("--max-messages must be >= 0")
    if _is_nats(server):
        if not args.durable:
            parser.error("a nats:// URL needs --durable NAME (the durable consumer)")
        if args.group or args.consumer:
            parser.error("--group and --consumer are for Redis; JetStream takes --durable")
        if not args.ack_wait > 0:
            parser.error("--ack-wait must be > 0")
    else:
        if not args.group:
            parser.error("a redis:// URL needs --group NAME (the consumer group)")
        if args.durable:
            parser.error("--durable is for JetStream; Redis takes --group (and --consumer)")
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


async def _nats(server: str) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """A NATS connection and its close: a first connection that fails is an error at once,
    a later loss reconnects (said on stderr)."""
    try:
        import nats
    except ImportError:
        raise ImportError(
            "sluiceway consume/produce need nats-py for nats:// URLs: pip install 'sluiceway[nats]'"
        ) from None
    parts = urlsplit(server)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        with anyio.fail_after(5):
            stream = await anyio.connect_tcp(host, port)
        await stream.aclose()
    except (OSError, TimeoutError) as exc:
        cause = exc.__cause__ or exc  # anyio's "all attempts failed" wraps the real one
        why = getattr(cause, "strerror", None) or str(cause) or "timed out"
        raise ConnectionError(f"cannot connect to NATS at {host}:{port}: {why}") from None
    closing = False

    async def error(exc: Exception) -> None:  # one line, not nats-py's traceback
        print(f"sluiceway: NATS: {exc or type(exc).__name__}", file=sys.stderr)

    async def disconnected() -> None:
        if not closing:
            print(f"sluiceway: NATS at {host}:{port} lost: reconnecting", file=sys.stderr)

    async def reconnected() -> None:
        print(f"sluiceway: NATS at {host}:{port} reconnected", file=sys.stderr)

    nc = await nats.connect(  # pyright: ignore[reportUnknownMemberType]
        server,
        connect_timeout=5,
        max_reconnect_attempts=-1,
        error_cb=error,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
    )

    async def close() -> None:
        nonlocal closing
        closing = True  # the disconnection that follows is ours
        await nc.close()

    return nc, close


def _shown(payload: bytes) -> Any:
    """A JetStream payload as a JSON value: parsed when it is JSON, else its text."""
    text = payload.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _consume(args: argparse.Namespace, server: str, key: str) -> None:
    from ..brokers import jetstream, redis_stream

    close_nats: Callable[[], Awaitable[None]] | None = None
    client: Any = None
    show: Callable[[Any], Any]
    deliveries: Stream[Delivery]
    if _is_nats(server):
        nc, close_nats = await _nats(server)
        deliveries = jetstream(nc.jetstream(), key, durable=args.durable, ack_wait=args.ack_wait)
        show = _shown
    else:
        client = _client(server)
        deliveries = redis_stream(
            client,
            key,
            group=args.group,
            consumer=args.consumer or socket.gethostname(),
            claim_idle=args.claim_idle,
        )
        show = _same
    if args.max_messages is not None:
        deliveries = deliveries.take(args.max_messages)
    out = sys.stdout
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, tg.cancel_scope)
            async with deliveries:
                async for delivery in deliveries:
                    line = {
                        "id": delivery.id,
                        "attempt": delivery.attempt,
                        "value": show(delivery.value),
                    }
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    out.flush()
                    await delivery.ack()
            tg.cancel_scope.cancel()
    finally:
        if close_nats is not None:
            await close_nats()
        if client is not None:
            await (getattr(client, "aclose", None) or client.close)()


def _same(value: Any) -> Any:
    return value


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


def run_produce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    server, key = _target(args.url, parser)
    anyio.run(_produce_nats if _is_nats(server) else _produce, server, key)


async def _lines() -> AsyncGenerator[tuple[int, str], None]:
    """stdin's non-blank lines (read in a thread), numbered, each checked to be JSON."""
    number = 0
    while line := await anyio.to_thread.run_sync(sys.stdin.readline):
        number += 1
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} is not JSON: {exc}") from None
        yield number, line.strip()


async def _messages() -> AsyncGenerator[dict[str, str], None]:
    """stdin's lines as field -> text mappings; ValueError names a bad one."""
    async for number, line in _lines():
        value = json.loads(line)
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
    _written(written)


async def _produce_nats(server: str, subject: str) -> None:
    from ..brokers import jetstream_sink

    nc, close = await _nats(server)
    try:
        payloads = (line async for _, line in _lines())
        written = await jetstream_sink(payloads, nc.jetstream(), subject)
    finally:
        await close()
    _written(written)


def _written(count: int) -> None:
    print(f"sluiceway: {count:,} message{'' if count == 1 else 's'} written", file=sys.stderr)
