"""Django messages into the core: :class:`AcumbamailMessage` (typed category and template
attributes), :func:`send_template`, and :func:`prepare_message`, which turns any Django
``EmailMessage`` into the core's :class:`~acumbamail_smtp.PreparedMessage`.

Django's own ``message()`` builds the MIME, so every Django feature (alternatives, MIMEBase or
MIMEPart attachments, inline images, encodings, extra headers) is kept exactly; the category
header is set on that object before it is serialized, once.
"""

from __future__ import annotations

import email.policy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import django
from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import InvalidMessage
from acumbamail_smtp.message import PreparedMessage, prepare_raw
from acumbamail_smtp.message.categories import CATEGORY_HEADER, validate_category
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.utils.encoding import force_str

from .templates import render_template

#: Django 6.0 made ``message()`` return an ``email.message.EmailMessage`` built with a policy.
MODERN_MIME = django.VERSION >= (6, 0)
_CATEGORY_KEY = CATEGORY_HEADER.lower()


class AcumbamailMessage(EmailMultiAlternatives):
    """An ``EmailMultiAlternatives`` with Acumbamail's extras as typed attributes.

    ``category`` becomes the ``ACUMBAMAIL-SMTPAPI`` header. With ``template_name`` the subject,
    text and HTML are rendered from the template (with ``context``) when the message is sent, by
    the core's Jinja renderer (``engine="acumbamail"``, folders from ``ACUMBAMAIL["TEMPLATES"]``)
    or by Django's template engines (``engine="django"``: ``NAME.subject.txt``, ``NAME.html`` and
    optionally ``NAME.txt``). After sending, ``acumbamail_status`` holds the SendResult.
    """

    def __init__(self, *args: Any, category: str | None = None, template_name: str | None = None,
                 context: Mapping[str, Any] | None = None, engine: str = "acumbamail",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category = category
        self.template_name = template_name
        self.context: dict[str, Any] = dict(context or {})
        self.engine = engine
        self.rendered = False
        self.acumbamail_status = None

    def message(self, *args: Any, **kwargs: Any) -> Any:
        """Django's MIME message, rendered from the template first: any backend (Django's locmem
        backend in tests, the console backend) sees the finished message."""
        self.render()
        return super().message(*args, **kwargs)

    def render(self) -> None:
        """Render ``template_name`` into the subject, body and HTML alternative (once)."""
        if self.template_name is None or self.rendered:
            return
        result = render_template(self.template_name, self.context, engine=self.engine)
        self.subject = result.subject
        self.body = result.text
        self.attach_alternative(result.html, "text/html")
        self.rendered = True


def message_category(message: EmailMessage, config: RelayConfig) -> str | None:
    """The message's category: its ``category`` attribute, else an ``ACUMBAMAIL-SMTPAPI`` header in
    ``headers=``, else the configured default; validated."""
    value: Any = getattr(message, "category", None)
    if value is None:
        value = next((v for k, v in message.extra_headers.items() if k.lower() == _CATEGORY_KEY), None)
    if value is None:
        return config.default_category
    try:
        return validate_category(force_str(value))
    except ValueError as exc:
        raise InvalidMessage(f"category: {exc}") from None


def prepare_message(message: EmailMessage, config: RelayConfig) -> PreparedMessage:
    """Validate ``message`` and serialize it once, with its category header, for the relay.

    Raises :class:`~acumbamail_smtp.InvalidMessage` naming the problem (bad address, a ``Bcc``
    header, a header Django refuses) before anything is sent.
    """
    if isinstance(message, AcumbamailMessage):
        message.render()
    if any(name.lower() == "bcc" for name in message.extra_headers):
        raise InvalidMessage("headers: 'Bcc' is not sent as a header (it would show the hidden "
                             "recipients); use the bcc argument")
    category = message_category(message, config)
    envelope = prepare_raw(b"", force_str(message.from_email),
                           [force_str(a) for a in message.recipients()])  # one RCPT per address
    try:
        if MODERN_MIME:
            policy = email.policy.SMTPUTF8 if envelope.smtputf8 else email.policy.SMTP
            mime: Any = message.message(policy=policy)
        else:
            mime = message.message()
        if category is not None:
            del mime[CATEGORY_HEADER]
            mime[CATEGORY_HEADER] = category
        data = mime.as_bytes() if MODERN_MIME else mime.as_bytes(linesep="\r\n")
    except ValueError as exc:  # Django's refusals of bad headers and addresses are ValueErrors
        raise InvalidMessage(f"message cannot be built: {exc}") from exc
    return replace(envelope, data=data, message_id=force_str(mime.get("Message-ID", "")).strip(),
                   category=category)


def send_template(name: str, context: Mapping[str, Any] | None = None, *, to: Sequence[str],
                  category: str | None = None, engine: str = "acumbamail", fail_silently: bool = False,
                  using: str | None = None, **fields: Any) -> AcumbamailMessage:
    """Render template ``name`` and send it to ``to``; returns the sent message, whose
    ``acumbamail_status`` holds the result. ``fields`` are ``EmailMessage`` arguments
    (``from_email``, ``cc``, ``bcc``, ``reply_to``, ``headers``, ``attachments``, ``connection``);
    ``using`` names a Django 6.1 mailer."""
    message = AcumbamailMessage(to=list(to), category=category, template_name=name, context=context,
                                engine=engine, **fields)
    message.render()
    options: dict[str, Any] = {}
    if fail_silently:
        options["fail_silently"] = True
    if using is not None:
        options["using"] = using
    message.send(**options)
    return message
