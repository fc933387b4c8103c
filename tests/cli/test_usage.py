"""The `sluiceway` command in-process: bad usage, missing extras, exit codes, --backend.

The commands' end-to-end tests run the console script in a subprocess, beside
their sources (tests/sse, tests/http, tests/db, tests/db_changes); these call
``sluiceway.cli.main`` directly, for the branches a subprocess is too slow
to walk one by one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from sluiceway._cli import pages, rows
from sluiceway.cli import EXIT_FAILURE, main

URL = "http://127.0.0.1:9/items"
DSN = "postgresql://user@127.0.0.1:9/db"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sse", URL, "--max-events", "-1"], "--max-events must be >= 0"),
        (["pages", URL, "--link-header", "--max-pages", "-1"], "--max-pages must be >= 0"),
        (["pages", URL, "--link-header", "--limit", "0"], "--limit must be >= 1"),
        (["pages", URL, "--link-header", "--concurrency", "0"], "--concurrency must be >= 1"),
        (["pages", URL, "--link-header", "--rate", "0"], "--rate must be > 0"),
        (["changes", DSN, "--slot", "s", "--max-changes", "-1"], "--max-changes must be >= 0"),
        (["changes", DSN, "--slot", "s", "--poll-interval", "0"], "--poll-interval must be > 0"),
        (["changes", DSN, "--slot", "s", "--ack-interval", "-1"], "--ack-interval must be >= 0"),
        (["changes", DSN, "--slot", "s", "--tables", " , "], "--tables names no table"),
        (["rows", DSN, "select 1", "--batch-size", "0"], "--batch-size must be >= 1"),
    ],
)
def test_bad_usage_exits_2_and_says_why(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value out of range is a usage error: exit code 2, the reason on stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


@pytest.mark.parametrize(
    ("module", "argv", "message"),
    [
        ("aiosqlite", ["rows", "sqlite:///{db}", "select 1"], "pip install 'sluiceway[sqlite]'"),
        ("asyncpg", ["rows", DSN, "select 1"], "pip install 'sluiceway[postgres]'"),
    ],
)
def test_a_missing_extra_names_what_to_install(
    module: str,
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the driver a DSN needs, exit code 1 and the pip install line on stderr."""
    db = tmp_path / "some.db"
    db.touch()
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    monkeypatch.delenv("SLUICEWAY_DEBUG", raising=False)
    assert main([arg.format(db=db) for arg in argv]) == EXIT_FAILURE
    assert message in capsys.readouterr().err


def test_sluiceway_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """With SLUICEWAY_DEBUG set, a failure propagates instead of becoming exit code 1."""
    monkeypatch.setitem(sys.modules, "asyncpg", None)
    monkeypatch.setenv("SLUICEWAY_DEBUG", "1")
    with pytest.raises(ImportError, match="postgresql DSNs need asyncpg"):
        main(["rows", DSN, "select 1"])


def test_no_changes_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    """changes --max-changes 0 prints nothing and ends at once, without connecting."""
    if importlib.util.find_spec("asyncpg") is None:
        pytest.skip("the postgres extra is not installed")
    assert main(["changes", DSN, "--slot", "s", "--max-changes", "0"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("backend", "loop"), [("asyncio", "asyncio"), ("uvloop", "uvloop"), ("trio", None)]
)
def test_demo_runs_on_the_backend_asked_for(
    backend: str, loop: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """demo --backend picks the event loop (uvloop: asyncio with uvloop's loop; trio: none)."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    seen: list[str | None] = []

    async def run(out: Any) -> None:
        await anyio.lowlevel.checkpoint()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio
            seen.append(None)
        else:
            seen.append(type(running).__module__.split(".")[0])

    monkeypatch.setattr("sluiceway._demo.run", run)
    assert main(["demo", "--backend", backend]) == 0
    assert seen == [loop]


class TestRowsValues:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ((1, 2), [1, 2]),
            (frozenset({3}), [3]),
            ({"a": 1}.items().mapping, {"a": 1}),
            (dt.timedelta(seconds=90), 90.0),
            (b"\x00\xff", "AP8="),
        ],
    )
    def test_json_value(self, value: object, expected: object) -> None:
        """Values JSON has no type for get a JSON stand-in: lists, objects, seconds, base64."""
        assert rows.json_value(value) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(None, ""), ([1, "a"], '[1, "a"]'), ({"k": [1]}, '{"k": [1]}'), (b"\x01", "AQ==")],
    )
    def test_csv_value(self, value: object, expected: object) -> None:
        """NULL is an empty field; lists and objects are their JSON; the rest json_value's text."""
        assert rows.csv_value(value) == expected


class TestResumeFile:
    def test_an_empty_file_means_from_the_start(self, tmp_path: Path) -> None:
        """A resume file that is empty (or only whitespace) holds no position yet."""
        path = tmp_path / "position.json"
        path.write_text(" \n", encoding="utf-8")
        assert pages._load(path) is None

    def test_a_file_that_is_not_json(self, tmp_path: Path) -> None:
        """A resume file that is not JSON is an error naming the file."""
        path = tmp_path / "position.json"
        path.write_text("not json", encoding="utf-8")
        with pytest.raises(ValueError, match="does not hold a saved position"):
            pages._load(path)

    def test_a_failed_save_leaves_no_temporary_file(self, tmp_path: Path) -> None:
        """When the rename fails (here the target is a directory), the temporary file goes."""
        target = tmp_path / "position.json"
        target.mkdir()
        with pytest.raises(OSError):  # noqa: PT011  # the platform's own error for a directory
            pages._save(target, {"url": URL})
        assert [p.name for p in tmp_path.iterdir()] == ["position.json"]
