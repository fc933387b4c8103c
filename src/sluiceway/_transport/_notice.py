"""RetryNotice: what a source tells its caller before it waits to try a request again.

Pagination retries a failed page request (``paginate(on_retry=...)``) and
an event stream reconnects (``sse.connect(on_reconnect=...)``): both are
one more try after a failure, so both hand over the same notice. It is
exported from :mod:`sluiceway.http` and :mod:`sluiceway.sse`; this module
imports no HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryNotice"]


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RetryNotice:
    """One more try is coming: which one, after what, and how long until it starts.

    ``str(notice)`` reads as a sentence, for a log line, and ``repr()`` shows
    the same in angle brackets. Make one with keywords only.

    Attributes:
        attempt: the number of this retry or reconnect in a row (1, 2, ...);
            an event stream starts counting again after a connection that
            delivered events.
        delay: the seconds waited before it.
        url: the URL the failed request went to.
        error: the network error (or idle timeout) that ended the last try;
            None after an error status, or when an event stream's body ended.
        status: the HTTP status of the failed answer, if there was one
            (pagination only: an event stream never retries a status).
        last_event_id: for an event stream, the id sent as ``Last-Event-ID``
            with the reconnect (``""`` if none yet); None for pagination.
    """

    attempt: int
    delay: float
    url: str
    error: BaseException | None = None
    status: int | None = None
    last_event_id: str | None = None

    def __str__(self) -> str:
        if self.status is not None:
            why = f"HTTP {self.status}"
        elif self.error is None:
            why = "the body ended"
        else:
            message = str(self.error)
            why = type(self.error).__name__ + (f": {message}" if message else "")
        text = f"retry {self.attempt} of {self.url} in {self.delay:.2f} s, after {why}"
        if self.last_event_id is not None:
            text += f"; Last-Event-ID {self.last_event_id!r}"
        return text

    def __repr__(self) -> str:
        return f"<RetryNotice: {self}>"
