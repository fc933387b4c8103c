"""RetryNotice: one notice for a page retried and an event stream reconnected."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from sluiceway._transport._notice import RetryNotice


class TestRetryNotice:
    def test_a_page_retry_reads_as_a_sentence(self) -> None:
        """A retried status names the retry, the URL, the wait and the status."""
        notice = RetryNotice(attempt=2, delay=1.5, url="https://api.example/items", status=503)
        assert str(notice) == "retry 2 of https://api.example/items in 1.50 s, after HTTP 503"
        assert repr(notice) == f"<RetryNotice: {notice}>"
        assert notice.last_event_id is None

    def test_a_network_error_is_named_with_its_message(self) -> None:
        """A network error shows its type and message; one without a message, its type."""
        refused = RetryNotice(attempt=1, delay=0.25, url="u", error=ConnectionError("refused"))
        assert str(refused).endswith("after ConnectionError: refused")
        silent = RetryNotice(attempt=1, delay=0.25, url="u", error=TimeoutError())
        assert str(silent).endswith("after TimeoutError")

    def test_a_reconnect_shows_the_last_event_id(self) -> None:
        """An event stream's notice says the body ended and which id is sent, even an empty one."""
        notice = RetryNotice(attempt=1, delay=0.02, url="u", last_event_id="")
        assert str(notice) == "retry 1 of u in 0.02 s, after the body ended; Last-Event-ID ''"
        resumed = dataclasses.replace(notice, last_event_id="41", error=OSError("reset"))
        assert str(resumed).endswith("after OSError: reset; Last-Event-ID '41'")

    def test_it_is_frozen_and_made_with_keywords(self) -> None:
        """Fields cannot change, and positions cannot be mixed up: keywords only."""
        notice = RetryNotice(attempt=1, delay=0.5, url="u")
        with pytest.raises(dataclasses.FrozenInstanceError):
            notice.delay = 0  # type: ignore[misc]
        with pytest.raises(TypeError):
            RetryNotice(1, 0.5, "u")  # type: ignore[misc]
        assert notice == RetryNotice(attempt=1, delay=0.5, url="u")

    def test_importing_it_loads_no_client(self) -> None:
        """The notice module (and sluiceway.sse, which exports it) imports no HTTP client."""
        code = (
            "import sys, sluiceway._transport._notice, sluiceway.sse\n"
            "print(sorted({'httpx', 'aiohttp'} & {m.split('.')[0] for m in sys.modules}))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "[]"
