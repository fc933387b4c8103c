"""`sluiceway changes DSN --slot NAME`: a PostgreSQL change stream as JSON lines.

Each change is acknowledged only after its line is written to stdout and
flushed; the slot advances on the server at transaction ends. A process
killed at any point, restarted with the same slot, prints every change after
the last acknowledged transaction again and none before it.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    import argparse
    from typing import Any

    from ..db import Change


def register(commands: Any) -> None:
    changes: argparse.ArgumentParser = commands.add_parser(
        "changes",
        help="print a PostgreSQL database's row changes as JSON lines (durable, resumable)",
        description=(
            "Print each row change committed in the database as one JSON object per line, "
            "read from the logical replication slot NAME (wal2json; the server needs "
            "wal_level = logical). A change is acknowledged once its line is flushed; a "
            "restart with the same slot resumes after the last acknowledged transaction. "
            "Without --from-start the slot must exist: a missing slot is an error, since "
            "the changes since it was dropped are lost. Drop a slot you no longer read "
            "(SELECT pg_drop_replication_slot('NAME')): it keeps the server's WAL."
        ),
    )
    changes.add_argument("dsn", metavar="DSN", help="postgresql://user@host:port/database")
    changes.add_argument("--slot", required=True, metavar="NAME", help="the replication slot")
    changes.add_argument(
        "--tables", metavar="A,B", help="only these tables (schema.table, or a bare name)"
    )
    changes.add_argument(
        "--from-start",
        action="store_true",
        help=(
            "create the slot if it does not exist, starting its history at the current "
            "position (an existing slot resumes where it was acknowledged, as without it)"
        ),
    )
    changes.add_argument(
        "--max-changes", type=int, metavar="N", help="stop after N changes (all acknowledged)"
    )
    changes.add_argument(
        "--poll-interval",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="seconds between reads while idle (a NOTIFY on sluiceway_changes wakes it sooner)",
    )
    changes.add_argument(
        "--ack-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=(
            "advance the slot at most this often (default 0: after every transaction; a "
            "crash may then repeat up to this much)"
        ),
    )
    changes.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.max_changes is not None and args.max_changes < 0:
        parser.error("--max-changes must be >= 0")
    if not args.poll_interval > 0:
        parser.error("--poll-interval must be > 0")
    if not args.ack_interval >= 0:
        parser.error("--ack-interval must be >= 0")
    tables = None
    if args.tables is not None:
        tables = [name for name in args.tables.split(",") if name.strip()]
        if not tables:
            parser.error("--tables names no table")
    try:
        from ..db import postgres_changes
    except ImportError as exc:
        parser.error(str(exc))
    try:
        stream = postgres_changes(
            args.dsn,
            slot=args.slot,
            tables=tables,
            create_slot=args.from_start,
            auto_ack=False,  # acknowledged below, once the line is out
            ack_interval=args.ack_interval,
            poll_interval=args.poll_interval,
        )
    except ValueError as exc:
        parser.error(str(exc))
    from ..errors import HistoryLost

    try:
        anyio.run(_print, stream, args.max_changes, backend="asyncio")
    except HistoryLost as exc:
        if args.from_start or "does not exist" not in str(exc):
            raise
        raise HistoryLost(
            f"{exc.source} does not exist (changes since it was dropped, if it ever existed, "
            "are lost); run with --from-start to create it at the current position",
            source=exc.source,
        ) from None


def as_json(change: Change) -> dict[str, object]:
    """The JSON object printed for a change."""
    return {
        "table": change.table,
        "operation": change.operation,
        "new": change.new,
        "old": change.old,
        "xid": change.xid,
        "lsn": change.lsn,
        "commit_lsn": change.commit_lsn,
        "commit_time": None if change.commit_time is None else change.commit_time.isoformat(),
        "checkpoint": change.checkpoint,
    }


async def _print(stream: Any, limit: int | None) -> None:
    if limit == 0:
        return
    out = sys.stdout
    count = 0
    async with stream:
        async for change in stream:
            out.write(json.dumps(as_json(change), ensure_ascii=False, default=str) + "\n")
            out.flush()
            stream.ack(change)  # written and flushed: processed
            count += 1
            if count == limit:
                break
