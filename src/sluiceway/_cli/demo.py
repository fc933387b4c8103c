"""`sluiceway demo`: real pipelines, end to end."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(commands: Any) -> None:
    demo: argparse.ArgumentParser = commands.add_parser(
        "demo", help="run real pipelines and show what they do"
    )
    demo.add_argument(
        "--backend",
        choices=["asyncio", "uvloop", "trio"],
        default="asyncio",
        help="event loop to run on (default: asyncio)",
    )
    demo.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from .. import _demo

    backend, options = args.backend, {}
    # The event loops beyond asyncio come with extras: name them, as for the sources.
    needs = {"trio": "pip install 'sluiceway[trio]'", "uvloop": "pip install uvloop"}
    if backend in needs:
        try:
            importlib.import_module(backend)
        except ImportError:
            raise ImportError(f"the {backend} backend needs {backend}: {needs[backend]}") from None
    if backend == "uvloop":
        backend, options = "asyncio", {"use_uvloop": True}
    anyio.run(_demo.run, sys.stdout, backend=backend, backend_options=options)
