"""`sluiceway rows DSN QUERY`: a query's rows as JSON lines or CSV.

Values that JSON has no type for are written as text: NaN and infinities as
"nan", "inf" and "-inf" (so every line is strict JSON), dates and times in
ISO 8601, decimals as their exact digits (a string, so no precision is
lost), UUIDs and IP addresses in their usual form, bytes in base64,
intervals as seconds; anything else as ``str(value)``. CSV writes the same
text, with NULL as an empty field.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import importlib
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import anyio

if TYPE_CHECKING:
    import argparse


def register(commands: Any) -> None:
    rows: argparse.ArgumentParser = commands.add_parser(
        "rows",
        help="print the rows of a SQL query as JSON lines or CSV",
        description=(
            "Run QUERY and print its rows on stdout, streamed from a server-side cursor: "
            "one JSON object per row keyed by column name (default), or CSV with a header. "
            "DSN is sqlite:///relative/path.db, sqlite:////absolute/path.db (opened "
            "read-only, never created) or postgresql://user@host:port/dbname (asyncpg)."
        ),
    )
    rows.add_argument("dsn", metavar="DSN")
    rows.add_argument("query", metavar="QUERY")
    rows.add_argument(
        "--format", choices=("jsonl", "csv"), default="jsonl", help="output format (default jsonl)"
    )
    rows.add_argument(
        "--batch-size", type=int, default=1000, metavar="N", help="rows per fetch (default 1000)"
    )
    rows.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    dsn: str = args.dsn
    scheme = urlsplit(dsn).scheme.lower()
    if scheme == "sqlite":
        path = sqlite_path(args.dsn, parser)
        if not path.is_file():
            raise FileNotFoundError(f"no SQLite database at {str(path)!r} (it is never created)")
        # Read-only: a query cannot change the file, and a wrong path is not created.
        anyio.run(_sqlite, f"file:{quote(str(path.resolve()))}?mode=ro", args)
    elif scheme in ("postgresql", "postgres"):
        anyio.run(_postgres, args)
    else:
        parser.error(
            f"unsupported DSN {args.dsn!r}: expected sqlite:///path.db or postgresql://..."
        )


def sqlite_path(dsn: str, parser: argparse.ArgumentParser) -> Path:
    """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` DSN."""
    parts = urlsplit(dsn)
    if parts.netloc or parts.query or not parts.path.startswith("/") or parts.path == "/":
        parser.error(
            f"bad SQLite DSN {dsn!r}: expected sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db"
        )
    return Path(unquote(parts.path[1:]))


async def _sqlite(uri: str, args: argparse.Namespace) -> None:
    try:
        import aiosqlite
    except ImportError:
        raise ImportError("sqlite DSNs need aiosqlite: pip install 'sluiceway[sqlite]'") from None
    async with aiosqlite.connect(uri, uri=True) as conn:
        await _print(conn, args)


async def _postgres(args: argparse.Namespace) -> None:
    try:
        # Imported by name: asyncpg ships no type information.
        asyncpg = importlib.import_module("asyncpg")
    except ImportError:
        raise ImportError(
            "postgresql DSNs need asyncpg: pip install 'sluiceway[postgres]'"
        ) from None
    try:
        conn = await asyncpg.connect(args.dsn)
    except ValueError as exc:  # asyncpg's DSN parsing (the DSN may hold a password: not echoed)
        raise ValueError(f"bad PostgreSQL DSN: {exc}") from None
    try:
        await _print(conn, args)
    finally:
        await conn.close()


async def _print(conn: Any, args: argparse.Namespace) -> None:
    from ..db import rows

    out = sys.stdout
    stream = rows(conn, args.query, batch_size=args.batch_size)
    if args.format == "jsonl":
        async with stream.batches() as batches:
            async for batch in batches:
                keys = stream.columns or ()
                out.write("".join(json_line(keys, row) for row in batch))
                out.flush()
        return
    writer = csv.writer(out, lineterminator="\n")
    header = False
    async with stream.batches() as batches:
        async for batch in batches:
            if not header:
                writer.writerow(stream.columns or ())
                header = True
            writer.writerows([csv_value(v) for v in row] for row in batch)
            out.flush()
    if not header:
        columns = stream.columns
        if columns is None and hasattr(conn, "prepare"):  # asyncpg: no row told them
            statement = await conn.prepare(args.query)
            columns = tuple(a.name for a in statement.get_attributes())
        writer.writerow(columns or ())


def json_line(keys: tuple[str, ...], row: Any) -> str:
    """One row as a line of strict JSON (NaN and infinities, which JSON lacks, as strings)."""
    record = dict(zip(keys, row, strict=True))
    try:
        return json.dumps(record, default=json_value, allow_nan=False) + "\n"
    except ValueError:
        finite = {
            k: str(v) if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in record.items()
        }
        return json.dumps(finite, default=json_value) + "\n"


def json_value(value: Any) -> Any:
    """A JSON-ready stand-in for a value JSON has no type for (``json.dumps(default=)``)."""
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    if callable(getattr(value, "items", None)):  # asyncpg.Record of a composite type, mappings
        return dict(value.items())
    return str(value)  # UUID, IP addresses, ranges, ...


def csv_value(value: object) -> object:
    """The CSV field for ``value``: NULL empty, the rest as text (json_value's forms)."""
    if value is None or isinstance(value, str | int | float):
        return "" if value is None else value
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=json_value)
    return json_value(value)
