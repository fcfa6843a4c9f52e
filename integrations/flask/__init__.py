"""Flask extension for acumbamail-smtp: a drop-in for Flask-Mail that sends through Acumbamail's
SMTP relay and learns what became of every message.

    from acumbamail_smtp.integrations.flask import Acumbamail, Message

    acumbamail = Acumbamail(app)          # or Acumbamail() + acumbamail.init_app(app)
    acumbamail.send(Message("Hi", recipients=["ana@example.com"], body="Hello", category="SIGNUP"))

Switching from Flask-Mail: ``from acumbamail_smtp.integrations.flask import Acumbamail as Mail,
Message`` (and ``BadHeaderError``, ``email_dispatched`` when used); the ``MAIL_*`` settings keep
working.
"""

from .extension import Acumbamail, AppContextError, Connection
from .health import acumbamail_health_blueprint
from .message import Attachment, BadHeaderError, Message
from .reports import acumbamail_reports_blueprint
from .signals import email_dispatched, message_failed, message_sent, signals, tracking_event

__all__ = [
    "Acumbamail",
    "AppContextError",
    "Attachment",
    "BadHeaderError",
    "Connection",
    "Message",
    "acumbamail_health_blueprint",
    "acumbamail_reports_blueprint",
    "email_dispatched",
    "message_failed",
    "message_sent",
    "signals",
    "tracking_event",
]
