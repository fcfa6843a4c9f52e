"""What the fake relay remembers about each message it accepted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, cast

from acumbamail_smtp.message.categories import CATEGORY_HEADER


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One message accepted at end of DATA: the envelope, the bytes, and how the client connected.

    ``id`` is the queue id of the ``250 2.0.0 Ok: queued as <id>`` reply (the webhooks' ``email_key``);
    ``rcpt_tos`` holds only the recipients accepted at RCPT.
    """

    id: str
    mail_from: str
    rcpt_tos: list[str]
    data: bytes = field(repr=False)
    message: EmailMessage = field(repr=False, compare=False)
    category: str | None
    received_at: datetime
    smtputf8: bool = False
    authenticated_as: str | None = None
    tls: bool = False

    @classmethod
    def parse(
        cls,
        *,
        id: str,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        received_at: datetime,
        smtputf8: bool,
        authenticated_as: str | None,
        tls: bool,
    ) -> ReceivedMessage:
        """Build a record from the raw bytes, parsing them with ``email.policy.default``."""
        message = BytesParser(policy=policy.default).parsebytes(data)
        category = message.get(CATEGORY_HEADER)
        return cls(
            id=id,
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            data=data,
            message=message,
            category=None if category is None else str(category),
            received_at=received_at,
            smtputf8=smtputf8,
            authenticated_as=authenticated_as,
            tls=tls,
        )

    @property
    def subject(self) -> str | None:
        value = self.message.get("Subject")
        return None if value is None else str(value)

    @property
    def text(self) -> str | None:
        """The text/plain body, decoded, with ``\n`` line ends; None when there is none."""
        return _body(self.message, "plain")

    @property
    def html(self) -> str | None:
        """The text/html body, decoded, with ``\n`` line ends; None when there is none."""
        return _body(self.message, "html")

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every top-level header, decoded, in order."""
        return [(name, str(value)) for name, value in self.message.items()]

    def summary(self) -> dict[str, Any]:
        """The JSON-ready short form the HTTP API lists."""
        return {
            "id": self.id,
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "subject": self.subject,
            "category": self.category,
            "received_at": self.received_at.isoformat(),
            "size": len(self.data),
            "smtputf8": self.smtputf8,
            "authenticated_as": self.authenticated_as,
            "tls": self.tls,
        }

    def details(self) -> dict[str, Any]:
        """The JSON-ready long form: the summary plus headers, bodies and the raw source."""
        return {
            **self.summary(),
            "headers": [[name, value] for name, value in self.headers],
            "text": self.text,
            "html": self.html,
            "raw": self.data.decode("utf-8", errors="replace"),
        }


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = str(cast(EmailMessage, part).get_content())
    except (LookupError, ValueError):  # unknown charset and the like: best effort
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        content = payload.decode("utf-8", errors="replace")
    return content.replace("\r\n", "\n")
