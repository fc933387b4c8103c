"""Demo part 9 runs on SQLite and says what it measured."""

from __future__ import annotations

import io
import re

from sluiceway._demo import PARTS, _rows


async def test_database_part() -> None:
    """The part is in the demo, streams the table and shows the read lock released."""
    assert _rows.part in PARTS
    out = io.StringIO()
    await _rows.part(out)
    text = out.getvalue()
    assert "9. A database: 200,000 rows of SQLite" in text
    rates = [float(m.replace(",", "")) for m in re.findall(r"([\d,]+) rows/s", text)]
    assert len(rates) == 3
    assert all(rate > 0 for rate in rates)
    assert f"sum {sum(i % 100 for i in range(1, _rows.ROWS + 1)):,}" in text
    assert "break after [(1, 1), (2, 2), (3, 3)]" in text
    assert "another connection could not write; right after the break it could" in text
