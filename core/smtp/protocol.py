"""The SMTP mail transaction with PIPELINING (RFC 2920), written once and driven by both transports.

:func:`exchange` is the protocol without I/O: a generator that yields bytes to write or ``None``
to read one reply, and returns the :class:`SendResult`. :func:`run_sync` drives it over the
socket ``smtplib`` opened (after its STARTTLS and AUTH); :func:`run_async` over the transport
``aiosmtplib`` opened, whose protocol is swapped for a reply reader that understands several
replies in one packet (aiosmtplib's reads exactly one reply per command, so it cannot pipeline).

With PIPELINING, MAIL, every RCPT and DATA go in one write and the replies are read in order;
the body follows only after a 354. Without it, one command at a time. The body is normalized to
CRLF and dot-stuffed here, once, and written as is.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Generator

from ..errors import PermanentError
from ..message.model import PreparedMessage
from ..result import Reply, SendResult
from .reading import MAX_REPLY_LINE, SocketReplies, parse_reply_line, reply_from_lines
from .replies import CLOSING_CODES, error_for_reply

__all__ = ["MAX_REPLY_LINE", "Exchange", "advance", "command_sync", "crlf_body", "data_block",
           "envelope_commands", "exchange", "mail_options",
           "parse_reply_line", "read_reply", "reply_from_lines", "run_sync"]

Exchange = Generator[bytes | None, Reply | None, SendResult]

_BARE_EOL = re.compile(rb"\r\n|\r|\n")


def crlf_body(data: bytes) -> bytes:
    """The message with CRLF line endings, ending with one: as sent in BDAT (RFC 3030)."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") != crlf or data.count(b"\r") != crlf:
        data = _BARE_EOL.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def data_block(data: bytes) -> bytes:
    """The message as sent after 354: CRLF line endings, dot-stuffed, ending ``.CRLF``."""
    data = crlf_body(data)
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def _command(verb: str, argument: str, encoding: str) -> bytes:
    if "\r" in argument or "\n" in argument:
        raise PermanentError(f"{verb}: line break in {argument!r} refused (command injection)")
    try:
        return f"{verb}{argument}\r\n".encode(encoding)
    except UnicodeEncodeError:
        raise PermanentError(
            f"{verb}: {argument!r} is not ASCII, which needs SMTPUTF8 on the message"
        ) from None


def envelope_commands(prepared: PreparedMessage, options: list[str]) -> tuple[bytes, list[bytes]]:
    """MAIL FROM (with ``options``) and one RCPT TO per recipient, as written on the wire;
    :class:`PermanentError` for an argument that cannot be sent (a line break, non-ASCII without SMTPUTF8)."""
    encoding = "utf-8" if prepared.smtputf8 else "ascii"
    suffix = "".join(" " + option for option in options)
    mail = _command("MAIL FROM:", f"<{prepared.envelope_from}>{suffix}", encoding)
    return mail, [_command("RCPT TO:", f"<{rcpt}>", encoding) for rcpt in prepared.recipients]


def exchange(prepared: PreparedMessage, options: list[str], *, pipelining: bool) -> Exchange:
    """MAIL, RCPT for each recipient, DATA and the body; refused recipients go in the result.

    Raises :class:`TransientError`/:class:`PermanentError` when the relay refuses the message;
    the caller then sends RSET (or reconnects after 421). A result with status ``refused``
    (every recipient refused) also leaves a transaction for the caller to RSET.
    """
    mail, rcpts = envelope_commands(prepared, options)
    if pipelining:
        yield b"".join((mail, *rcpts, b"DATA\r\n"))
    else:
        yield mail
    reply = yield None
    assert reply is not None
    if reply.code != 250:
        if pipelining and reply.code not in CLOSING_CODES:
            # The RCPTs and DATA are on their way: read their (refusing) replies too.
            for _ in range(len(rcpts) + 1):
                late = yield None
                assert late is not None
                if late.code in CLOSING_CODES:
                    break
                if late.code == 354:  # a server that started DATA anyway: end an empty message
                    yield b".\r\n"
                    yield None
        raise error_for_reply("MAIL FROM", reply.code, reply.text)

    accepted: list[str] = []
    refused: dict[str, Reply] = {}
    for rcpt, command in zip(prepared.recipients, rcpts, strict=True):
        if not pipelining:
            yield command
        reply = yield None
        assert reply is not None
        if reply.code in (250, 251):
            accepted.append(rcpt)
        elif reply.code in CLOSING_CODES:
            raise error_for_reply("RCPT TO", reply.code, reply.text)
        else:
            refused[rcpt] = reply
    if not accepted and not pipelining:
        return SendResult(prepared.message_id, "refused", [], refused, list(prepared.suppressed), None,
                          prepared.category)
    if not pipelining:
        yield b"DATA\r\n"
    reply = yield None
    assert reply is not None
    if reply.code != 354:
        if accepted or reply.code in CLOSING_CODES:
            raise error_for_reply("DATA", reply.code, reply.text)
        # Every RCPT refused and DATA refused with them (554/503): no body was sent.
        return SendResult(prepared.message_id, "refused", [], refused, list(prepared.suppressed), None,
                          prepared.category)
    if not accepted:
        # RFC 2920 3.1: DATA accepted with no recipient: send only the terminating dot.
        yield b".\r\n"
        yield None
        return SendResult(prepared.message_id, "refused", [], refused, list(prepared.suppressed), None,
                          prepared.category)
    yield data_block(prepared.data)
    reply = yield None
    assert reply is not None
    if reply.code != 250:
        raise error_for_reply("end of DATA", reply.code, reply.text)
    status = SendResult.status_for(accepted, refused, prepared.suppressed)
    return SendResult(prepared.message_id, status, accepted, refused, list(prepared.suppressed), reply,
                      prepared.category)


# -- the synchronous driver -----------------------------------------------------------------


def read_reply(replies: SocketReplies) -> Reply:
    """Read one (possibly multi-line) reply, within the reader's limits; ``ConnectionError`` if the
    relay hung up, :class:`~acumbamail_smtp.smtp.reading.ReplyError` past a limit."""
    return replies.read()


def mail_options(prepared: PreparedMessage, offers: Callable[[str], bool]) -> list[str]:
    """The MAIL FROM parameters for ``prepared``, given what the relay ``offers`` (an EHLO keyword
    check): SMTPUTF8 when an address needs it (an error when not offered), SIZE when offered."""
    options: list[str] = []
    if prepared.smtputf8:
        if not offers("smtputf8"):
            raise PermanentError(
                "an address has a non-ASCII local part, which needs SMTPUTF8, "
                "and the relay does not offer it"
            )
        options += ["SMTPUTF8", "BODY=8BITMIME"]
    if offers("size"):
        options.append(f"SIZE={len(prepared.data)}")
    return options


def advance(steps: Exchange, answer: Reply | None,
            trace: Callable[[str, object], None] | None = None) -> bytes | SendResult | None:
    """Hand ``answer`` to the exchange and return its next step: bytes to write, None to read a
    reply, or the final :class:`SendResult`. Both drivers below step through it with this, so
    tracing (``trace`` sees each reply and write) is written once."""
    if trace and answer is not None:
        trace("reply:", answer)
    try:
        step = steps.send(answer)
    except StopIteration as stop:
        result: SendResult = stop.value
        return result
    if trace and step is not None:
        trace("send:", step if len(step) < 2048 else f"<{len(step)} bytes>")
    return step


class LostAfterData(ConnectionError):
    """The connection failed after the message's end-of-data was written and before the relay's
    reply to it: the relay may have taken the message (the drivers raise this, the connections
    turn it into ``ConnectionFailed(ambiguous=True)``)."""


def ends_data(step: bytes) -> bool:
    """Whether the write ``step`` is a message's data block (which ends with ``CRLF.CRLF``)."""
    return step.endswith(b"\r\n.\r\n")


def run_sync(steps: Exchange, sock: socket.socket, replies: SocketReplies,
             trace: Callable[[str, object], None] | None = None) -> SendResult:
    """Drive ``steps`` over a connected socket and its bounded reply reader."""
    answer: Reply | None = None
    after_data = False
    while not isinstance(step := advance(steps, answer, trace), SendResult):
        if step is None:
            try:
                answer = replies.read()
            except OSError as exc:
                if after_data:
                    raise LostAfterData(f"{exc} (after end-of-data, before the reply)") from exc
                raise
            after_data = False
        else:
            sock.sendall(step)
            after_data = ends_data(step)
            answer = None
    return step


def command_sync(sock: socket.socket, replies: SocketReplies, line: bytes) -> Reply:
    """One command and its reply (RSET after a refused transaction)."""
    sock.sendall(line)
    return replies.read()
