"""The :class:`Acumbamail` extension: sending through the core :class:`~acumbamail_smtp.Mailer`
with the current app's settings, read from ``app.config`` at every send.

The extension object holds no app: each app's state lives in ``app.extensions["acumbamail"]``
and is found through ``current_app``, so one object serves several apps (and app factories).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import AcumbamailError, ConfigError, InvalidMessage, SendError
from acumbamail_smtp.message.model import Message as CoreMessage
from acumbamail_smtp.message.model import PreparedMessage, prepare
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.store.sqlite import DEFAULT_STORE_PATH, EventStore
from flask import Blueprint, Flask, current_app, has_app_context

from .message import Message, to_core_message
from .settings import SEND_KEYS, SendSettings, logger, send_settings, template_folders, unknown_keys
from .signals import email_dispatched

if TYPE_CHECKING:
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
        self.receiver_cache: tuple[dict[str, Any], EventStore, WebhookReceiver] | None = None
        self.renderer_cache: tuple[tuple[str, ...], Renderer] | None = None

    def settings(self, app: Flask) -> SendSettings:
        """The send settings for ``app.config`` as it is now (cached on the values they use)."""
        snapshot = {key: app.config.get(key) for key in SEND_KEYS}
        cached = self.settings_cache
        if cached is not None and cached[0] == snapshot:
            return cached[1]
        settings = send_settings(app.config, app.testing)
        for key in unknown_keys(app.config):
            logger.warning("app.config[%r] is not an acumbamail-smtp setting (misspelt?)", key)
        self.settings_cache = (snapshot, settings)
        return settings

    def store(self, app: Flask) -> EventStore | None:
        """The event store from ``ACUMBAMAIL_STORE``: a SQLite path (relative ones in the
        instance folder), a database URL, an EventStore, or False for none. Default: a SQLite
        file in ``app.instance_path``."""
        value = app.config.get("ACUMBAMAIL_STORE")
        with self.lock:
            cached = self.store_cache
            if cached is not None and cached[1] == app.instance_path and (
                    cached[0] is value or (isinstance(value, str | os.PathLike) and cached[0] == value)):
                return cached[2]
            store = _open_store(value, app.instance_path)
            self.store_cache = (value, app.instance_path, store)
            return store


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


@contextmanager
def _sender_hint() -> Iterator[None]:
    """Name the Flask settings when a message has no sender and none is configured."""
    try:
        yield
    except InvalidMessage as exc:
        if str(exc).startswith("from_email:") and "default_from" in str(exc):
            raise InvalidMessage("sender: the message has none and neither ACUMBAMAIL_DEFAULT_SENDER "
                                 "nor MAIL_DEFAULT_SENDER is set") from None
        raise


def _dispatched(app: Flask, message: AnyMessage, result: SendResult) -> None:
    """Copy the outcome onto a Flask-Mail-style message and send ``email_dispatched``."""
    _mark(message, result)
    if result.status != "refused":
        email_dispatched.send(app, message=message, result=result)


def _mark(message: AnyMessage, result: SendResult) -> None:
    if isinstance(message, Message):
        message.send_result = result
        message.msgId = result.message_id


class _RecordingMailer(Mailer):
    """Suppressed sending: the core mailer's validation and suppression list (a message left with
    no recipient is refused, as for real), with the SMTP exchange replaced by a ``sent`` result.
    Nothing connects, and nothing is recorded in the store (nothing was sent)."""

    def open(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def _with_retries(self, prepared: PreparedMessage) -> SendResult:
        accepted, suppressed = list(prepared.recipients), list(prepared.suppressed)
        return SendResult(prepared.message_id, SendResult.status_for(accepted, {}, suppressed),
                          accepted, suppressed=suppressed, category=prepared.category)

    def _record(self, results: list[SendResult]) -> None:
        pass


class Connection:
    """One reused connection to the relay, from :meth:`Acumbamail.connect`: open from entering
    the ``with`` block to leaving it (used without ``with``, each call connects for itself).

    With ``ACUMBAMAIL_MAX_EMAILS`` (or ``MAIL_MAX_EMAILS``) set, the connection is reopened after
    that many messages. With sending suppressed, nothing connects: messages are validated,
    checked against the suppression list and recorded.
    """

    def __init__(self, app: Flask, settings: SendSettings, store: EventStore | None) -> None:
        self.app = app
        self.settings = settings
        self.mailer = (_RecordingMailer if settings.suppress else Mailer)(settings.relay, store=store)
        self.sent = 0  # messages on the current connection

    def __enter__(self) -> Connection:
        self.mailer.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.mailer.__exit__(exc_type, exc, tb)

    def send(self, message: AnyMessage) -> SendResult:
        """Send one message; raises :class:`~acumbamail_smtp.RecipientsRefused` when no recipient
        accepted it (its ``result`` is also set on the message)."""
        core = to_core_message(message)
        self._make_room(1)
        try:
            with _sender_hint():
                result = self.mailer.send(core)
        except SendError:
            if core.send_result is not None:
                _mark(message, core.send_result)
            raise
        finally:
            self.sent += 1
        _dispatched(self.app, message, result)
        return result

    def send_message(self, *args: Any, **kwargs: Any) -> SendResult:
        """Build a :class:`Message` from the arguments and send it (Flask-Mail's shortcut)."""
        return self.send(Message(*args, **kwargs))

    def send_many(self, messages: Iterable[AnyMessage]) -> list[SendResult]:
        """Send every message, one result each in order; all are validated before the first is
        sent. A message no recipient accepted gets a ``refused`` result and the batch goes on."""
        originals = list(messages)
        cores = [to_core_message(m) for m in originals]
        with _sender_hint():
            results = self._send_chunks(cores, originals)
        for message, result in zip(originals, results, strict=True):
            _dispatched(self.app, message, result)
        return results

    def _send_chunks(self, cores: list[CoreMessage], originals: list[AnyMessage]) -> list[SendResult]:
        limit = self.settings.max_emails
        if limit is not None and len(cores) > limit - self.sent:
            for core in cores:  # split over connections: validate everything first
                prepare(core, self.settings.relay)
        results: list[SendResult] = []
        while len(results) < len(cores):
            room = self._make_room(len(cores) - len(results))
            chunk = cores[len(results):len(results) + room]
            try:
                results += self.mailer.send_many(chunk)
            except SendError as exc:
                done = [*results, *[r for r in exc.results or [] if isinstance(r, SendResult)]]
                for message, result in zip(originals, done, strict=False):
                    _dispatched(self.app, message, result)
                exc.results = [*results, *(exc.results or []), *(
                    SendError("not sent: the batch stopped at an earlier message")
                    for _ in cores[len(results) + len(chunk):])]
                raise
            finally:
                self.sent += len(chunk)
        return results

    def _make_room(self, wanted: int) -> int:
        """Reopen the connection when it carried ``max_emails``; how many may go on it now."""
        limit = self.settings.max_emails
        if limit is None:
            return wanted
        if self.sent >= limit:
            self.mailer.close()  # the next send opens a fresh connection
            self.sent = 0
        return min(wanted, limit - self.sent)


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
        return Connection(app, settings, state.store(app))

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
