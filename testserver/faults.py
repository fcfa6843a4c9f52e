"""Deterministic faults a test scripts into the fake relay: refused recipients, dropped
connections, failed DATA, faults at any point of a pipelined or chunked stream, slow replies,
refused logins. Thread-safe: tests set them from their thread while the relay's event loop reads
them."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

BounceAt = Literal["rcpt", "async"]
ConnectionFault = tuple[Literal["close", "drop"], str]
#: Where in the stream a scripted fault strikes: the MAIL, RCPT or DATA command, the end of a
#: message's data (the dot), a BDAT chunk without LAST, or BDAT ... LAST.
FaultPoint = Literal["mail", "rcpt", "data", "data_end", "bdat", "bdat_last"]
#: What it does: answer ``code text`` instead, close without answering, or (at the end of a
#: message only) store the message as usual and then close without answering.
FaultAction = Literal["refuse", "drop", "drop_after_accept"]
FAULT_POINTS: tuple[FaultPoint, ...] = ("mail", "rcpt", "data", "data_end", "bdat", "bdat_last")
FAULT_ACTIONS: tuple[FaultAction, ...] = ("refuse", "drop", "drop_after_accept")
MESSAGE_ENDS: tuple[FaultPoint, ...] = ("data_end", "bdat_last")


def _check_code(code: int, what: str) -> int:
    if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
        raise ValueError(f"{what} must be an SMTP error code from 400 to 599, got {code!r}")
    return code


def _check_count(n: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {n!r}")
    return n


def address_key(address: str) -> str:
    """How recipients are matched: trimmed, without angle brackets, case-insensitive."""
    return address.strip().strip("<>").strip().lower()


@dataclass(frozen=True, slots=True)
class RecipientRule:
    """What happens to one recipient: refused at RCPT with ``code text``, or accepted and bounced later."""

    code: int
    text: str
    at: BounceAt = "rcpt"

    @property
    def reply(self) -> str:
        return f"{self.code} {self.text}"

    @property
    def event(self) -> str:
        """The webhook event it produces: ``hard_bounces`` for 5xx, ``soft_bounces`` for 4xx."""
        return "hard_bounces" if self.code >= 500 else "soft_bounces"


@dataclass(frozen=True, slots=True)
class StreamFault:
    """One scripted fault at a point of the stream; ``reply`` is set for ``refuse`` only."""

    point: FaultPoint
    action: FaultAction
    reply: str | None = None


class Faults:
    """The scripted faults of one relay; :meth:`reset` clears them all."""

    def __init__(self, reply_delay: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._accepted = 0
        #: how often each point was reached, on any connection (stream faults count from these)
        self._reached: dict[FaultPoint, int] = dict.fromkeys(FAULT_POINTS, 0)
        self.reset()
        self._delay = self._check_delay(reply_delay)

    @staticmethod
    def _check_delay(seconds: float) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"reply delay must be a number of seconds >= 0, got {seconds!r}")
        return float(seconds)

    def reset(self) -> None:
        """Clear every fault, including a ``reply_delay`` given to the constructor."""
        with self._lock:
            self._rules: dict[str, RecipientRule] = {}
            self._connection_fault: tuple[int, ConnectionFault] | None = None
            self._data_failure: tuple[str, int] | None = None
            self._delay = 0.0
            self._auth_fails = False
            self._stream: dict[FaultPoint, dict[int, StreamFault]] = {p: {} for p in FAULT_POINTS}

    # recipients
    def refuse(self, address: str, code: int, text: str, at: BounceAt = "rcpt") -> None:
        if at not in ("rcpt", "async"):
            raise ValueError(f"at must be 'rcpt' or 'async', got {at!r}")
        if not isinstance(address, str) or "@" not in address:
            raise ValueError(f"address must be an e-mail address, got {address!r}")
        rule = RecipientRule(_check_code(code, "code"), _one_line(text), at)
        with self._lock:
            self._rules[address_key(address)] = rule

    def rule_for(self, address: str) -> RecipientRule | None:
        with self._lock:
            return self._rules.get(address_key(address))

    # connections
    def close_after(self, n: int, code: int) -> None:
        _check_count(n, "n")
        code = _check_code(code, "code")
        reply = f"{code} {code // 100}.3.0 Service shutting down, closing transmission channel"
        with self._lock:
            self._connection_fault = (self._accepted + n, ("close", reply))

    def drop_after(self, n: int) -> None:
        _check_count(n, "n")
        with self._lock:
            self._connection_fault = (self._accepted + n, ("drop", ""))

    def take_connection_fault(self) -> ConnectionFault | None:
        """At MAIL FROM: the fault to act on now, if its count is reached (it then clears itself)."""
        with self._lock:
            if self._connection_fault is None or self._accepted < self._connection_fault[0]:
                return None
            fault = self._connection_fault[1]
            self._connection_fault = None
            return fault

    def count_accepted(self) -> None:
        with self._lock:
            self._accepted += 1

    # DATA
    def fail_next_data(self, code: int, text: str, times: int) -> None:
        reply = f"{_check_code(code, 'code')} {_one_line(text)}"
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError(f"times must be an integer >= 1, got {times!r}")
        with self._lock:
            self._data_failure = (reply, times)

    def take_data_failure(self) -> str | None:
        """At end of DATA: the reply to refuse this message with, if a failure is scripted."""
        with self._lock:
            if self._data_failure is None:
                return None
            reply, times = self._data_failure
            self._data_failure = (reply, times - 1) if times > 1 else None
            return reply

    # any point of the stream
    def fault_at(
        self, point: FaultPoint, action: FaultAction, *, code: int | None, text: str | None, nth: int
    ) -> StreamFault:
        """Script ``action`` for the ``nth`` time ``point`` is reached from now (1 = the next)."""
        if point not in FAULT_POINTS:
            raise ValueError(f"point must be one of {', '.join(FAULT_POINTS)}, got {point!r}")
        if action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(FAULT_ACTIONS)}, got {action!r}")
        if action == "drop_after_accept" and point not in MESSAGE_ENDS:
            raise ValueError(f"drop_after_accept needs a message end ({' or '.join(MESSAGE_ENDS)})")
        if isinstance(nth, bool) or not isinstance(nth, int) or nth < 1:
            raise ValueError(f"nth must be an integer >= 1, got {nth!r}")
        reply = None
        if action == "refuse":
            code = _check_code(451 if code is None else code, "code")
            kind = "Temporary" if code < 500 else "Permanent"
            text = f"{code // 100}.3.0 {kind} failure at {point} (scripted)" if text is None else text
            reply = f"{code} {_one_line(text)}"
        elif code is not None or text is not None:
            raise ValueError(f"code and text are for action='refuse' only, not {action!r}")
        fault = StreamFault(point, action, reply)
        with self._lock:
            target = self._reached[point] + nth
            if target in self._stream[point]:
                raise ValueError(f"a fault is already scripted for that occurrence of {point!r}")
            self._stream[point][target] = fault
        return fault

    def reach(self, point: FaultPoint) -> StreamFault | None:
        """Count one more arrival at ``point``; the fault scripted for it, if any (then cleared)."""
        with self._lock:
            self._reached[point] += 1
            return self._stream[point].pop(self._reached[point], None)

    @property
    def pending_stream_faults(self) -> list[StreamFault]:
        """The stream faults still to strike, by point and then occurrence."""
        with self._lock:
            return [self._stream[p][n] for p in FAULT_POINTS for n in sorted(self._stream[p])]

    # replies and AUTH
    @property
    def reply_delay(self) -> float:
        with self._lock:
            return self._delay

    def delay_replies(self, seconds: float) -> None:
        seconds = self._check_delay(seconds)
        with self._lock:
            self._delay = seconds

    @property
    def auth_fails(self) -> bool:
        with self._lock:
            return self._auth_fails

    def fail_auth(self, on: bool) -> None:
        with self._lock:
            self._auth_fails = bool(on)


def _one_line(text: str) -> str:
    if not isinstance(text, str) or not text.strip() or "\r" in text or "\n" in text:
        raise ValueError(f"reply text must be one non-empty line, got {text!r}")
    return text.strip()
