"""The :class:`Acumbamail` extension: sending through the core :class:`~acumbamail_smtp.Mailer`
with the current app's settings, read from ``app.config`` at every send.

The extension object holds no app: each app's state lives in ``app.extensions["acumbamail"]``
and is found through ``current_app``, so one object serves several apps (and app factories).
"""

from __future__ import annotations

import os
import threading
import time
from collections import ChainMap
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import AcumbamailError, ConfigError, MissingSender, SendError
from acumbamail_smtp.message.model import Message as CoreMessage
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.settings import to_bool
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.store.sqlite import DEFAULT_STORE_PATH, EventStore
from flask import Blueprint, Flask, current_app, has_app_context

from .mailers import mailer_for
from .message import Message, to_core_message
from .outbox import app_outbox, enqueue, outbox_enabled
from .settings import SEND_KEYS, SendSettings, logger, send_settings, template_folders, unknown_keys
from .signals import email_dispatched, message_sent

if TYPE_CHECKING:
    from acumbamail_smtp.outbox import Outbox
    from acumbamail_smtp.templates.renderer import Renderer
    from acumbamail_smtp.webhooks.receiver import WebhookReceiver

EXTENSION_KEY = "acumbamail"
AnyMessage: TypeAlias = Message | CoreMessage


class AppContextError(AcumbamailError, RuntimeError):
    """The extension was used without a Flask application context, or on an app it was not
    initialized for."""


class _State:
    """One app's state: its extension object and what is cached from its configuration."""

    def __init__(self, extension: Acumbamail) -> None:
        self.extension = extension
        self.lock = threading.Lock()
        self.settings_cache: tuple[dict[str, Any], SendSettings] | None = None
        self.store_cache: tuple[Any, str, EventStore | None] | None = None
        self.outbox_cache: tuple[EventStore | None, Outbox] | None = None
        self.receiver_cache: tuple[dict[str, Any], EventStore, WebhookReceiver] | None = None
        self.renderer_cache: tuple[tuple[str, ...], Renderer] | None = None

    def settings(self, app: Flask) -> SendSettings:
        """The send settings for ``app.config`` as it is now (cached on the values they use)."""
        config = app_config(app)
        snapshot = {key: config.get(key) for key in SEND_KEYS}
        cached = self.settings_cache
        if cached is not None and cached[0] == snapshot:
            return cached[1]
        settings = send_settings(config, app.testing)
        for key in unknown_keys(app.config):
            logger.warning("app.config[%r] is not an acumbamail-smtp setting (misspelt?)", key)
        self.settings_cache = (snapshot, settings)
        return settings

    def store(self, app: Flask) -> EventStore | None:
        """The event store from ``ACUMBAMAIL_STORE``: a SQLite path (relative ones in the
        instance folder), a database URL, an EventStore, or False for none. Default: a SQLite
        file in ``app.instance_path``."""
        value = app_config(app).get("ACUMBAMAIL_STORE")
        with self.lock:
            cached = self.store_cache
            if cached is not None and cached[1] == app.instance_path and (
                    cached[0] is value or (isinstance(value, str | os.PathLike) and cached[0] == value)):
                return cached[2]
            store = _open_store(value, app.instance_path)
            self.store_cache = (value, app.instance_path, store)
            return store

    def outbox(self, app: Flask) -> Outbox | None:
        """The outbox in the app's store when ``ACUMBAMAIL_OUTBOX`` is on, else None (inline)."""
        if not outbox_enabled(app_config(app)):
            return None
        store = self.store(app)
        cached = self.outbox_cache
        if cached is None or cached[0] is not store:
            cached = self.outbox_cache = (store, app_outbox(store))
        return cached[1]


#: Environment names printed by ``acumbamail-smtp testserver`` that differ from the Flask keys.
_ENV_ALIASES = {"ACUMBAMAIL_DEFAULT_FROM": "ACUMBAMAIL_DEFAULT_SENDER"}
#: Keys that set the same thing: a variable is not used when app.config sets any of its group.
_SAME_SETTING = [("ACUMBAMAIL_HOST", "MAIL_SERVER"), ("ACUMBAMAIL_PORT", "MAIL_PORT"),
                 ("ACUMBAMAIL_USERNAME", "MAIL_USERNAME"),
                 ("ACUMBAMAIL_PASSWORD", "ACUMBAMAIL_AUTH_TOKEN", "MAIL_PASSWORD"),
                 ("ACUMBAMAIL_SECURITY", "MAIL_USE_TLS", "MAIL_USE_SSL"),
                 ("ACUMBAMAIL_DEFAULT_SENDER", "MAIL_DEFAULT_SENDER"),
                 ("ACUMBAMAIL_SUPPRESS_SEND", "MAIL_SUPPRESS_SEND"),
                 ("ACUMBAMAIL_MAX_EMAILS", "MAIL_MAX_EMAILS")]


def app_config(app: Flask) -> Mapping[str, Any]:
    """``app.config``, then the ``ACUMBAMAIL_*`` environment variables for keys it leaves unset
    (so the ``export`` block of ``acumbamail-smtp testserver`` works for a Flask app too)."""
    env: dict[str, Any] = {}
    for name, value in os.environ.items():
        if name.startswith("ACUMBAMAIL_") and value != "":
            env[_ENV_ALIASES.get(name, name)] = value
    if not env:
        return app.config
    group = {key: keys for keys in _SAME_SETTING for key in keys}
    unset = {key: value for key, value in env.items()
             if all(app.config.get(k) in (None, "") for k in group.get(key, (key,)))}
    return ChainMap(unset, app.config)


def _open_store(value: Any, instance_path: str) -> EventStore | None:
    if value is False:
        return None
    if isinstance(value, EventStore):
        return value
    if value is None or value == "":
        location = os.path.join(instance_path, DEFAULT_STORE_PATH)
    elif isinstance(value, str | os.PathLike):
        location = os.fspath(value)
        if "://" not in location and location != ":memory:":
            location = os.path.join(instance_path, location)
    else:
        raise ConfigError("ACUMBAMAIL_STORE", "must be a SQLite path, a database URL, an EventStore "
                                              f"or False, got {type(value).__name__}")
    if "://" not in location and location != ":memory:":
        if value in (None, "") and not os.path.exists(location):
            logger.warning("acumbamail-smtp: creating the event store %s (ACUMBAMAIL_STORE; set it to "
                        "False for none)", location)
        os.makedirs(os.path.dirname(location), exist_ok=True)
    try:
        return open_store(location)
    except ConfigError as exc:
        raise ConfigError("ACUMBAMAIL_STORE", exc.problem) from None


def _app_and_state(what: str) -> tuple[Flask, _State]:
    """The current app and its state; :class:`AppContextError` saying what to do otherwise."""
    if not has_app_context():
        raise AppContextError(
            f"{what} needs a Flask application context: call it while handling a request or a "
            "CLI command, or inside `with app.app_context():` (e.g. in a background thread)")
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get(EXTENSION_KEY)
    if not isinstance(state, _State):
        raise AppContextError(f"the Flask app {app.name!r} was not set up for acumbamail-smtp: "
                              "call acumbamail.init_app(app) (or Acumbamail(app)) first")
    return app, state


def _require_senders(messages: Iterable[CoreMessage], relay: RelayConfig) -> None:
    """Raise :class:`MissingSender` before the core would, naming the Flask settings."""
    if not relay.default_from and any(not m.from_email for m in messages):
        raise MissingSender("sender: the message has none and neither ACUMBAMAIL_DEFAULT_SENDER "
                            "nor MAIL_DEFAULT_SENDER is set")


def _dispatched(app: Flask, message: AnyMessage, result: SendResult) -> None:
    """Copy the outcome onto a Flask-Mail-style message and send ``email_dispatched`` (as
    Flask-Mail does) and ``message_sent`` (with the result)."""
    _mark(message, result)
    if result.status != "refused":
        email_dispatched.send(app, message=message)
        message_sent.send(app, message=message, result=result)


def _fill(message: AnyMessage, settings: SendSettings) -> None:
    """Set a Flask-Mail-style message's unset ``sender`` and ``date`` before it is sent, as
    Flask-Mail does (so ``outbox[0].sender`` is the default sender)."""
    if isinstance(message, Message):
        if not message.sender and settings.relay.default_from:
            message.sender = settings.relay.default_from
        if message.date is None:
            message.date = time.time()


def _mark(message: AnyMessage, result: SendResult) -> None:
    if isinstance(message, Message):
        message.send_result = result
        message.msgId = result.message_id


class Connection:
    """One reused connection to the relay, from :meth:`Acumbamail.connect`: open from entering
    the ``with`` block to leaving it (used without ``with``, each call connects for itself).

    With ``ACUMBAMAIL_MAX_EMAILS`` (or ``MAIL_MAX_EMAILS``) set, the connection is reopened after
    that many messages. With sending suppressed, nothing connects: messages are validated,
    checked against the suppression list and recorded.
    """

    def __init__(self, app: Flask, settings: SendSettings, store: EventStore | None,
                 outbox: Outbox | None = None) -> None:
        self.app = app
        self.settings = settings
        self.mailer = mailer_for(settings, store)
        self.outbox = outbox
        self.ascii_attachments = to_bool("MAIL_ASCII_ATTACHMENTS",
                                         app.config.get("MAIL_ASCII_ATTACHMENTS") or False)

    def _core(self, message: AnyMessage) -> CoreMessage:
        _fill(message, self.settings)
        return to_core_message(message, ascii_attachments=self.ascii_attachments)

    def __enter__(self) -> Connection:
        self.mailer.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.mailer.__exit__(exc_type, exc, tb)

    def send(self, message: AnyMessage) -> SendResult:
        """Send one message; raises :class:`~acumbamail_smtp.RecipientsRefused` when no recipient
        accepted it (its ``result`` is also set on the message)."""
        core = self._core(message)
        _require_senders([core], self.settings.relay)
        if self.outbox is not None:  # stored now, sent (and signalled) by the worker
            queued = enqueue(self.outbox, [core], self.settings)[0]
            _mark(message, queued)
            return queued
        try:
            result = self.mailer.send(core)
        except SendError:
            if core.send_result is not None:
                _mark(message, core.send_result)
            raise
        _dispatched(self.app, message, result)
        return result

    def send_message(self, *args: Any, **kwargs: Any) -> SendResult:
        """Build a :class:`Message` from the arguments and send it (Flask-Mail's shortcut)."""
        return self.send(Message(*args, **kwargs))

    def send_many(self, messages: Iterable[AnyMessage]) -> list[SendResult]:
        """Send every message, one result each in order; all are validated before the first is
        sent. A message no recipient accepted gets a ``refused`` result and the batch goes on;
        another error stops it and is raised with ``results`` (one entry per message), the
        messages sent before it dispatched."""
        originals = list(messages)
        cores = [self._core(m) for m in originals]
        _require_senders(cores, self.settings.relay)
        if self.outbox is not None:
            queued = enqueue(self.outbox, cores, self.settings)
            for message, result in zip(originals, queued, strict=True):
                _mark(message, result)
            return queued
        try:
            results = self.mailer.send_many(cores)
        except SendError as exc:
            for message, outcome in zip(originals, exc.results or [], strict=False):
                if isinstance(outcome, SendResult):
                    _dispatched(self.app, message, outcome)
            raise
        for message, result in zip(originals, results, strict=True):
            _dispatched(self.app, message, result)
        return results


class Acumbamail:
    """Send transactional mail from Flask through Acumbamail's SMTP relay.

    ``Acumbamail(app)`` or, with an app factory, ``acumbamail = Acumbamail()`` then
    ``acumbamail.init_app(app)``. Settings come from ``app.config`` (``ACUMBAMAIL_*``, with
    Flask-Mail's ``MAIL_*`` keys as fallbacks) and are read at every send. Every method needs an
    application context (a request, a CLI command, or ``with app.app_context():``).
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._blueprint: Blueprint | None = None
        if app is not None:
            self.init_app(app)

    def __repr__(self) -> str:
        return "Acumbamail()"

    def init_app(self, app: Flask) -> None:
        """Register the extension on ``app``: its state, and the ``flask acumbamail`` commands.
        The configuration is validated now (a bad value raises ConfigError) and read again at
        every send."""
        if EXTENSION_KEY in app.extensions:
            raise AppContextError(f"acumbamail-smtp is already set up on the Flask app {app.name!r}")
        state = _State(self)
        state.settings(app)
        app.extensions[EXTENSION_KEY] = state
        app.extensions.setdefault("mail", self)  # Flask-Mail's key, unless Flask-Mail holds it
        from .cli import acumbamail_cli

        app.cli.add_command(acumbamail_cli)

    # -- settings ---------------------------------------------------------------------------
    def relay_config(self) -> RelayConfig:
        """The current app's :class:`~acumbamail_smtp.RelayConfig`, from ``app.config`` now."""
        app, state = _app_and_state("acumbamail.relay_config()")
        return state.settings(app).relay

    @property
    def sending_suppressed(self) -> bool:
        """Whether the current app only records messages (``ACUMBAMAIL_SUPPRESS_SEND``,
        ``MAIL_SUPPRESS_SEND``, default ``app.testing``)."""
        app, state = _app_and_state("acumbamail.sending_suppressed")
        return state.settings(app).suppress

    @property
    def store(self) -> EventStore | None:
        """The current app's event store (``ACUMBAMAIL_STORE``), opened on first use."""
        app, state = _app_and_state("acumbamail.store")
        return state.store(app)

    # -- sending ----------------------------------------------------------------------------
    def connect(self) -> Connection:
        """A connection to use in a ``with`` block to send several messages over it."""
        app, state = _app_and_state("acumbamail.connect()")
        settings = state.settings(app)
        return Connection(app, settings, state.store(app), state.outbox(app))

    def send(self, message: AnyMessage) -> SendResult:
        """Send one message (ours, Flask-Mail-style, or the core's) and return its result.

        The message is validated before a connection is opened; the connection is closed after."""
        return self.connect().send(message)  # not entered: the Mailer connects after validating

    def send_many(self, messages: Iterable[AnyMessage]) -> list[SendResult]:
        """Send messages over one connection (validated first); see :meth:`Connection.send_many`."""
        return self.connect().send_many(messages)

    def send_message(self, *args: Any, **kwargs: Any) -> SendResult:
        """Build a :class:`Message` from the arguments and send it (Flask-Mail's shortcut)."""
        return self.send(Message(*args, **kwargs))

    def send_template(self, name: str, context: Mapping[str, Any] | None = None, *,
                      to: str | Sequence[str], category: str | None = None,
                      **fields: Any) -> SendResult:
        """Render template ``name`` (see :mod:`acumbamail_smtp.templates.renderer`) and send it.

        Templates are looked up in the app's template folders (and its blueprints'), then in
        ``ACUMBAMAIL_TEMPLATE_FOLDERS``, then among the starter templates; the app's Jinja
        globals and filters are available. ``fields`` are other core Message fields.
        """
        return self.send(self.renderer().render_message(name, context, to=to, category=category,
                                                        **fields))

    def renderer(self) -> Renderer:
        """The current app's template :class:`~acumbamail_smtp.Renderer` (built once)."""
        from acumbamail_smtp.templates.renderer import Renderer

        app, state = _app_and_state("acumbamail.renderer()")
        folders = template_folders(app.config, app.root_path)
        cached = state.renderer_cache
        if cached is None or cached[0] != folders:
            cached = (folders, Renderer(folders, jinja_env=app.jinja_env))
            state.renderer_cache = cached
        return cached[1]

    # -- testing ----------------------------------------------------------------------------
    @contextmanager
    def record_messages(self) -> Iterator[list[AnyMessage]]:
        """Collect every message dispatched (or recorded, when suppressed) while active::

            with acumbamail.record_messages() as outbox:
                client.post("/signup", data={"email": "ana@example.com"})
            assert outbox[0].subject == "Welcome"
        """
        outbox: list[AnyMessage] = []

        def record(app: Flask, message: AnyMessage, **extra: Any) -> None:
            outbox.append(message)

        with email_dispatched.connected_to(record):
            yield outbox

    # -- webhooks ---------------------------------------------------------------------------
    @property
    def webhook_blueprint(self) -> Blueprint:
        """The webhook endpoint: ``POST /webhook`` and ``POST /webhook/<token>``; register it
        with ``app.register_blueprint(acumbamail.webhook_blueprint, url_prefix="/acumbamail")``."""
        if self._blueprint is None:
            from .webhooks import make_blueprint

            self._blueprint = make_blueprint()
        return self._blueprint

    def reports_blueprint(self, *, name: str = "acumbamail_reports") -> Blueprint:
        """A read-only report (HTML page, JSON, CSV) over the current app's event store.

        It shows every recipient address: register it behind your own authentication, e.g.
        ``app.register_blueprint(acumbamail.reports_blueprint(), url_prefix="/admin/mail")`` with a
        ``before_request`` check on that blueprint; never make it public.
        """
        from .reports import acumbamail_reports_blueprint

        return acumbamail_reports_blueprint(lambda: self.store, name=name)

    def webhook_receiver(self) -> WebhookReceiver:
        """The current app's :class:`~acumbamail_smtp.WebhookReceiver` (``ACUMBAMAIL_WEBHOOK_*``)."""
        from .webhooks import receiver_for

        app, state = _app_and_state("acumbamail.webhook_receiver()")
        return receiver_for(app, state)
