"""One batch of messages on its way through pipelined streams: the policy of ``send_many`` and
``iter_send`` when the connection can stream (see :mod:`~acumbamail_smtp.smtp.stream`), written
once for both mailers.

A :class:`Batch` hands out the messages to put on the wire (the retries and the messages that never
reached the relay first), takes each :class:`~acumbamail_smtp.smtp.stream.Outcome`, decides with
the shared retry policy whether it is final, and releases the results in the batch's order. A
retry waits out its backoff while the other messages go on (its result, and those after it, are
released when it ends); a final error stops the batch (the messages in flight finish, no new one
starts).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import AcumbamailError, PermanentError, SendError
from ..message.model import PreparedMessage
from ..result import SendResult
from ..telemetry import hooks as telemetry
from .policy import BATCH_STOPPED, MailerPolicy, refused_result, retry_delay

__all__ = ["Batch", "Entry"]


@dataclass(slots=True, eq=False)
class Entry:
    """One message of the batch: its place, the message (suppressed recipients moved out), the
    tries spent, and its telemetry scope (open from its first hand-out to its final outcome)."""

    index: int
    prepared: PreparedMessage
    tries: int = 0
    due: float = 0.0  # monotonic time before which it is not tried again
    scope: telemetry.SendHandle = field(default=telemetry.NO_SEND)


class Batch:
    """The messages of one ``send_many``/``iter_send`` for ``policy``'s mailer, fed in order."""

    def __init__(self, policy: MailerPolicy, items: Iterator[PreparedMessage]) -> None:
        self.policy = policy
        self._items = items
        self._count = 0
        self._places: dict[int, int] = {}  # id(prepared) -> index, between new() and launch()
        self._again: deque[Entry] = deque()  # to hand out before any new message, once due
        self._flying: dict[int, Entry] = {}  # id(prepared) -> entry, for the outcomes
        self._done: dict[int, SendResult | BaseException] = {}
        self._released = 0
        self.exhausted = False
        self._peeked: PreparedMessage | None = None  # read from the source, not yet handed out
        #: Results ended since :meth:`take_records`, for the store (every one, in any order).
        self.to_record: list[SendResult] = []
        #: The error that stopped the batch (the first final failure), if any.
        self.stopped: BaseException | None = None

    # -- handing out ------------------------------------------------------------------------------
    def new(self) -> PreparedMessage | None:
        """The next message of the source to screen (suppression) and :meth:`launch`, or None."""
        if self.stopped is not None or not self._more():
            return None
        item, self._peeked = self._peeked, None
        assert item is not None
        self._places[id(item)] = self._count  # its place, whichever worker launches it first
        self._count += 1
        return item

    def _more(self) -> bool:
        """Whether the source has another message (read one ahead and kept for :meth:`new`)."""
        if self._peeked is None and not self.exhausted:
            self._peeked = next(self._items, None)
            self.exhausted = self._peeked is None
        return self._peeked is not None

    def waiting(self) -> float | None:
        """Seconds until a retry may be handed out (0: now), None when no retry is queued."""
        if not self._again or self.stopped is not None:
            return None
        return max(0.0, min(entry.due for entry in self._again) - time.monotonic())

    def again(self) -> PreparedMessage | None:
        """A message to try again now (one that never reached the relay, or a retry whose backoff
        has passed), or None."""
        if self.stopped is not None or not self._again:
            return None
        now = time.monotonic()
        for entry in self._again:
            if entry.due <= now:
                self._again.remove(entry)
                self._flying[id(entry.prepared)] = entry
                entry.scope.tried(len(entry.prepared.recipients) + 2)
                return entry.prepared
        return None

    def has_work(self) -> bool:
        """Whether a message may be handed out now (a due retry, or the source not yet exhausted)."""
        return self.stopped is None and (self._more() or self.waiting() == 0)

    def launch(self, prepared: PreparedMessage, screened: PreparedMessage) -> PreparedMessage | None:
        """Take the source's ``prepared`` as ``screened`` (its suppressed recipients out): the
        message to put on the wire, or None when nobody is left (its result is kept)."""
        entry = Entry(self._places.pop(id(prepared)), screened, scope=telemetry.send_handle(screened))
        nobody = self.policy._nobody_left(screened)
        if nobody is not None:
            self._final(entry, nobody)
            return None
        self._flying[id(screened)] = entry
        entry.scope.tried(len(screened.recipients) + 2)
        return screened

    @property
    def idle(self) -> bool:
        """Whether no message is on the wire."""
        return not self._flying

    # -- outcomes ---------------------------------------------------------------------------------
    def settle(self, prepared: PreparedMessage, outcome: SendResult | SendError | None) -> None:
        """What became of ``prepared`` on one try: final, a retry, or (None) not tried at all."""
        entry = self._flying.pop(id(prepared))
        if outcome is None:
            self._again.appendleft(entry)
            return
        entry.tries += 1
        delay = retry_delay(self.policy.config, entry.tries, prepared.message_id, outcome)
        if delay is not None:
            entry.scope.retried(entry.tries, delay, telemetry.retry_reason(outcome))
            entry.due = time.monotonic() + delay
            self._again.append(entry)
            return
        if isinstance(outcome, PermanentError):
            self._final(entry, refused_result(prepared, outcome))
        elif isinstance(outcome, AcumbamailError):
            self._final(entry, outcome)
            if self.stopped is None:
                self.stopped = outcome
        else:
            self._final(entry, outcome)

    def fail(self, prepared: PreparedMessage, exc: BaseException) -> None:
        """``prepared`` ends with ``exc`` (not an SMTP outcome: e.g. the connection could not
        open and no retry is left); it stops the batch."""
        entry = self._flying.pop(id(prepared))
        self._final(entry, exc)
        if self.stopped is None:
            self.stopped = exc

    def _final(self, entry: Entry, outcome: SendResult | BaseException) -> None:
        if isinstance(outcome, SendResult):
            self.policy._finish(entry.prepared, outcome, entry.scope)
            self.to_record.append(outcome)
        entry.scope.end(outcome if isinstance(outcome, BaseException) else None)
        self._done[entry.index] = outcome

    def take_records(self) -> list[SendResult]:
        """The results to record now (and forget)."""
        records, self.to_record = self.to_record, []
        return records

    # -- results ----------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Whether nothing is left to send (or the batch stopped and nothing is on the wire)."""
        if self._flying:
            return False
        return self.stopped is not None or (self.exhausted and not self._again)

    def release(self) -> Iterator[SendResult]:
        """The results now complete from the front of the batch, in order (stops at a failure)."""
        while (done := self._done.get(self._released)) is not None and isinstance(done, SendResult):
            del self._done[self._released]
            self._released += 1
            yield done

    def outcomes(self) -> list[SendResult | BaseException]:
        """Every message's outcome in order, for a stopped batch's ``exc.results``: the result
        or error of each that ended, ``SendError(BATCH_STOPPED)`` for each never tried."""
        for entry in (*self._again, *self._flying.values()):
            entry.scope.end(None)
        self._again.clear()
        telemetry.batch_over()
        return [self._done[i] if i in self._done else SendError(BATCH_STOPPED)
                for i in range(self._released, self._count)]

    @property
    def released(self) -> int:
        """How many results :meth:`release` has given out."""
        return self._released
