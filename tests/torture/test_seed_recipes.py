"""Each failure mode of the seed's recipes is a check; sluiceway's counterparts pass every
check on every backend, and the recipes fail every one of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .seed_recipes import CHECKS, COUNTERPARTS, Factory

CASES = [(recipe, check) for recipe, checks in CHECKS.items() for check in checks]
IDS = [f"{recipe}-{check.__name__}" for recipe, check in CASES]


@pytest.mark.parametrize(("recipe", "check"), CASES, ids=IDS)
async def test_counterpart_passes(recipe: str, check: object) -> None:
    """sluiceway's counterpart of the recipe passes the check of that failure mode."""
    make: Factory = COUNTERPARTS[recipe]
    await check(make)  # type: ignore[operator]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_every_recipe_fails_its_checks() -> None:
    """Run against the recipes themselves, every check fails: it tests the real failure."""
    script = Path(__file__).with_name("seed_recipes.py")
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=script.parent,
    )
    outcomes = json.loads(out.stdout)
    assert sorted(outcomes) == sorted(f"{r}.{c.__name__}" for r, c in CASES)
    passed = [name for name, outcome in outcomes.items() if not outcome.startswith("failed")]
    assert passed == []
