"""The data types of a message: what the application fills in (:class:`Message`), the resolved
:class:`Headers` handed to the MIME writers, and what goes on the wire (:class:`PreparedMessage`,
made once by :func:`~acumbamail_smtp.message.prepare.prepare`). No logic that needs MIME lives here,
so the writers can import these types without an import circle."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import InvalidMessage
from .addresses import ParsedAddress
from .categories import CATEGORY_HEADER

if TYPE_CHECKING:
    from ..result import SendResult

AddressList = str | Sequence[str] | None
#: Headers the library writes itself; setting them through ``headers`` is refused.
RESERVED_HEADERS = frozenset(
    {"bcc", "content-type", "content-transfer-encoding", "mime-version", "from", "to", "cc",
     "subject", "date", "reply-to", "return-path", CATEGORY_HEADER.lower()}
)


@dataclass(slots=True)
class Attachment:
    """A file to attach: ``content`` is bytes, text, a path, or a binary file object.

    With ``content_id`` set it is an inline image referenced from the HTML as ``cid:<content_id>``.
    """

    content: bytes | str | os.PathLike[str] | IO[bytes]
    filename: str | None = None
    mimetype: str | None = None
    content_id: str | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, mimetype: str | None = None,
                  content_id: str | None = None, filename: str | None = None) -> Attachment:
        """Attach the file at ``path`` (read when the message is prepared)."""
        return cls(Path(path), filename or Path(path).name, mimetype, content_id)

    def read(self) -> tuple[bytes, str, str]:
        """Return ``(data, maintype, subtype)``; text content is encoded as UTF-8."""
        content = self.content
        filename = self.filename
        if isinstance(content, os.PathLike):
            try:
                data = Path(content).read_bytes()
            except OSError as exc:
                raise InvalidMessage(
                    f"attachment {os.fspath(content)!r} cannot be read: {exc.strerror}"
                ) from exc
            filename = filename or Path(content).name
        elif isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
        elif isinstance(content, str):
            data = content.encode("utf-8")
        elif hasattr(content, "read"):
            raw: Any = content.read()
            data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        else:
            raise InvalidMessage(f"attachment content of type {type(content).__name__} is not supported")
        mimetype = self.mimetype
        if mimetype is None:
            guessed = mimetypes.guess_type(filename or "")[0]
            mimetype = guessed or ("text/plain" if isinstance(content, str) else "application/octet-stream")
        maintype, _, subtype = mimetype.partition("/")
        if not maintype or not subtype or "\n" in mimetype or "\r" in mimetype:
            raise InvalidMessage(f"attachment {filename!r}: invalid MIME type {mimetype!r}")
        return data, maintype, subtype


@dataclass(slots=True, eq=False)
class Message:
    """One e-mail to send. An address is ``"addr"`` or ``"Name <addr>"``; ``to``, ``cc``, ``bcc`` and
    ``reply_to`` take one such string (exactly one address) or a list of them.

    ``category`` becomes the ``ACUMBAMAIL-SMTPAPI`` header. A send *returns* its
    :class:`~acumbamail_smtp.SendResult`; the mailers also set ``send_result`` on the message, a
    convenience for code that keeps the message around (the last send wins).
    """

    from_email: str | None = None
    to: AddressList = None
    subject: str = ""
    text: str | None = None
    html: str | None = None
    cc: AddressList = None
    bcc: AddressList = None
    reply_to: AddressList = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    category: str | None = None
    #: The ``Date`` header (an aware datetime, or a Unix time); now when not given.
    date: datetime | float | None = None
    #: The body parts' charset (headers are always RFC 2047 UTF-8); UTF-8 when not given.
    charset: str | None = None
    #: More alternatives after ``text`` and ``html``: ``(subtype, content)`` pairs such as
    #: ``("x-amp-html", ...)``, each a ``text/<subtype>`` part of the multipart/alternative.
    alternatives: list[tuple[str, str]] = field(default_factory=list)
    send_result: SendResult | None = field(default=None, compare=False)

    def attach(self, content: bytes | str | os.PathLike[str] | IO[bytes], filename: str | None = None,
               mimetype: str | None = None, *, content_id: str | None = None) -> Attachment:
        """Add an attachment (or an inline image when ``content_id`` is given) and return it."""
        attachment = Attachment(content, filename, mimetype, content_id)
        self.attachments.append(attachment)
        return attachment

    def attach_file(self, path: str | os.PathLike[str], mimetype: str | None = None, *,
                    content_id: str | None = None) -> Attachment:
        """Attach the file at ``path``."""
        attachment = Attachment.from_path(path, mimetype=mimetype, content_id=content_id)
        self.attachments.append(attachment)
        return attachment

    def recipients(self) -> list[str]:
        """Every envelope recipient (to, cc and bcc), as given."""
        return [str(a) for a in (*_as_list(self.to), *_as_list(self.cc), *_as_list(self.bcc))]


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A validated message, serialized once: the envelope and the bytes for DATA.

    Frozen, so one prepared message can be sent, retried and recorded without any step changing
    it for another; derive a changed copy with :meth:`without` or :func:`dataclasses.replace`.
    """

    source: Message | None
    envelope_from: str
    recipients: list[str]
    data: bytes
    message_id: str
    category: str | None
    smtputf8: bool = False
    #: recipients skipped because they are suppressed (see :meth:`without`)
    suppressed: list[str] = field(default_factory=list)

    def without(self, suppressed: Collection[str]) -> PreparedMessage:
        """A copy whose recipients in ``suppressed`` (compared case-insensitively) are moved from
        ``recipients`` to ``suppressed``; ``self`` when none of them is a recipient."""
        lowered = {address.lower() for address in suppressed}
        skipped = [r for r in self.recipients if r.lower() in lowered]
        if not skipped:
            return self
        return replace(self, recipients=[r for r in self.recipients if r.lower() not in lowered],
                       suppressed=[*self.suppressed, *skipped])


@dataclass(frozen=True, slots=True)
class Headers:
    """The resolved header values of a message, handed to the MIME writer."""

    from_: ParsedAddress
    to: list[ParsedAddress]
    cc: list[ParsedAddress]
    reply_to: list[ParsedAddress]
    subject: str
    date: str
    message_id: str
    category: str | None
    extra: list[tuple[str, str]]
    smtputf8: bool
    #: envelope only: no writer puts Bcc in the message (kept so prepare() parses it once)
    bcc: list[ParsedAddress] = field(default_factory=list)


def _as_list(value: AddressList) -> list[str]:
    """The addresses of a field as given: one string is one address."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def message_from_mapping(values: Mapping[str, Any]) -> Message:
    """Build a :class:`Message` from a mapping of its field names (used by adapters and the CLI)."""
    return Message(**dict(values))
