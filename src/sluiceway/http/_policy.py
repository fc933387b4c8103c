"""Retries, backoff and rate limits: pure decisions over statuses, headers and clocks.

Nothing here touches the network. :class:`Retry` says whether a failed try
is worth another and how long to wait first; :class:`RateLimiter` spaces the
requests of one paginator and holds them all while the server asks for a
pause. The paginator feeds them what it sees and sleeps for what they say.
:class:`Retry` waits what ``_transport._backoff.backoff_delay`` says, the
backoff SSE's reconnects use too, when the server named no time. The clock
(``now``) and the random source (``rand``) are parameters, so tests pass
their own.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import anyio

from .._core._callables import check_count, check_seconds
from .._transport._backoff import backoff_delay

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "RateLimiter",
    "Retry",
    "parse_retry_after",
    "rate_limit_wait",
]

#: Statuses retried by default: timeouts, rate limits and server errors that may pass.
DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

#: An X-RateLimit-Reset value above this is a Unix time; below, a number of seconds.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP date).

    ``now`` is the current Unix time (``time.time()``), for the date form. A
    date in the past gives 0; a value that is neither form gives None.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # HTTP dates are GMT; one without a zone is not an HTTP date
    return max(0.0, when.timestamp() - now)


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the rate limit resets, when ``X-RateLimit-Remaining`` is 0.

    ``X-RateLimit-Reset`` is read as a Unix time when it is that large (GitHub),
    else as seconds from now. None when requests remain or the headers are absent.
    """
    remaining = headers.get("x-ratelimit-remaining")
    if remaining is None or remaining.strip() not in ("0", "0.0"):
        return None
    reset = headers.get("x-ratelimit-reset")
    if reset is None:
        return None
    try:
        value = float(reset.strip())
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if value > _EPOCH_THRESHOLD:
        return max(0.0, value - now)
    return max(0.0, value)


@dataclass(frozen=True, slots=True)
class Retry:
    """When to send a request again, and how long to wait first.

    Network errors (connection refused or dropped, timeouts) and the statuses
    in ``statuses`` are retried, and a 403 too when the server says the rate
    limit is spent (``X-RateLimit-Remaining: 0``, GitHub) or gives a
    ``Retry-After``. The wait is the server's (``Retry-After`` in seconds or as
    an HTTP date, else ``X-RateLimit-Reset`` when none remain), otherwise a
    capped exponential backoff with jitter: between half and all of
    ``min(backoff_max, backoff_initial * 2 ** (attempt - 1))``.

    Attributes:
        attempts: retries after the first try (0: never retry).
        statuses: the HTTP statuses worth another try.
        backoff_initial: the first backoff ceiling, in seconds.
        backoff_max: the largest backoff ceiling, in seconds.
        max_wait: the longest wait a server may ask for; a longer one ends the
            paging with :class:`~sluiceway.errors.RetriesExhaustedError` at once
            instead of sleeping for an hour unnoticed.
    """

    attempts: int = 5
    statuses: frozenset[int] = field(default=DEFAULT_RETRY_STATUSES)
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0

    def __post_init__(self) -> None:
        check_count(self.attempts, "Retry", "attempts")
        check_seconds(self.backoff_initial, "Retry", "backoff_initial")
        check_seconds(self.backoff_max, "Retry", "backoff_max")
        check_seconds(self.max_wait, "Retry", "max_wait")
        object.__setattr__(self, "statuses", frozenset(self.statuses))

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The backoff before retry number ``attempt`` (1, 2, ...): :func:`backoff_delay`."""
        return backoff_delay(attempt, self.backoff_initial, self.backoff_max, rand)

    def retries_status(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether an answer with this status (and headers) is worth another try."""
        if status in self.statuses:
            return True
        if status == 403:
            remaining = headers.get("x-ratelimit-remaining", "").strip()
            return remaining == "0" or "retry-after" in headers
        return False

    def wait(
        self,
        attempt: int,
        headers: Mapping[str, str] | None,
        now: float,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait before retry number ``attempt``.

        ``headers`` are those of the failed answer (None after a network
        error); ``now`` is the Unix time, for ``Retry-After`` dates and
        ``X-RateLimit-Reset``.
        """
        if headers is not None:
            asked = parse_retry_after(headers.get("retry-after"), now)
            if asked is None:
                asked = rate_limit_wait(headers, now)
            if asked is not None:
                return asked
        return self.backoff(attempt, rand)


class RateLimiter:
    """Spaces one paginator's requests and holds them while the server asks for a pause.

    Every request, retries and read-ahead included, first awaits
    :meth:`acquire`: at most ``rate`` requests start per second, and none
    before the end of a pause set with :meth:`hold` (a ``Retry-After``, or a
    spent ``X-RateLimit-Remaining``). Times are on anyio's clock.
    """

    __slots__ = ("_hold_until", "_interval", "_next")

    def __init__(self, rate: float | None = None) -> None:
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._next = -math.inf
        self._hold_until = -math.inf

    def hold(self, seconds: float) -> None:
        """No request starts for ``seconds`` from now."""
        self._hold_until = max(self._hold_until, anyio.current_time() + seconds)

    def delay(self, now: float) -> float:
        """Seconds until a request may start at ``now``; 0 takes the slot."""
        at = max(self._next, self._hold_until)
        if at > now:
            return at - now
        self._next = now + self._interval
        return 0.0

    async def acquire(self) -> None:
        """Wait for a request's turn."""
        # A plain sleep, not an event: the wait ends at a time, and a hold() set
        # meanwhile is found when it does (the loop then waits again).
        while (wait := self.delay(anyio.current_time())) > 0:  # noqa: ASYNC110
            await anyio.sleep(wait)
