"""The `sluiceway` command: thin argument parsing around the library."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from . import __version__
from ._cli import changes, consume, demo, pages, rows, sse

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]

# Exit codes: 0 ok, 1 a failure while streaming, 2 bad usage (argparse),
# 130 interrupted (Ctrl-C), 141 stdout closed early (like a process killed by SIGPIPE).
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

# The subcommands, in the order `--help` lists them.
COMMANDS = (demo, sse, pages, rows, changes, consume)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sluiceway",
        description="Streaming I/O with async iterators, from the shell.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.run(args, parser)
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
