"""The acknowledgement ledger of a change stream: pure bookkeeping, no driver.

PostgreSQL decodes a transaction whole, at its commit, and a slot advanced
to anywhere before the end of a commit record delivers that whole
transaction again (checked on PostgreSQL 15 with
``pg_replication_slot_advance``). So the slot may move to a transaction's
end only once every change of it has been processed; the :class:`Ledger`
keeps the book of what was delivered and processed and says how far that is.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._wal2json import Change

__all__ = ["Ledger"]


class Ledger:
    """What was delivered, what was processed, and how far the slot may advance.

    Acknowledgements are cumulative: ``processed(checkpoint)`` covers every
    change delivered up to and including it. The slot may advance to the end
    of a transaction once all its changes are processed (``safe``).
    """

    __slots__ = ("_pending", "safe")

    def __init__(self, confirmed: int) -> None:
        #: (checkpoint or None for a transaction with nothing delivered, end, ends it)
        self._pending: deque[tuple[str | None, int, bool]] = deque()
        self.safe = confirmed

    def delivered(self, change: Change, end: int) -> None:
        """``change``, of the transaction ending at ``end``, was handed to the consumer."""
        self._pending.append((change.checkpoint, end, change.ends_transaction))

    def skipped(self, end: int) -> None:
        """A transaction ending at ``end`` had nothing to deliver (filtered, or before after=)."""
        if self._pending:
            self._pending.append((None, end, True))
        else:
            self.safe = max(self.safe, end)

    def processed(self, checkpoint: str) -> bool:
        """Everything delivered up to and including ``checkpoint`` is processed.

        Returns False (and changes nothing) when ``checkpoint`` is not waiting.
        """
        pending = self._pending
        if not pending:
            return False
        if pending[-1][0] == checkpoint:  # the usual case: everything delivered so far
            for _key, end, ends in reversed(pending):  # the last whole transaction in it
                if ends:
                    self.safe = max(self.safe, end)
                    break
            pending.clear()
            return True
        if not any(entry[0] == checkpoint for entry in pending):
            return False
        while pending:
            key, end, ends = pending.popleft()
            if ends:
                self.safe = max(self.safe, end)
            if key == checkpoint:
                break
        while pending and pending[0][0] is None:  # empty transactions right after it
            self.safe = max(self.safe, pending.popleft()[1])
        return True

    def last_delivered(self) -> str | None:
        """The checkpoint of the last change delivered and not yet processed."""
        for key, _end, _ends in reversed(self._pending):
            if key is not None:
                return key
        return None

    @property
    def idle(self) -> bool:
        """Nothing delivered is waiting to be processed."""
        return not self._pending
