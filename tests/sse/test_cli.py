"""`sluiceway sse` from a shell, against the real test server."""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

import pytest

from commandline import sluiceway

if TYPE_CHECKING:
    from .conftest import Server


class TestSseCommand:
    def test_prints_one_json_object_per_event(self, sse_server: Server) -> None:
        """Each event is a JSON line on stdout; the command exits 0 after --max-events."""
        out = sluiceway("sse", f"{sse_server.url}/events?count=9", "--max-events", "4")
        assert out.returncode == 0, out.stderr
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert [line["id"] for line in lines] == ["1", "2", "3", "4"]
        assert lines[0] == {"event": "tick", "data": '{"n": 1}', "id": "1", "retry": None}

    def test_reconnect_notices_go_to_stderr(self, sse_server: Server) -> None:
        """Dropped connections are resumed; the notices are on stderr, the events complete."""
        out = sluiceway("sse", f"{sse_server.url}/drop?count=7&every=3", "--max-events", "7")
        assert out.returncode == 0, out.stderr
        assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == list("1234567")
        assert out.stderr.count("reconnecting") == 2
        assert "Last-Event-ID '3'" in out.stderr

    def test_post_with_data_and_headers(self, sse_server: Server) -> None:
        """--data sends a JSON POST; the stream ends with its body and the command exits 0."""
        out = sluiceway(
            "sse", f"{sse_server.url}/post", "--data", '{"prompt": "hi there"}', "-H", "X-A: b"
        )
        assert out.returncode == 0, out.stderr
        data = [json.loads(line)["data"] for line in out.stdout.splitlines()]
        assert data == ['{"token": "hi"}', '{"token": "there"}', "[DONE]"]

    def test_resume_from_an_id(self, sse_server: Server) -> None:
        """--last-event-id resumes after that event."""
        out = sluiceway(
            "sse", f"{sse_server.url}/events?count=5", "--last-event-id", "3", "--max-events", "2"
        )
        assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == ["4", "5"]

    def test_a_refusal_is_one_line_and_a_failure_code(self, sse_server: Server) -> None:
        """A 500 ends the command with exit 1 and a one-line message naming the status."""
        out = sluiceway("sse", f"{sse_server.url}/status/500")
        assert out.returncode == 1
        assert out.stdout == ""
        assert len(out.stderr.strip().splitlines()) == 1
        assert "500" in out.stderr

    def test_bad_usage_exits_2(self, sse_server: Server) -> None:
        """A malformed header or --data is a usage error (exit 2)."""
        assert sluiceway("sse", sse_server.url, "-H", "no colon").returncode == 2
        assert sluiceway("sse", sse_server.url, "--data", "{not json").returncode == 2
        unknown = sluiceway("sse", sse_server.url, "--client", "curl")
        assert unknown.returncode == 2
        assert "aiohttp" in unknown.stderr

    @pytest.mark.parametrize("client", ["aiohttp", "httpx"])
    def test_either_client(self, sse_server: Server, client: str) -> None:
        """--client picks the HTTP client: the same events, drops resumed, on each."""
        url = f"{sse_server.url}/drop?count=7&every=3"
        out = sluiceway("sse", url, "--max-events", "7", "--client", client)
        assert out.returncode == 0, out.stderr
        assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == list("1234567")
        assert out.stderr.count("reconnecting") == 2
        assert "ReadError" in out.stderr  # the same typed error from either client

    @pytest.mark.parametrize("client", ["aiohttp", "httpx"])
    def test_nobody_listening_gives_up_with_the_url(self, client: str) -> None:
        """--max-reconnects 0 against a closed port: exit 1 naming ConnectError and the URL."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}/events"
        out = sluiceway("sse", url, "--max-reconnects", "0", "--client", client)
        assert out.returncode == 1
        assert out.stdout == ""
        assert "ConnectError" in out.stderr
        assert url in out.stderr
