"""Every error the library raises: one base class, one subclass per thing that can go wrong.

Messages name the field or the address at fault and never contain a secret: the password is
never formatted into any of these, and ``__cause__`` keeps the underlying exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import SendResult


class AcumbamailError(Exception):
    """Base class of every error raised by acumbamail-smtp."""


class ConfigError(AcumbamailError, ValueError):
    """A configuration value is missing or invalid; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InvalidMessage(AcumbamailError, ValueError):
    """A message cannot be sent as it is (bad address, no body, header injection...).

    Raised before any connection is opened.
    """


class MissingSender(InvalidMessage):
    """A message has no sender and no default sender is configured (adapters name their setting)."""


class TemplateError(AcumbamailError):
    """A template is missing, invalid, or refers to a variable the context lacks."""


class SendError(AcumbamailError):
    """Base class of the errors raised while talking to the relay."""

    #: When raised by ``send_many``: the outcome of every message of the batch, in order (a
    #: ``SendResult`` for each message sent or refused, an exception for each one not sent).
    results: list[SendResult | BaseException] | None = None

    def __init__(self, message: str, *, code: int | None = None, text: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.text = text


class ConnectionFailed(SendError):
    """The relay could not be reached: DNS, refused connection, TLS handshake, timeout, drop.

    ``retryable`` is False for faults that another try cannot fix (a certificate that does not
    verify, a relay that does not offer STARTTLS). ``ambiguous`` is True when the connection was
    lost after the message's end-of-data and before the relay's reply: the relay may have taken it,
    so another try may deliver it twice (the one duplicate SMTP allows).
    """

    def __init__(self, message: str, *, retryable: bool = True, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.ambiguous = ambiguous


class AuthenticationError(SendError):
    """The relay refused the credentials (535 and friends)."""


class TransientError(SendError):
    """The relay answered 4xx: try again later (retried automatically up to ``max_tries``)."""


class PermanentError(SendError):
    """The relay answered 5xx to the message as a whole."""


class RecipientsRefused(PermanentError):
    """No recipient of the message was accepted (refused by the relay or suppressed).

    ``result`` is the :class:`~acumbamail_smtp.SendResult` that says why, per recipient.
    """

    def __init__(self, message: str, *, result: SendResult) -> None:
        super().__init__(message)
        self.result = result


class WebhookError(AcumbamailError):
    """A webhook request was rejected; ``status`` is the HTTP status to answer with."""

    status: int = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class WebhookAuthError(WebhookError):
    """The webhook request failed verification (token, Basic credentials or signature)."""

    status = 401


class WebhookPayloadError(WebhookError):
    """The webhook body could not be parsed into events."""

    status = 400


class WebhookTooLarge(WebhookError):
    """The webhook body is larger than the accepted maximum."""

    status = 413
