"""The `sluiceway` command: thin argument parsing around the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

import anyio

from . import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

# Exit codes: 0 ok, 1 a failure while streaming, 2 bad usage (argparse),
# 130 interrupted (Ctrl-C), 141 stdout closed early (like a process killed by SIGPIPE).
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sluiceway",
        description="Streaming I/O with async iterators, from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="run real pipelines and show what they do")
    demo.add_argument(
        "--backend",
        choices=["asyncio", "uvloop", "trio"],
        default="asyncio",
        help="event loop to run on (default: asyncio)",
    )
    sse = commands.add_parser(
        "sse",
        help="print the events of a Server-Sent Events stream as JSON lines",
        description=(
            "Print each event of URL as one JSON object per line on stdout; reconnect "
            "notices go to stderr. GET streams reconnect after a clean end, as a browser "
            "does; with --data the request is a POST that ends with its body."
        ),
    )
    sse.add_argument("url", metavar="URL")
    sse.add_argument(
        "-H",
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    sse.add_argument("--data", metavar="JSON", help="send this JSON body with a POST")
    sse.add_argument("--last-event-id", metavar="ID", help="resume after this event id")
    sse.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    sse.add_argument(
        "--max-reconnects", type=int, metavar="N", help="give up after N reconnects in a row"
    )
    sse.add_argument(
        "--idle-timeout", type=float, metavar="SECONDS", help="reconnect after this much silence"
    )
    sse.add_argument(
        "--no-reconnect", action="store_true", help="end at the end of the body, even for GET"
    )
    return parser


def _headers(values: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon or not name.strip():
            parser.error(f"bad header {value!r}: expected 'Name: value'")
        headers[name.strip()] = rest.strip()
    return headers


async def _sse(args: argparse.Namespace, headers: dict[str, str], body: object) -> None:
    from .sse import Reconnect, connect

    def notice(reconnect: Reconnect) -> None:
        why = "the body ended" if reconnect.error is None else f"{reconnect.error!r}"
        print(
            f"sluiceway: reconnecting in {reconnect.delay:.2f} s (attempt {reconnect.attempt}, "
            f"after {why}; Last-Event-ID {reconnect.last_event_id!r})",
            file=sys.stderr,
            flush=True,
        )

    stream = connect(
        args.url,
        method="POST" if body is not None else "GET",
        headers=headers,
        json=body,
        last_event_id=args.last_event_id,
        reconnect=False if args.no_reconnect else None,
        max_reconnects=args.max_reconnects,
        idle_timeout=args.idle_timeout,
        on_reconnect=notice,
    )
    events = stream if args.max_events is None else stream.take(args.max_events)
    async with events:
        async for event in events:
            line = {"event": event.event, "data": event.data, "id": event.id, "retry": event.retry}
            print(json.dumps(line, ensure_ascii=False), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sse":
            headers = _headers(args.header, parser)
            body = None
            if args.data is not None:
                try:
                    body = json.loads(args.data)
                except ValueError as exc:
                    parser.error(f"--data is not JSON: {exc}")
            if args.max_events is not None and args.max_events < 0:
                parser.error("--max-events must be >= 0")
            anyio.run(_sse, args, headers, body)
        elif args.command == "demo":
            from . import _demo

            backend, options = args.backend, {}
            if backend == "uvloop":
                backend, options = "asyncio", {"use_uvloop": True}
            anyio.run(_demo.run, sys.stdout, backend=backend, backend_options=options)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`sluiceway ... | head`): stop quietly, and keep
        # Python from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if os.environ.get("SLUICEWAY_DEBUG"):
            raise
        print(f"sluiceway: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(main())
