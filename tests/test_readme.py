"""The README's examples run and print what they say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_examples() -> None:
    """The README shows runnable Python examples."""
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs(code: str) -> None:
    """Each example runs to completion without an error or a warning."""
    out = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()
    for line in code.splitlines():
        # `print(x)  # value` states what that line prints.
        match = re.match(r"\s*print\(.*\)\s+# (\[.*\]|\(.*\)|\d+)$", line)
        if match:
            assert match.group(1) in out.stdout.splitlines()
