"""`sluiceway pages` from a shell, against the real test API."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from commandline import sluiceway

if TYPE_CHECKING:
    from .conftest import Server

TOTAL = 23
ITEMS: list[dict[str, Any]] = [{"id": f"it{n:03d}", "n": n} for n in range(TOTAL)]

#: The command-line options of each style, for the routes of the test API.
STYLES: dict[str, tuple[str, list[str]]] = {
    "cursor": ("/cursor", ["--items", "members", "--cursor", "response_metadata.next_cursor"]),
    "has_more": ("/stripe", ["--items", "data", "--has-more", "has_more"]),
    "link_header": ("/github?per_page=5", ["--link-header"]),
    "next_url": ("/drf", ["--items", "results", "--next-url", "next"]),
    "page_param": ("/numbered", ["--items", "data", "--page-param", "page"]),
    "offset_param": ("/offset", ["--items", "items", "--offset-param", "offset", "--limit", "5"]),
}


def lines(out: subprocess.CompletedProcess[str]) -> list[Any]:
    return [json.loads(line) for line in out.stdout.splitlines()]


def url(api: Server, route: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.url + route + ("&" if "?" in route else "?") + query if query else api.url + route


class TestPagesCommand:
    @pytest.mark.parametrize("client", [None, "aiohttp", "httpx"])
    @pytest.mark.parametrize("style", list(STYLES))
    def test_every_style(self, api: Server, style: str, client: str | None) -> None:
        """Each style option pages through to every item, one JSON line each; exit 0.

        With the default client (aiohttp) and with each ``--client``.
        """
        route, options = STYLES[style]
        chosen = [] if client is None else ["--client", client]
        out = sluiceway("pages", api.url + route, *options, *chosen)
        assert out.returncode == 0, out.stderr
        assert lines(out) == ITEMS
        assert out.stderr == ""  # no progress line: stderr is not a terminal

    def test_resume_file(self, api: Server, tmp_path: Path) -> None:
        """Stopped after 2 pages, a second run with the same file prints exactly the rest."""
        saved = tmp_path / "position.json"
        route, options = STYLES["cursor"]
        first = sluiceway(
            "pages", api.url + route, *options, "--max-pages", "2", "--resume", str(saved)
        )
        assert first.returncode == 0, first.stderr
        assert lines(first) == ITEMS[:10]
        assert json.loads(saved.read_text())["items"] == 10
        second = sluiceway("pages", api.url + route, *options, "--resume", str(saved))
        assert second.returncode == 0, second.stderr
        assert lines(second) == ITEMS[10:]
        third = sluiceway("pages", api.url + route, *options, "--resume", str(saved))
        assert third.returncode == 0, third.stderr
        assert third.stdout == ""
        assert [p.name for p in tmp_path.iterdir()] == ["position.json"]  # no temporary left

    def test_a_failure_keeps_what_was_written(self, api: Server, tmp_path: Path) -> None:
        """A non-JSON page: exit 1 with one line on stderr; earlier pages printed and saved."""
        saved = tmp_path / "position.json"
        out = sluiceway(
            "pages",
            url(api, "/drf", key="cli-html", fail="html@2"),
            "--items",
            "results",
            "--next-url",
            "next",
            "--resume",
            str(saved),
        )
        assert out.returncode == 1
        assert lines(out) == ITEMS[:10]
        assert out.stderr.startswith("sluiceway: error: BadPageError: bad page from ")
        assert len(out.stderr.splitlines()) == 1
        assert json.loads(saved.read_text())["items"] == 10

    def test_headers_are_sent(self, api: Server) -> None:
        """-H headers go with every request."""
        target = url(api, "/github", per_page="5", token="s3cret")
        refused = sluiceway("pages", target, "--link-header", "--retries", "0")
        assert refused.returncode == 1
        assert "HTTPStatusError: HTTP 401" in refused.stderr
        out = sluiceway("pages", target, "--link-header", "-H", "X-Token: s3cret")
        assert out.returncode == 0, out.stderr
        assert lines(out) == ITEMS

    def test_cross_origin_is_refused(self, api: Server) -> None:
        """A next link to another host ends with CrossOriginError unless --allow-host names it."""
        target = url(api, "/github", per_page="5", next_host="localhost")
        out = sluiceway("pages", target, "--link-header")
        assert out.returncode == 1
        assert "CrossOriginError" in out.stderr
        assert lines(out) == ITEMS[:5]
        allowed = sluiceway("pages", target, "--link-header", "--allow-host", "localhost")
        assert allowed.returncode == 0, allowed.stderr
        assert lines(allowed) == ITEMS

    def test_pages_in_parallel(self, api: Server) -> None:
        """--total with --concurrency fetches pages in parallel; the output keeps the order."""
        out = sluiceway(
            "pages",
            api.url + "/numbered",
            "--items",
            "data",
            "--page-param",
            "page",
            "--total",
            "meta.total",
            "--concurrency",
            "4",
        )
        assert out.returncode == 0, out.stderr
        assert lines(out) == ITEMS
        usage = sluiceway(
            "pages", api.url + "/numbered", "--page-param", "page", "--concurrency", "2"
        )
        assert usage.returncode == 2
        assert "--concurrency needs --total" in usage.stderr

    def test_a_style_is_required(self, api: Server) -> None:
        """Without a style option it is a usage error (exit 2)."""
        out = sluiceway("pages", api.url + "/github")
        assert out.returncode == 2
        assert "one of the arguments" in out.stderr

    def test_a_bad_resume_file(self, api: Server, tmp_path: Path) -> None:
        """A resume file that holds something else is a one-line error, exit 1."""
        saved = tmp_path / "position.json"
        saved.write_text("[1, 2]")
        out = sluiceway("pages", api.url + "/github", "--link-header", "--resume", str(saved))
        assert out.returncode == 1
        assert "does not hold a saved position" in out.stderr

    def test_progress_on_a_terminal(self, api: Server) -> None:
        """With stderr on a terminal, a progress line shows items, pages, rate and retries."""
        main, side = pty.openpty()
        try:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sluiceway.cli",
                    "pages",
                    api.url + "/github?per_page=5",
                    "--link-header",
                ],
                stdout=subprocess.PIPE,
                stderr=side,
            )
            os.close(side)
            stdout, _ = process.communicate(timeout=60)
            shown = b""
            while True:
                try:
                    chunk = os.read(main, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            os.close(main)
        assert process.returncode == 0
        assert len(stdout.splitlines()) == TOTAL
        text = shown.decode()
        assert "23 items, 5 pages" in text
        assert "items/s, 0 retries" in text
