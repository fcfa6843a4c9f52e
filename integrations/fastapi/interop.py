"""fastapi-mail interoperability: its ``ConnectionConfig`` as our :class:`RelayConfig`, its
``MessageSchema`` as our :class:`Message`, and :class:`AcumbamailFastMail`, a drop-in for its
``FastMail`` that sends over pooled connections.

Switching an app is a change of two objects: the configuration (pointed at Acumbamail) and the
mailer class. What differs, on purpose: certificate checks cannot be turned off without
``allow_insecure=True``, undefined template variables are an error (not an empty string), and a
message is validated completely before anything is sent.
"""

from __future__ import annotations

import contextlib
import functools
import os
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from acumbamail_smtp.config import RelayConfig, config_from_settings
from acumbamail_smtp.errors import ConfigError, InvalidMessage
from acumbamail_smtp.message import Message, PreparedMessage, prepare
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.store.sqlite import EventStore
from fastapi_mail import ConnectionConfig, MessageSchema
from fastapi_mail.errors import EmptyMessagesList as FastMailEmptyMessagesList

from .mailer import FastAPIMailer, RecordingMailer, shared_mailer
from .schema import message_from_schema as message_from_schema
from .settings import AcumbamailSettings


class EmptyMessagesList(InvalidMessage, FastMailEmptyMessagesList):
    """``send_message([])``: both our :class:`InvalidMessage` and fastapi-mail's
    ``EmptyMessagesList``, so either ``except`` catches it."""


#: Which fastapi-mail setting each RelayConfig field comes from (to name it in errors).
CONFIG_FIELDS = {
    "host": "MAIL_SERVER", "port": "MAIL_PORT", "username": "MAIL_USERNAME",
    "password": "MAIL_PASSWORD", "security": "MAIL_STARTTLS", "timeout": "TIMEOUT",
    "ca_file": "CERT_BUNDLE", "default_from": "MAIL_FROM", "local_hostname": "LOCAL_HOSTNAME",
}


def from_fastapi_mail(conf: ConnectionConfig, **overrides: Any) -> RelayConfig:
    """Our relay configuration from fastapi-mail's ``ConnectionConfig``; ``overrides``
    (RelayConfig fields) win. ``MAIL_SSL_TLS`` means implicit TLS, ``MAIL_STARTTLS`` STARTTLS
    (required, not opportunistic), neither a plain connection (refused with credentials unless
    ``allow_insecure=True``). ``TEMPLATE_FOLDER`` and ``SUPPRESS_SEND`` are used by
    :class:`AcumbamailFastMail`; ``MAIL_DEBUG`` is replaced by the ``acumbamail_smtp.smtp`` logger."""
    if not isinstance(conf, ConnectionConfig):
        raise ConfigError("conf", f"expected a fastapi_mail.ConnectionConfig, got {type(conf).__name__}")
    starttls, implicit = bool(conf.MAIL_STARTTLS), bool(conf.MAIL_SSL_TLS)
    if starttls and implicit:
        raise ConfigError("MAIL_SSL_TLS", "MAIL_STARTTLS and MAIL_SSL_TLS are both true; set "
                                          "MAIL_SSL_TLS for implicit TLS (ports 465, 2525) or "
                                          "MAIL_STARTTLS (ports 587, 25252, 25)")
    allow_insecure = bool(overrides.get("allow_insecure", False))
    values: dict[str, Any] = {
        "host": conf.MAIL_SERVER, "port": conf.MAIL_PORT,
        "security": "tls" if implicit else "starttls" if starttls else "none",
        "timeout": float(conf.TIMEOUT), "default_from": _from_address(conf),
    }
    if conf.USE_CREDENTIALS:
        secret = conf.MAIL_PASSWORD
        values["username"] = conf.MAIL_USERNAME
        values["password"] = secret.get_secret_value() if hasattr(secret, "get_secret_value") else secret
    bundle = getattr(conf, "CERT_BUNDLE", None)
    if bundle:
        values["ca_file"] = os.fspath(bundle)
    if getattr(conf, "LOCAL_HOSTNAME", None):
        values["local_hostname"] = conf.LOCAL_HOSTNAME
    if not getattr(conf, "VALIDATE_CERTS", True) and (starttls or implicit):
        if not allow_insecure:
            raise ConfigError("VALIDATE_CERTS", "certificate checks cannot be turned off: give "
                                                "CERT_BUNDLE (the CA file of a private relay), or "
                                                "allow_insecure=True for a trusted local relay")
        values.pop("ca_file", None)
        values["ssl_context"] = _unverified_context()
    values.update(overrides)
    # an error in a value the caller overrode names the keyword; else fastapi-mail's setting
    return config_from_settings(values, {f: n for f, n in CONFIG_FIELDS.items() if f not in overrides})


def _from_address(conf: ConnectionConfig) -> str:
    name = getattr(conf, "MAIL_FROM_NAME", None)
    address = str(conf.MAIL_FROM)
    return str(Address(display_name=name, addr_spec=address)) if name else address


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    """One shared context (so mailers built per request from the same settings share a pool)."""

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# -- MessageSchema -> Message ---------------------------------------------------------------------


# -- the drop-in FastMail -------------------------------------------------------------------------


class AcumbamailFastMail:
    """A drop-in for ``fastapi_mail.FastMail``: ``await AcumbamailFastMail(conf).send_message(
    message, template_name=None)`` with the same ``MessageSchema``, sent over a pool of reused
    connections shared by every instance with the same settings in the event loop (so one per
    request is fine). ``conf`` is fastapi-mail's ``ConnectionConfig``, our ``AcumbamailSettings``
    or a ``RelayConfig``. ``SUPPRESS_SEND`` (read at each send, so ``fm.config.SUPPRESS_SEND = 1``
    works as with FastMail) validates and records without sending;
    ``record_messages()`` and fastapi-mail's ``email_dispatched`` signal work as with FastMail."""

    def __init__(self, config: ConnectionConfig | AcumbamailSettings | RelayConfig, *,
                 mailer: FastAPIMailer | None = None, store: EventStore | None = None,
                 pool_size: int | None = None,
                 template_folder: str | os.PathLike[str] | None = None) -> None:
        self.config = config
        folder: str | os.PathLike[str] | None = None
        if isinstance(config, ConnectionConfig):
            relay = from_fastapi_mail(config)
            folder = config.TEMPLATE_FOLDER
        elif isinstance(config, AcumbamailSettings):
            relay = config.relay_config()
            folder = config.template_folder
            pool_size = pool_size or config.pool_size
        elif isinstance(config, RelayConfig):
            relay = config
        else:
            raise ConfigError("config", "expected a fastapi_mail.ConnectionConfig, AcumbamailSettings "
                                        f"or RelayConfig, got {type(config).__name__}")
        self.relay_config = relay
        self.template_folder = template_folder if template_folder is not None else folder
        self.pool_size = pool_size or 4
        self.store = store
        self._mailer = mailer
        self._recorder: FastAPIMailer | None = None

    @property
    def suppress_send(self) -> bool:
        """Whether sends are only validated and recorded: ``SUPPRESS_SEND`` of the configuration
        as it is now (``suppress_send`` of ``AcumbamailSettings``)."""
        if isinstance(self.config, ConnectionConfig):
            return bool(self.config.SUPPRESS_SEND)
        if isinstance(self.config, AcumbamailSettings):
            return bool(self.config.suppress_send)
        return False

    @property
    def mailer(self) -> FastAPIMailer:
        """The mailer that sends: the one given, a recording one while sending is suppressed,
        else the event loop's shared one."""
        if self._mailer is not None:
            return self._mailer
        if self.suppress_send:
            if self._recorder is None:
                self._recorder = RecordingMailer(self.relay_config, store=self.store,
                                                 template_folder=self.template_folder)
            return self._recorder
        return shared_mailer(self.relay_config, pool_size=self.pool_size, store=self.store,
                             template_folder=self.template_folder)

    async def send_message(self, message: MessageSchema | Message | list[MessageSchema | Message],
                           template_name: str | None = None, html_template: str | None = None,
                           plain_template: str | None = None, *,
                           category: str | None = None) -> SendResult | list[SendResult]:
        """Send one message or a list (each validated before any is sent), as FastMail does;
        returns the :class:`SendResult` (a list for a list). ``category`` sets the Acumbamail
        category of every message."""
        mailer = self.mailer
        batch = message if isinstance(message, list) else [message]
        if not batch:
            raise EmptyMessagesList("the list of messages is empty")
        prepared = [prepare(mailer.to_message(m, template_name=template_name,
                                              html_template=html_template,
                                              plain_template=plain_template, category=category),
                            mailer.config)
                    for m in batch]
        results: list[SendResult] = []
        for item in prepared:
            results.append(await mailer.send_prepared(item))
            _dispatched(item)
        return results if isinstance(message, list) else results[0]

    @contextlib.contextmanager
    def record_messages(self) -> Iterator[list[EmailMessage]]:
        """Collect every message sent (by any FastMail or AcumbamailFastMail) while inside, as
        parsed ``email.message.EmailMessage`` objects, like FastMail's ``record_messages``."""
        outbox: list[EmailMessage] = []

        def record(message: Any) -> None:
            outbox.append(message)

        signal = _signal()
        signal.connect(record)
        try:
            yield outbox
        finally:
            signal.disconnect(record)

    async def aclose(self) -> None:
        """Close the pooled connections (at application shutdown)."""
        await self.mailer.aclose()


def _signal() -> Any:
    from fastapi_mail import fastmail

    return fastmail.email_dispatched


def _dispatched(prepared: PreparedMessage) -> None:
    """Send fastapi-mail's ``email_dispatched`` signal with the message as it went out."""
    signal = _signal()
    if signal.receivers:
        signal.send(message_from_bytes(prepared.data, policy=policy.default))
