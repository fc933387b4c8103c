"""sluiceway.db's public names, and importing it without any driver installed."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import sluiceway.db


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted (ruff's order), lists every public name of sluiceway.db,
    and each one resolves
    (the change streams' names load their module on first use)."""
    # Sorted as ruff's RUF022 keeps it: constants, then classes, then functions.
    kinds = sorted(sluiceway.db.__all__, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    assert sluiceway.db.__all__ == kinds
    defined = {
        name
        for name, value in vars(sluiceway.db).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"TYPE_CHECKING", "Any"}
    }
    assert defined <= set(sluiceway.db.__all__)
    for name in sluiceway.db.__all__:
        assert getattr(sluiceway.db, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = sluiceway.db.nope  # type: ignore[attr-defined]


def test_import_without_drivers() -> None:
    """With aiosqlite, asyncpg and psycopg made unimportable, sluiceway.db still imports
    and loads none of them; rows() then says what it accepts."""
    code = """
import sys
blocked = {"aiosqlite", "asyncpg", "psycopg", "psycopg_pool"}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is blocked")
        return None
sys.meta_path.insert(0, Block())
import sluiceway.db
loaded = sorted(blocked & {m.split(".")[0] for m in sys.modules})
try:
    sluiceway.db.rows(object(), "SELECT 1")
except TypeError as exc:
    print(loaded, "TypeError" if "aiosqlite.Connection" in str(exc) else exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] TypeError"
