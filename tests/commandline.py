"""Running the `sluiceway` command as a user would: a subprocess of this Python."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


def sluiceway(
    *args: str, cwd: Path | None = None, timeout: float = 60, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``sluiceway ARGS...`` to its end (``stdin`` as its input); exit code, stdout, stderr."""
    return subprocess.run(
        [sys.executable, "-m", "sluiceway.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        input=stdin,
    )


def json_lines(text: str) -> list[Any]:
    """Each line of ``text`` parsed as JSON."""
    return [json.loads(line) for line in text.splitlines()]
