"""Retry, backoff and rate-limit decisions, without a network."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from sluiceway._transport._backoff import backoff_delay
from sluiceway.http import RateLimiter, Retry, parse_retry_after, rate_limit_wait

NOW = 1_700_000_000.0


class TestRetryAfter:
    @pytest.mark.parametrize(("value", "seconds"), [("1", 1.0), ("0", 0.0), (" 120 ", 120.0)])
    def test_seconds(self, value: str, seconds: float) -> None:
        """Delay-seconds are taken as they are."""
        assert parse_retry_after(value, NOW) == seconds

    def test_http_date(self) -> None:
        """An HTTP date gives the seconds from now until then."""
        assert parse_retry_after(formatdate(NOW + 30, usegmt=True), NOW) == 30.0

    def test_date_in_the_past(self) -> None:
        """A date already past means no wait."""
        assert parse_retry_after(formatdate(NOW - 30, usegmt=True), NOW) == 0.0

    @pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan", "Wed, 32 Foo 2024"])
    def test_nonsense(self, value: str | None) -> None:
        """Anything else is no answer (None): the backoff applies."""
        assert parse_retry_after(value, NOW) is None


class TestRateLimitHeaders:
    def test_unix_time_reset(self) -> None:
        """GitHub: remaining 0 and a reset as a Unix time."""
        headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)}
        assert rate_limit_wait(headers, NOW) == 42.0

    def test_seconds_reset(self) -> None:
        """A small reset value is seconds from now."""
        assert rate_limit_wait({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3"}, NOW) == 3.0

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"x-ratelimit-remaining": "5", "x-ratelimit-reset": "3"},
            {"x-ratelimit-remaining": "0"},
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "later"},
        ],
    )
    def test_no_wait(self, headers: dict[str, str]) -> None:
        """Requests left, or no usable reset: no wait."""
        assert rate_limit_wait(headers, NOW) is None


class TestRetry:
    def test_backoff_is_capped_exponential_with_jitter(self) -> None:
        """Between half and all of min(max, initial * 2**(n-1))."""
        retry = Retry(backoff_initial=0.5, backoff_max=4.0)
        assert [retry.backoff(n, lambda: 0.0) for n in (1, 2, 3, 4, 5, 9)] == [
            0.25,
            0.5,
            1.0,
            2.0,
            2.0,
            2.0,
        ]
        assert [retry.backoff(n, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]

    def test_any_number_of_failures_stays_at_the_cap(self) -> None:
        """Thousands of tries in a row wait backoff_max, not an OverflowError (2.0 ** 1024)."""
        retry = Retry(attempts=5000, backoff_initial=0.5, backoff_max=4.0)
        for attempt in (1024, 1025, 1026, 5000, 10**30):
            assert retry.backoff(attempt, lambda: 0.5) == 3.0
            assert backoff_delay(attempt, 1e-300, 4.0, lambda: 1.0) == 4.0

    def test_retry_backoff_is_backoff_delay(self) -> None:
        """Retry.backoff is the library's one backoff, fed its own initial and maximum."""
        retry = Retry(backoff_initial=0.3, backoff_max=7.0)
        for attempt in range(1, 12):
            for rand in (0.0, 0.37, 0.999):
                expected = backoff_delay(attempt, 0.3, 7.0, lambda r=rand: r)
                assert retry.backoff(attempt, lambda r=rand: r) == expected

    def test_the_servers_wait_wins(self) -> None:
        """Retry-After (then a spent rate limit's reset) is used instead of the backoff."""
        retry = Retry()
        assert retry.wait(1, {"retry-after": "7"}, NOW) == 7.0
        spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9"}
        assert retry.wait(1, spent, NOW) == 9.0
        assert retry.wait(3, None, NOW, lambda: 1.0) == 2.0

    @pytest.mark.parametrize(
        ("status", "headers", "retried"),
        [
            (429, {}, True),
            (500, {}, True),
            (503, {}, True),
            (404, {}, False),
            (400, {}, False),
            (403, {}, False),
            (403, {"x-ratelimit-remaining": "0"}, True),
            (403, {"retry-after": "60"}, True),
        ],
    )
    def test_which_statuses(self, status: int, headers: dict[str, str], retried: bool) -> None:
        """Rate limits and server errors are retried; a GitHub 403 only when it is a rate limit."""
        assert Retry().retries_status(status, headers) is retried

    def test_statuses_can_be_chosen(self) -> None:
        """statuses= replaces the set (a list is fine)."""
        retry = Retry(statuses=[418])  # type: ignore[arg-type]
        assert retry.retries_status(418, {})
        assert not retry.retries_status(503, {})

    @pytest.mark.parametrize(
        "options",
        [{"attempts": -1}, {"backoff_initial": 0}, {"backoff_max": -1.0}, {"max_wait": 0}],
    )
    def test_bad_arguments(self, options: dict[str, float]) -> None:
        """Out-of-range numbers are ValueErrors at construction."""
        with pytest.raises(ValueError, match="Retry"):
            Retry(**options)  # type: ignore[arg-type]


class TestRateLimiter:
    def test_spacing(self) -> None:
        """rate=10: a request every 0.1 s."""
        limiter = RateLimiter(10)
        assert limiter.delay(100.0) == 0.0
        assert limiter.delay(100.0) == pytest.approx(0.1)
        assert limiter.delay(100.1) == 0.0
        assert limiter.delay(100.15) == pytest.approx(0.05)

    def test_no_rate_means_no_spacing(self) -> None:
        """Without a rate, requests go at once."""
        limiter = RateLimiter()
        assert [limiter.delay(5.0) for _ in range(3)] == [0.0, 0.0, 0.0]
