"""fastapi-mail's ``MessageSchema`` as our :class:`Message`: the conversion the mailer and the
drop-in :class:`~acumbamail_smtp.integrations.fastapi.AcumbamailFastMail` share (its own module so
that neither imports the other)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.utils import parseaddr
from typing import Any

from acumbamail_smtp.errors import InvalidMessage
from acumbamail_smtp.message.addresses import parse_address
from acumbamail_smtp.message.categories import CATEGORY_HEADER
from acumbamail_smtp.message.model import Attachment, Message
from acumbamail_smtp.templates.renderer import Renderer
from fastapi_mail import MessageSchema


def message_from_schema(schema: MessageSchema, *, default_from: str | None = None,
                        template_name: str | None = None, html_template: str | None = None,
                        plain_template: str | None = None, category: str | None = None,
                        renderer: Renderer | None = None,
                        template_folder: str | os.PathLike[str] | None = None) -> Message:
    """fastapi-mail's ``MessageSchema`` as a core :class:`Message`, following fastapi-mail's
    meaning of every field: ``body`` (or ``template_body`` rendered with ``template_name``) is the
    HTML or the text according to ``subtype``; ``alternative_body`` (multipart ``alternative``)
    or ``html_template`` + ``plain_template`` give both parts. ``from_name`` joins ``default_from``.
    An ``ACUMBAMAIL-SMTPAPI`` header becomes the category. Attachments (``UploadFile``, paths,
    ``{"file": ..., "headers": {"Content-ID": ...}, "mime_type": ..., "mime_subtype": ...}``)
    are read now. Anything that cannot be carried over raises :class:`InvalidMessage`."""
    if not isinstance(schema, MessageSchema):
        raise InvalidMessage(f"expected a fastapi_mail.MessageSchema, got {type(schema).__name__}")
    if renderer is None and (template_name or html_template or plain_template):
        renderer = Renderer(template_folder or ())
    subtype = _value(schema.subtype)
    html: str | None
    text: str | None
    if template_name:
        assert renderer is not None
        body: Any = renderer.render_file(template_name, _template_data(schema.template_body))
        html, text = (body, None) if subtype == "html" else (None, body)
    elif html_template or plain_template:
        if not (html_template and plain_template):
            raise InvalidMessage("html_template and plain_template must be given together")
        assert renderer is not None
        data = _template_data(schema.template_body)
        html = renderer.render_file(html_template, data)
        text = renderer.render_file(plain_template, data)
    else:
        body = schema.template_body if schema.template_body else schema.body
        if body is not None and not isinstance(body, str):
            raise InvalidMessage(f"body: a {type(body).__name__} needs a template "
                                 "(template_name) to become the message text")
        alternative = getattr(schema, "alternative_body", None)
        if _value(schema.multipart_subtype) != "alternative":
            alternative = None
        html, text = (body, alternative) if subtype == "html" else (alternative, body)
        if html is None and text is None and not schema.attachments:
            text = ""  # fastapi-mail sends a message without a body (its custom headers example)

    headers: dict[str, str] = {}
    for name, value in (schema.headers or {}).items():
        if str(name).lower() == CATEGORY_HEADER.lower():
            if category is not None and category != value:
                raise InvalidMessage(f"category given twice: {category!r} and header "
                                     f"{CATEGORY_HEADER} {value!r}")
            category = str(value)
        else:
            headers[str(name)] = str(value)
    return Message(
        from_email=_sender(schema, default_from), to=_addresses(schema.recipients),
        subject=schema.subject or "", text=text, html=html, cc=_addresses(schema.cc),
        bcc=_addresses(schema.bcc), reply_to=_addresses(schema.reply_to),
        attachments=[_attachment(item, index) for index, item in enumerate(schema.attachments, 1)],
        headers=headers, category=category,
    )


def _value(value: Any) -> str:
    return str(getattr(value, "value", value))


def _template_data(data: Any) -> dict[str, Any]:
    """The template context, as fastapi-mail builds it: a dict as is, a list as ``body``."""
    if isinstance(data, Mapping):
        return dict(data)
    if isinstance(data, list):
        return {"body": data}
    if data is None:
        return {}
    raise InvalidMessage(f"template_body: a {type(data).__name__} cannot be a template context "
                         "(give a dict, or a list available as 'body')")


def _addresses(values: Sequence[Any] | None) -> list[str]:
    """NameEmail values as ``"Name <addr>"``; pydantic's default name (the local part) is dropped."""
    out: list[str] = []
    for value in values or []:
        name = getattr(value, "name", None)
        email = str(getattr(value, "email", value))
        if not name or name in (email, email.rpartition("@")[0]):
            out.append(email)
        else:
            out.append(str(Address(display_name=name, addr_spec=email)))
    return out


def _sender(schema: MessageSchema, default_from: str | None) -> str | None:
    email = getattr(schema, "from_email", None)
    name = getattr(schema, "from_name", None)
    if not email and not name:
        return None  # the mailer's default_from (MAIL_FROM / MAIL_FROM_NAME)
    if not email:
        if not default_from:
            raise InvalidMessage("from_name given but no from_email and no default sender (MAIL_FROM)")
        email = parseaddr(default_from)[1]
    if not name:
        return str(email)
    try:
        parse_address(str(email), "from_email")
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    return str(Address(display_name=str(name), addr_spec=str(email)))


def _attachment(item: Any, index: int) -> Attachment:
    """One of fastapi-mail's validated attachments, ``(UploadFile, meta or None)``, read now."""
    upload, meta = item if isinstance(item, tuple) else (item, None)
    file = getattr(upload, "file", None)
    if file is None:
        raise InvalidMessage(f"attachment {index}: expected an UploadFile, a path or a dict with 'file'")
    file.seek(0)
    data = file.read()
    filename = getattr(upload, "filename", None) or None
    meta = dict(meta or {})
    mimetype: str | None = None
    if meta.get("mime_type") and meta.get("mime_subtype"):
        mimetype = f"{meta['mime_type']}/{meta['mime_subtype']}"
    else:
        content_type = getattr(upload, "content_type", None) or ""
        mimetype = content_type.split(";")[0].strip() or None
    content_id: str | None = None
    for header, value in dict(meta.get("headers") or {}).items():
        key = str(header).lower()
        if key == "content-id":
            content_id = str(value).strip().removeprefix("<").removesuffix(">")
        elif key == "content-disposition":
            disposition, _, params = str(value).partition(";")
            for param in params.split(";"):
                pname, _, pvalue = param.partition("=")
                if pname.strip().lower() == "filename" and pvalue.strip():
                    filename = pvalue.strip().strip('"')
            if disposition.strip().lower() not in ("inline", "attachment"):
                raise InvalidMessage(f"attachment {filename or index}: unsupported "
                                     f"Content-Disposition {value!r}")
        else:
            raise InvalidMessage(f"attachment {filename or index}: header {header!r} is not supported "
                                 "(only Content-ID and Content-Disposition)")
    return Attachment(bytes(data), filename, mimetype, content_id)
