"""sluiceway without any extra: everything imports, and each missing extra is named.

``make test-noextras`` runs this directory in a virtualenv where sluiceway is
installed without extras (``SLUICEWAY_NOEXTRAS=1``). The ordinary run has
every extra installed, so there ``probes.py`` hides their packages first:
both runs check the same outcomes, and the first also that the packages are
really missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from probes import HIDDEN, PACKAGES

PROBES = Path(__file__).with_name("probes.py")
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
#: anyio, its dependencies, and sniffio, which anyio loads when it is installed.
ANYIO_AND_ITS_OWN = {"anyio", "idna", "typing_extensions", "exceptiongroup", "sniffio"}
#: Set by `make test-noextras`: the extras' packages are not installed at all here.
NOEXTRAS = os.environ.get("SLUICEWAY_NOEXTRAS") == "1"


def hint(extra: str) -> str:
    return f"pip install 'sluiceway[{extra}]'"


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    """What each probe gave, in one fresh interpreter (extras hidden unless really missing)."""
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "dev",
            "-W",
            "error",
            str(PROBES),
            *([] if NOEXTRAS else ["--hide"]),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


class TestEnvironment:
    @pytest.mark.skipif(not NOEXTRAS, reason="only without the extras (make test-noextras)")
    def test_the_extras_packages_are_not_installed(self) -> None:
        """In the no-extras environment none of the extras' modules can be found."""
        assert sorted(m for m in HIDDEN if importlib.util.find_spec(m) is not None) == []

    def test_every_package_of_the_extras_is_known(self) -> None:
        """The probes hide (and the environment checks) every package an extra installs."""
        extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"][
            "optional-dependencies"
        ]
        named = {
            re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0]
            for requirements in extras.values()
            for requirement in requirements
        }
        assert named - {"sluiceway"} == set(PACKAGES)


class TestWhatWorks:
    def test_import_sluiceway_loads_only_anyio(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """sluiceway and its subpackages (sse, db, brokers, ops, errors, the CLI) load nothing else.

        Nothing but anyio and what anyio loads itself: its dependencies, and
        sniffio, which it uses when it is installed.
        """
        assert set(outcomes["import"]["value"]) <= ANYIO_AND_ITS_OWN

    def test_a_pipeline_runs(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """The engine with a concurrent stage runs on asyncio."""
        assert outcomes["pipeline"] == {"value": [1, 9, 25, 49, 81]}

    def test_the_sse_decoder_needs_no_extra(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """sluiceway.sse.Decoder decodes without httpx."""
        assert outcomes["decoder"] == {"value": ["one", "two"]}

    def test_sluiceway_http_imports_without_a_client(
        self, outcomes: dict[str, dict[str, Any]]
    ) -> None:
        """The strategies and the paginator load neither httpx nor aiohttp until used."""
        assert set(outcomes["import sluiceway.http"]["value"]) <= ANYIO_AND_ITS_OWN

    def test_the_command_line_help(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """`sluiceway --help` lists every command."""
        got = outcomes["cli --help"]["value"]
        assert got["exit"] == 0
        for name in ("demo", "sse", "pages", "rows", "changes"):
            assert name in got["stdout"]


class TestInstallHints:
    @pytest.mark.parametrize(
        ("probe", "extra"),
        [
            ("sse.connect", "aiohttp"),
            ("sse.connect", "http"),
            ("http.paginate", "aiohttp"),
            ("http.paginate", "http"),
            ("db.postgres_changes", "postgres"),
            ("db.mongo_changes", "mongo"),
        ],
    )
    def test_a_missing_extra_is_an_import_error_naming_it(
        self, outcomes: dict[str, dict[str, Any]], probe: str, extra: str
    ) -> None:
        """ImportError with the pip command of the extra, raised from None (no driver traceback)."""
        got = outcomes[probe]
        assert got["error"] == "ImportError"
        assert hint(extra) in got["message"]
        assert got["from_none"]

    @pytest.mark.parametrize(
        ("probe", "extra"),
        [
            ("cli sse", "http"),
            ("cli pages", "http"),
            ("cli rows sqlite", "sqlite"),
            ("cli rows postgresql", "postgres"),
            ("cli changes", "postgres"),
            ("cli consume", "redis"),
            ("cli consume nats", "nats"),
            ("cli produce nats", "nats"),
            ("cli demo trio", "trio"),
        ],
    )
    def test_a_command_without_its_extra_says_what_to_install(
        self, outcomes: dict[str, dict[str, Any]], probe: str, extra: str
    ) -> None:
        """A failure exit, nothing on stdout, and the pip command on stderr, without a traceback.

        `changes` reports it as a usage error (exit 2), the others as a failure (exit 1).
        """
        got = outcomes[probe]["value"]
        assert got["exit"] in (1, 2)
        assert got["stdout"] == ""
        assert hint(extra) in got["stderr"]
        assert "Traceback" not in got["stderr"]

    def test_the_demo_skips_the_parts_that_need_an_extra(
        self, outcomes: dict[str, dict[str, Any]]
    ) -> None:
        """The demo's SSE, API, database and workers parts each say what to install."""
        said = outcomes["demo parts"]["value"]
        assert [line.split(":", 1)[0] for line in said] == [
            "7. Server-Sent Events",
            "8. Paginated API",
            "9. A database",
            "10. Many workers, one stream",
        ]
        for line, extra in zip(said, ["http", "http", "sqlite", "redis"], strict=True):
            assert hint(extra) in line

    def test_rows_on_a_sync_sqlite3_connection(self, outcomes: dict[str, dict[str, Any]]) -> None:
        """rows() on the standard library's sqlite3 is a TypeError naming aiosqlite."""
        got = outcomes["db.rows on sqlite3"]
        assert got["error"] == "TypeError"
        assert "aiosqlite.connect()" in got["message"]
