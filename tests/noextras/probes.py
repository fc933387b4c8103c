"""What a user without any extra sees: run as a script, prints one JSON object of outcomes.

``make test-noextras`` runs it in a virtualenv where sluiceway is installed
without extras. In the ordinary test run the extras are installed, so
``--hide`` first makes their packages impossible to import, as if they were
not there. Each probe runs in this one process, in order; the first,
``import``, before anything else of sluiceway is loaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

#: The modules of each package the extras install, by its name in pyproject.toml.
PACKAGES: dict[str, list[str]] = {
    "httpx": ["httpx"],
    "aiohttp": ["aiohttp", "yarl", "multidict"],
    "asyncpg": ["asyncpg"],
    "psycopg": ["psycopg"],
    "aiosqlite": ["aiosqlite"],
    "pymongo": ["pymongo", "bson", "gridfs"],
    "redis": ["redis"],
    "nats-py": ["nats"],
    "trio": ["trio"],
}
HIDDEN = {module for modules in PACKAGES.values() for module in modules}


class HideExtras:
    """A finder that makes the extras' modules fail to import, as when they are not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def outcome(probe: Callable[[], Any]) -> dict[str, Any]:
    """{"value": what it returned} or {"error": type, "message": ..., "from_none": ...}."""
    try:
        return {"value": probe()}
    except Exception as exc:
        return {
            "error": type(exc).__name__,
            "message": str(exc),
            # No driver traceback: raised from None, or outside any handler.
            "from_none": exc.__cause__ is None
            and (exc.__suppress_context__ or exc.__context__ is None),
        }


def imports() -> list[str]:
    """Import sluiceway and every subpackage that needs no extra; the other packages loaded."""
    import anyio

    before = set(sys.modules)
    import sluiceway
    import sluiceway.brokers
    import sluiceway.cli
    import sluiceway.db
    import sluiceway.errors
    import sluiceway.ops
    import sluiceway.sse

    del anyio, sluiceway
    loaded = {name.partition(".")[0] for name in set(sys.modules) - before}
    return sorted(loaded - set(sys.stdlib_module_names) - {"sluiceway"})


def pipeline() -> list[int]:
    import anyio

    import sluiceway as sw

    async def main() -> list[int]:
        stream = sw.stream(range(10)).map(lambda x: x * x, concurrency=2).filter(lambda x: x % 2)
        async with stream:
            return await stream.to_list()

    result: list[int] = anyio.run(main)
    return result


def decoder() -> list[str]:
    from sluiceway.sse import Decoder

    return [event.data for event in Decoder().feed(b"data: one\n\ndata: two\n\n")]


def import_http() -> list[str]:
    """sluiceway.http imports without a client; the other packages it loaded."""
    before = set(sys.modules)
    import sluiceway.http  # noqa: F401

    loaded = {name.partition(".")[0] for name in set(sys.modules) - before}
    return sorted(loaded - set(sys.stdlib_module_names) - {"sluiceway"})


def paginate_on(backend: str) -> Callable[[], Any]:
    """A probe paging with the client paginate() makes itself, on ``backend``."""

    def run() -> Any:
        import anyio

        from sluiceway.http import LinkHeader, paginate

        async def main() -> Any:
            return await paginate(None, "http://127.0.0.1:9/x", strategy=LinkHeader()).to_list()

        return anyio.run(main, backend=backend)

    return run


def connect_on(backend: str) -> Callable[[], Any]:
    """A probe reading an event stream with the client connect() makes itself, on ``backend``."""

    def run() -> Any:
        import anyio

        from sluiceway.sse import connect

        async def main() -> Any:
            return await connect("http://127.0.0.1:9/x", max_reconnects=0).to_list()

        return anyio.run(main, backend=backend)

    return run


def postgres_changes() -> None:
    from sluiceway.db import postgres_changes  # noqa: F401


def mongo_changes() -> None:
    from sluiceway.db import mongo_changes  # noqa: F401


def rows_on_sqlite3() -> None:
    """rows() on the standard library's (sync) sqlite3: what to use instead."""
    from sluiceway.db import rows

    conn = sqlite3.connect(":memory:")
    try:
        rows(conn, "SELECT 1")
    finally:
        conn.close()


def command(*argv: str) -> Callable[[], dict[str, Any]]:
    """A probe running ``sluiceway ARGV...`` in this process: exit code, stdout, stderr."""

    def run() -> dict[str, Any]:
        from sluiceway.cli import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: Any = main(list(argv))
            except SystemExit as exc:
                code = exc.code
        return {"exit": code, "stdout": out.getvalue(), "stderr": err.getvalue()}

    return run


def demo_parts() -> list[str]:
    """The demo's parts that need an extra, each on asyncio: what they print."""
    import anyio

    from sluiceway._demo import _pages, _rows, _sse, _workers

    said = []
    for part in (_sse.part, _pages.part, _rows.part, _workers.part):
        out = io.StringIO()
        anyio.run(part, out)
        said.append(out.getvalue().strip())
    return said


def main() -> None:
    if "--hide" in sys.argv[1:]:
        sys.meta_path.insert(0, HideExtras())
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "x.db"
        sqlite3.connect(database).close()
        probes: dict[str, Callable[[], Any]] = {
            "import": imports,  # first: nothing of sluiceway loaded yet
            "pipeline": pipeline,
            "decoder": decoder,
            "import sluiceway.http": import_http,
            "sse.connect": connect_on("asyncio"),
            "http.paginate": paginate_on("asyncio"),
            "db.postgres_changes": postgres_changes,
            "db.mongo_changes": mongo_changes,
            "db.rows on sqlite3": rows_on_sqlite3,
            "cli demo trio": command("demo", "--backend", "trio"),
            "cli --help": command("--help"),
            "cli sse": command("sse", "http://127.0.0.1:9/events"),
            "cli pages": command("pages", "http://127.0.0.1:9/items", "--link-header"),
            "cli rows sqlite": command("rows", f"sqlite:///{database}", "SELECT 1"),
            "cli rows postgresql": command("rows", "postgresql://127.0.0.1:9/x", "SELECT 1"),
            "cli changes": command("changes", "postgresql://127.0.0.1:9/x", "--slot", "s"),
            "cli consume": command("consume", "redis://127.0.0.1:9/s", "--group", "g"),
            "cli consume nats": command("consume", "nats://127.0.0.1:9/s", "--durable", "d"),
            "cli produce nats": command("produce", "nats://127.0.0.1:9/s"),
            "demo parts": demo_parts,
        }
        outcomes = {name: outcome(probe) for name, probe in probes.items()}
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
