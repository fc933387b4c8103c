"""Demo part 9 runs on SQLite and says what it measured."""

from __future__ import annotations

import io
import re

import pytest

from sluiceway._demo import PARTS, _rows


async def test_database_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """The part is in the demo, streams the table and shows the read lock released.

    On a tenth of the demo's table: the same code, with a tenth of its time.
    """
    monkeypatch.setattr(_rows, "ROWS", _rows.ROWS // 10)
    monkeypatch.setattr(_rows, "ONE_BY_ONE", _rows.ONE_BY_ONE // 10)
    assert _rows.part in PARTS
    out = io.StringIO()
    await _rows.part(out)
    text = out.getvalue()
    assert f"9. A database: {_rows.ROWS:,} rows of SQLite" in text
    rates = [float(m.replace(",", "")) for m in re.findall(r"([\d,]+) rows/s", text)]
    assert len(rates) == 3
    assert all(rate > 0 for rate in rates)
    assert f"sum {sum(i % 100 for i in range(1, _rows.ROWS + 1)):,}" in text
    assert "break after [(1, 1), (2, 2), (3, 3)]" in text
    assert "another connection could not write; right after the break it could" in text
