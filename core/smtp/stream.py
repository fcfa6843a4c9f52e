"""Many mail transactions on one connection, pipelined across messages, without I/O.

:func:`stream` is a generator that both drivers step through (like :func:`~.protocol.exchange`,
which still serves single messages and relays without PIPELINING). It asks the driver for the next
message with :data:`PULL`, yields bytes to write, ``None`` to read one reply, and an
:class:`Outcome` for each message as soon as its fate is known. It returns whether the connection
is still usable.

- **PIPELINING** (RFC 2920): message N's data block goes in one write with message N+1's MAIL,
  RCPTs and DATA ("the transfer of message content is explicitly allowed to be the first command
  in a group"), so each message costs one round trip. Only one message's data is ever
  unacknowledged: a lost connection leaves at most one message in doubt.
- **CHUNKING** (RFC 3030), offered with PIPELINING: MAIL, the RCPTs and ``BDAT <size> LAST`` with the
  body go in one write, and up to ``window`` messages are written before the first reply is read,
  so one round trip carries up to ``window`` messages. A lost connection leaves up to ``window``
  messages in doubt (each reported with ``ConnectionFailed(ambiguous=True)``).

Accounting is exact, per message, in order of the replies: a refused end-of-data fails that
message only (the transaction is over either way, so the next one, already in flight, goes on); a
refused envelope fails that message, and the stream sends RSET before any further MAIL when the
relay may still hold the transaction. A message that never reached the relay (behind one that a
closing reply or a lost connection charged, or refused with 503 only because an earlier failed
transaction was still open) comes back with ``Outcome.outcome`` None: send it again, no try spent.
When the connection fails, the first message in flight is always charged with the error (so a
relay that drops every connection cannot make a batch retry for ever).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from ..errors import ConnectionFailed, PermanentError, SendError
from ..message.model import PreparedMessage
from ..result import Reply, SendResult
from .protocol import crlf_body, data_block, envelope_commands, mail_options
from .reading import ReplyError
from .replies import CLOSING_CODES, error_for_reply

__all__ = ["PULL", "Lost", "Outcome", "Stream", "drive", "only", "stream"]


class _Pull:
    """The step that asks the driver for the next message (it answers with one, or None: no more)."""

    def __repr__(self) -> str:
        return "PULL"


PULL = _Pull()


@dataclass(slots=True)
class Outcome:
    """What became of one message of the stream: its result, the error that refused or lost it, or
    None when it never reached the relay (send it again; no try was spent)."""

    prepared: PreparedMessage
    outcome: SendResult | SendError | None


class Lost(Exception):
    """Thrown into the stream by its driver when the connection failed (or a reply broke a limit):
    the stream reports every message in flight and returns."""

    def __init__(self, error: ConnectionFailed) -> None:
        super().__init__(str(error))
        self.error = error


Stream = Generator[bytes | Outcome | _Pull | None, Reply | PreparedMessage | None, bool]


class _Closing(Exception):
    """A reply that closes the connection (421) was read; ``flight`` is the message it answered."""

    def __init__(self, error: SendError) -> None:
        self.error = error


@dataclass(slots=True, eq=False)
class _Flight:
    """One message on the wire: what was written for it and what the relay said so far."""

    prepared: PreparedMessage
    commands: int  # RCPT commands written (the replies to read after MAIL's)
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, Reply] = field(default_factory=dict)
    data_written: bool = False


def _result(flight: _Flight, reply: Reply | None) -> SendResult:
    prepared = flight.prepared
    if not flight.accepted:
        return SendResult(prepared.message_id, "refused", [], flight.refused, list(prepared.suppressed), None,
                          prepared.category)
    status = SendResult.status_for(flight.accepted, flight.refused, prepared.suppressed)
    return SendResult(prepared.message_id, status, flight.accepted, flight.refused, list(prepared.suppressed),
                      reply, prepared.category)


def _check(reply: object, stage: str) -> Reply:
    """The reply the driver sent in; :class:`_Closing` when it closes the connection."""
    assert isinstance(reply, Reply)
    if reply.code in CLOSING_CODES:
        raise _Closing(error_for_reply(stage, reply.code, reply.text))
    return reply


def stream(offers: Callable[[str], bool], *, chunking: bool = False, window: int = 1) -> Stream:
    """The transactions of every message the driver hands in, pipelined; see the module docstring.

    ``offers`` tells whether the relay announced an EHLO keyword (it must offer PIPELINING, and
    CHUNKING too for ``chunking``); ``window`` bounds the messages written ahead with CHUNKING.
    """
    return _chunked(offers, max(1, window)) if chunking else _pipelined(offers)


def _encode(prepared: PreparedMessage, offers: Callable[[str], bool],
            last: Callable[[PreparedMessage], bytes]) -> tuple[_Flight, bytes]:
    """The flight and the bytes of one message's transaction (PermanentError: nothing to write)."""
    mail, rcpts = envelope_commands(prepared, mail_options(prepared, offers))
    return _Flight(prepared, len(rcpts)), b"".join((mail, *rcpts, last(prepared)))


def _take(offers: Callable[[str], bool], last: Callable[[PreparedMessage], bytes],
          ) -> Generator[Outcome | _Pull, object, tuple[_Flight, bytes] | None]:
    """Ask the driver for the next message and encode it: its flight and bytes, or None when no
    message is left. A message that cannot be sent is refused here (its Outcome), and the next asked."""
    while (item := (yield PULL)) is not None:
        assert isinstance(item, PreparedMessage)
        try:
            return _encode(item, offers, last)
        except PermanentError as exc:
            yield Outcome(item, exc)
    return None


def _envelope(flight: _Flight) -> Generator[None, object, Reply]:
    """Read the MAIL and RCPT replies of ``flight`` and return MAIL's; the RCPT replies sort its
    recipients (whatever MAIL's was: a relay may take them into a transaction still open)."""
    mail = _check((yield None), "MAIL FROM")
    for rcpt in flight.prepared.recipients:
        reply = _check((yield None), "RCPT TO")
        if reply.code in (250, 251):
            flight.accepted.append(rcpt)
        else:
            flight.refused[rcpt] = reply
    return mail


def _rset() -> Generator[None, object, None]:
    """Read RSET's reply; anything but 250 leaves the connection in an unknown state."""
    reply = _check((yield None), "RSET")
    if reply.code != 250:
        raise _Closing(error_for_reply("RSET", reply.code, reply.text))


def _ambiguous(error: ConnectionFailed) -> ConnectionFailed:
    return ConnectionFailed(f"{error} (after end-of-data, before the reply: the relay may have the message)",
                            ambiguous=True)


def _pipelined(offers: Callable[[str], bool]) -> Stream:
    """PIPELINING with DATA: each write is one message's data and the next one's envelope."""
    out = b""
    ahead: _Flight | None = None  # envelope written (or in ``out``), replies to read
    sent: _Flight | None = None  # data written, its end-of-data reply to read
    sent_error: SendError | None = None  # ``sent`` was refused before its data: only a dot went out
    reading: _Flight | None = None  # the flight whose replies are being read
    rset = False  # an RSET is in ``out``/written, its reply to read before the next envelope's
    more = True
    try:
        while True:
            if ahead is None and more:
                taken = yield from _take(offers, lambda _: b"DATA\r\n")
                if taken is None:
                    more = False
                else:
                    ahead, commands = taken
                    out += commands
            if out:
                yield out
                out = b""
                if sent is not None:
                    sent.data_written = True
            if sent is not None:
                reading = sent
                reply = _check((yield None), "end of DATA")
                done, sent, reading = sent, None, None
                if sent_error is not None or not done.accepted:
                    error, sent_error = sent_error, None
                    yield Outcome(done.prepared, error or _result(done, None))
                elif reply.code == 250:
                    yield Outcome(done.prepared, _result(done, reply))
                else:
                    yield Outcome(done.prepared, error_for_reply("end of DATA", reply.code, reply.text))
            if rset:
                rset = False
                yield from _rset()
            if ahead is None:
                return True
            reading = flight = ahead
            mail = yield from _envelope(flight)
            data = _check((yield None), "DATA")
            reading = None
            if data.code == 354:
                ahead, sent = None, flight
                if mail.code == 250 and flight.accepted:
                    out = data_block(flight.prepared.data)
                else:  # RFC 2920 3.1: DATA taken with no recipient: end an empty message
                    out = b".\r\n"
                    if mail.code != 250:
                        sent_error = error_for_reply("MAIL FROM", mail.code, mail.text)
                continue
            # Refused before the data: RSET (pipelined with the next envelope) clears what the relay holds.
            ahead, out, rset = None, b"RSET\r\n", True
            if mail.code != 250:
                yield Outcome(flight.prepared, error_for_reply("MAIL FROM", mail.code, mail.text))
            elif flight.accepted:
                yield Outcome(flight.prepared, error_for_reply("DATA", data.code, data.text))
            else:
                yield Outcome(flight.prepared, _result(flight, None))
    except _Closing as closing:
        answered = reading or sent or ahead  # charge the one answered, else the first in flight
        for left in (sent, ahead):
            if left is not None:
                yield Outcome(left.prepared, closing.error if left is answered else None)
        return False
    except Lost as lost:
        if sent is not None:
            yield Outcome(sent.prepared, _ambiguous(lost.error) if sent.data_written else lost.error)
        if ahead is not None:
            yield Outcome(ahead.prepared, None if sent is not None else lost.error)
        return False


def _bdat(prepared: PreparedMessage) -> bytes:
    body = crlf_body(prepared.data)
    return b"BDAT %d LAST\r\n" % len(body) + body


def _chunked(offers: Callable[[str], bool], window: int) -> Stream:
    """CHUNKING: whole transactions (MAIL, RCPTs, BDAT LAST and the body) ``window`` at a time."""
    inflight: deque[_Flight] = deque()  # written, replies to read, in order
    pending: list[_Flight] = []  # in ``out``, not yet written
    out = b""
    rset = False  # RSET written, its reply to read before the flights written after it
    dirty = False  # a failed transaction may still be open on the relay: RSET before the next MAIL
    more = True
    current: _Flight | None = None  # the flight whose replies are being read
    try:
        while True:
            while more and len(inflight) + len(pending) < window and not (dirty and inflight):
                taken = yield from _take(offers, _bdat)
                if taken is None:
                    more = False
                    break
                flight, commands = taken
                if dirty:
                    out, rset, dirty = out + b"RSET\r\n", True, False
                out += commands
                pending.append(flight)
            if not more and dirty and not inflight:
                out, rset, dirty = out + b"RSET\r\n", True, False  # leave the connection clean
            if out:
                yield out
                out = b""
                for flight in pending:
                    flight.data_written = True
                inflight.extend(pending)
                pending.clear()
            if rset:
                rset = False
                yield from _rset()
            if not inflight:
                if more:
                    continue
                return True
            current = inflight[0]
            mail = yield from _envelope(current)
            last = _check((yield None), "BDAT")
            flight, current = inflight.popleft(), None
            if flight.accepted and last.code == 250:
                # Taken, even after a MAIL refused as nested: the relay used the transaction still open.
                yield Outcome(flight.prepared, _result(flight, last))
            elif mail.code != 250:
                if mail.code == 503 and dirty:
                    # Refused only because the earlier failed transaction was still open: not tried.
                    yield Outcome(flight.prepared, None)
                else:
                    yield Outcome(flight.prepared, error_for_reply("MAIL FROM", mail.code, mail.text))
            else:
                dirty = True  # MAIL taken, message refused: the relay may still hold the transaction
                if flight.accepted:
                    error = error_for_reply("end of data (BDAT)", last.code, last.text)
                    yield Outcome(flight.prepared, error)
                else:
                    yield Outcome(flight.prepared, _result(flight, None))
    except _Closing as closing:
        if current is None and inflight:
            current = inflight[0]  # a reply to RSET: charge the first in flight
        if current is not None:
            inflight.popleft()
            yield Outcome(current.prepared, closing.error)
        for flight in (*inflight, *pending):
            yield Outcome(flight.prepared, None)
        return False
    except Lost as lost:
        for flight in inflight:
            yield Outcome(flight.prepared, _ambiguous(lost.error))
        for i, flight in enumerate(pending):  # never written: the first is charged when nothing was
            yield Outcome(flight.prepared, lost.error if i == 0 and not inflight else None)
        return False


def only(outcomes: list[Outcome]) -> SendResult:
    """The result of a stream of one message, or its error raised (one that never reached the
    relay is a retryable :class:`ConnectionFailed`)."""
    (one,) = outcomes
    if one.outcome is None:
        raise ConnectionFailed("the connection to the relay closed before the message was sent")
    if isinstance(one.outcome, SendError):
        raise one.outcome
    return one.outcome


def drive(steps: Stream, write: Callable[[bytes], object], read: Callable[[], Reply],
          pull: Callable[[], PreparedMessage | None], lost: Callable[[Exception], ConnectionFailed],
          trace: Callable[[str, object], None] | None = None,
          waiting: Callable[[], None] | None = None) -> Generator[Outcome, None, bool]:
    """Step through ``steps`` with blocking I/O, yielding each message's :class:`Outcome` as it is
    known; returns whether the connection is still usable. ``pull`` hands in the next message (or
    None); a failed ``write``/``read`` (``OSError``, or a reply past a limit) is thrown into the
    stream as :class:`Lost` with the error ``lost`` makes of it. ``waiting`` runs after each
    write, while the relay works on it (deferred telemetry)."""
    answer: Reply | PreparedMessage | None = None
    fault: Lost | None = None
    while True:
        try:
            step = steps.send(answer) if fault is None else steps.throw(fault)
        except StopIteration as stop:
            return bool(stop.value)
        answer = fault = None
        if step is PULL:
            answer = pull()
        elif isinstance(step, Outcome):
            yield step
        elif step is None:
            try:
                answer = read()
            except (OSError, ReplyError) as exc:
                fault = Lost(lost(exc))
                continue
            if trace:
                trace("reply:", answer)
        else:
            assert isinstance(step, bytes)
            if trace:
                trace("send:", step if len(step) < 2048 else f"<{len(step)} bytes>")
            try:
                write(step)
            except OSError as exc:
                fault = Lost(lost(exc))
                continue
            if waiting is not None:
                waiting()
