"""`sluiceway rows` from a shell: SQLite files and the real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from db_support import expected, make_sqlite_file

from commandline import sluiceway

if TYPE_CHECKING:
    from pathlib import Path


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (and nothing on stdout)."""
    assert out.returncode != 0
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = make_sqlite_file(tmp_path / "numbers.db", n=2500)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE kinds (i INTEGER, r REAL, t TEXT, b BLOB, n TEXT)")
        conn.execute("INSERT INTO kinds VALUES (1, 0.5, 'caf\u00e9, \"quoted\"', x'00ff', NULL)")
    conn.close()
    return path


class TestSqlite:
    def test_jsonl(self, sqlite_file: Path) -> None:
        """One JSON object per row, keyed by column name, every row in order."""
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", "SELECT n, s FROM numbers ORDER BY n")
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert lines == [{"n": n, "s": s} for n, s in expected(2500)]

    def test_csv(self, sqlite_file: Path) -> None:
        """CSV with a header row; small batches change nothing."""
        out = sluiceway(
            "rows",
            f"sqlite:///{sqlite_file}",
            "SELECT n, s FROM numbers WHERE n <= 7 ORDER BY n",
            "--format",
            "csv",
            "--batch-size",
            "3",
        )
        assert out.returncode == 0, out.stderr
        assert list(csv.reader(io.StringIO(out.stdout))) == [
            ["n", "s"],
            *([str(n), s] for n, s in expected(7)),
        ]

    def test_values_json_has_no_type_for(self, sqlite_file: Path) -> None:
        """Blobs are base64, NULL is null (JSON) or empty (CSV), text is quoted properly."""
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", "SELECT * FROM kinds")
        assert json.loads(out.stdout) == {
            "i": 1,
            "r": 0.5,
            "t": 'caf\u00e9, "quoted"',
            "b": "AP8=",
            "n": None,
        }
        out = sluiceway(
            "rows", f"sqlite:///{sqlite_file}", "SELECT * FROM kinds", "--format", "csv"
        )
        assert list(csv.reader(io.StringIO(out.stdout))) == [
            ["i", "r", "t", "b", "n"],
            ["1", "0.5", 'caf\u00e9, "quoted"', "AP8=", ""],
        ]

    def test_empty_result_csv_has_the_header(self, sqlite_file: Path) -> None:
        """No rows: CSV still names the columns, JSON lines print nothing."""
        query = "SELECT n, s FROM numbers WHERE n < 0"
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", query, "--format", "csv")
        assert (out.returncode, out.stdout) == (0, "n,s\n")
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", query)
        assert (out.returncode, out.stdout) == (0, "")

    def test_relative_path(self, sqlite_file: Path) -> None:
        """sqlite:///name.db is relative to the working directory."""
        out = sluiceway(
            "rows",
            f"sqlite:///{sqlite_file.name}",
            "SELECT count(*) AS c FROM numbers",
            cwd=sqlite_file.parent,
        )
        assert out.stdout == '{"c": 2500}\n'

    def test_missing_file_is_not_created(self, tmp_path: Path) -> None:
        """A missing file is a one-line error, and no file appears."""
        missing = tmp_path / "missing.db"
        line = one_line_error(sluiceway("rows", f"sqlite:///{missing}", "SELECT 1"))
        assert "no SQLite database" in line
        assert str(missing) in line
        assert not missing.exists()

    def test_read_only(self, sqlite_file: Path) -> None:
        """The file is opened read-only: a writing statement fails and changes nothing."""
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", "DELETE FROM numbers RETURNING n")
        assert "readonly" in one_line_error(out)
        with sqlite3.connect(sqlite_file) as conn:
            assert conn.execute("SELECT count(*) FROM numbers").fetchone() == (2500,)
        conn.close()

    def test_bad_sql(self, sqlite_file: Path) -> None:
        """Bad SQL: the driver's message on one line, exit 1."""
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", "SELEC 1")
        assert out.returncode == 1
        assert 'near "SELEC": syntax error' in one_line_error(out)

    def test_head_stops_quietly(self, sqlite_file: Path) -> None:
        """`| head -n 2`: two lines, nothing on stderr."""
        cmd = (
            f"{sys.executable} -m sluiceway.cli rows sqlite:///{sqlite_file} "
            "'SELECT n FROM numbers ORDER BY n' --batch-size 10 | head -n 2"
        )
        out = subprocess.run(
            ["bash", "-o", "pipefail", "-c", cmd],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.stdout == '{"n": 1}\n{"n": 2}\n'
        assert out.stderr == ""


class TestDsn:
    @pytest.mark.parametrize(
        "dsn",
        [
            "mysql://localhost/db",
            "nonsense",
            "sqlite://host/x.db",
            "sqlite:///",
            "sqlite:///x.db?a=b",
        ],
    )
    def test_bad_dsn(self, dsn: str) -> None:
        """An unsupported or malformed DSN is a usage error (exit 2) that says what is expected."""
        out = sluiceway("rows", dsn, "SELECT 1")
        assert out.returncode == 2
        assert "sqlite:///" in out.stderr.strip().splitlines()[-1]

    def test_malformed_postgres_dsn(self) -> None:
        """A PostgreSQL DSN asyncpg cannot parse: one line, exit 1, without echoing the DSN."""
        line = one_line_error(sluiceway("rows", "postgresql://u:secret@127.0.0.1:x/db", "SELECT 1"))
        assert line.startswith("sluiceway: error: ValueError: bad PostgreSQL DSN")
        assert "secret" not in line

    def test_bad_batch_size(self, sqlite_file: Path) -> None:
        """--batch-size 0 is a usage error."""
        out = sluiceway("rows", f"sqlite:///{sqlite_file}", "SELECT 1", "--batch-size", "0")
        assert out.returncode == 2
        assert "--batch-size" in out.stderr


class TestPostgres:
    def test_jsonl_with_postgres_types(self, pg_dsn: str) -> None:
        """Timestamps, numerics, UUIDs, bytea, intervals, arrays and NULL as documented."""
        query = (
            "SELECT g, timestamptz '2024-05-06 07:08:09+00' AS ts, date '2024-01-02' AS d, "
            "1.10::numeric / 3 AS num, '6f1c7f1e-9b7d-4c53-9a37-8b2d3f7f0a11'::uuid AS u, "
            "'\\x01ff'::bytea AS b, interval '1 day 2 seconds' AS i, ARRAY[g, g * 2] AS a, "
            "NULL::text AS n, '{\"k\": [1]}'::jsonb AS j FROM generate_series(1, 2) g"
        )
        out = sluiceway("rows", pg_dsn, query)
        assert out.returncode == 0, out.stderr
        first = json.loads(out.stdout.splitlines()[0])
        assert first == {
            "g": 1,
            "ts": "2024-05-06T07:08:09+00:00",
            "d": "2024-01-02",
            "num": "0.36666666666666666667",
            "u": "6f1c7f1e-9b7d-4c53-9a37-8b2d3f7f0a11",
            "b": "Af8=",
            "i": 86402.0,
            "a": [1, 2],
            "n": None,
            "j": '{"k": [1]}',
        }
        assert len(out.stdout.splitlines()) == 2

    def test_nan_is_strict_json(self, pg_dsn: str) -> None:
        """NaN and infinities (not JSON) are written as strings, so every line parses."""
        query = "SELECT 'NaN'::float8 AS a, '-Infinity'::float8 AS b, 1.5::float8 AS c"
        out = sluiceway("rows", pg_dsn, query)
        assert json.loads(out.stdout, parse_constant=lambda c: pytest.fail(c)) == {
            "a": "nan",
            "b": "-inf",
            "c": 1.5,
        }

    def test_many_rows_csv(self, pg_dsn: str) -> None:
        """A result of many batches, as CSV."""
        out = sluiceway(
            "rows",
            pg_dsn,
            "SELECT g AS n, 'r' || g AS s FROM generate_series(1, 2500) g",
            "--format",
            "csv",
        )
        assert out.returncode == 0, out.stderr
        rows = list(csv.reader(io.StringIO(out.stdout)))
        assert rows == [["n", "s"], *([str(n), s] for n, s in expected(2500))]

    def test_empty_result_csv_has_the_header(self, pg_dsn: str) -> None:
        """No rows from PostgreSQL: the header still comes (from the statement's description)."""
        out = sluiceway("rows", pg_dsn, "SELECT 1 AS a, 2 AS b WHERE false", "--format", "csv")
        assert (out.returncode, out.stdout) == (0, "a,b\n")

    def test_bad_sql(self, pg_dsn: str) -> None:
        """Bad SQL: the server's message on one line, exit 1."""
        out = sluiceway("rows", pg_dsn, "SELEC 1")
        assert out.returncode == 1
        assert 'syntax error at or near "SELEC"' in one_line_error(out)

    def test_unknown_database(self, pg_dsn: str) -> None:
        """A database that does not exist: one line naming it."""
        dsn = pg_dsn.rsplit("/", 1)[0] + "/sluiceway_no_such_db"
        assert 'database "sluiceway_no_such_db" does not exist' in one_line_error(
            sluiceway("rows", dsn, "SELECT 1")
        )

    def test_nothing_listening(self) -> None:
        """No server on that port: one line, exit 1 (no database server needed for this)."""
        out = sluiceway("rows", "postgresql://127.0.0.1:9/test", "SELECT 1")
        assert out.returncode == 1
        assert "Connect" in one_line_error(out) or "refused" in one_line_error(out)
