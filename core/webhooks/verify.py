"""Checking who posted a webhook: a secret token in the URL, HTTP Basic credentials, or a
Standard Webhooks signature (:class:`WebhookVerifier`), and signing a body (:func:`sign_webhook`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from ..errors import ConfigError, WebhookAuthError
from ..settings import to_bool

logger = logging.getLogger("acumbamail_smtp.webhooks")

#: How far a Standard Webhooks ``webhook-timestamp`` may be from our clock.
SIGNATURE_TOLERANCE = timedelta(minutes=5)
BASIC_REALM = "acumbamail-smtp webhooks"

def _lower_keys(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (headers or {}).items()}


def _decode_secret(secret: str, position: int) -> bytes:
    if not isinstance(secret, str) or not secret.strip():
        raise ConfigError("signing_secrets", f"secret #{position} must be a non-empty string")
    text = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("signing_secrets",
                          f"secret #{position} is not valid base64 (expected whsec_<base64>)") from None
    if len(key) < 16:
        raise ConfigError("signing_secrets", f"secret #{position} is shorter than 16 bytes")
    return key


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` value (``v1,<base64>``) for ``body``: what a
    sender (or a test) puts in the header for a ``whsec_...`` secret."""
    key = _decode_secret(secret, 1)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookVerifier:
    """Checks that a webhook post comes from whoever holds our secret.

    Acumbamail does not sign its webhooks, so the usual protection is a secret ``token`` in the
    callback URL (a path segment the adapter extracts, or ``?token=``). Optional HTTP Basic
    credentials and Standard Webhooks signatures (for a signing proxy) are also checked; every
    configured method must pass. Several credentials or secrets may be given, for rotation. With
    nothing configured, construction fails unless ``insecure=True``. Secrets never appear in
    ``repr()``, errors or logs.
    """

    def __init__(self, token: str | None = None,
                 basic_auth: Sequence[tuple[str, str]] | None = None,
                 signing_secrets: Sequence[str] | None = None, insecure: bool = False, *,
                 tolerance: timedelta = SIGNATURE_TOLERANCE) -> None:
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ConfigError("token", "must be a non-empty string")
        self._token = token.encode("utf-8") if token is not None else None
        self._basic: list[tuple[bytes, bytes]] = []
        if basic_auth is not None:
            pairs: Sequence[Any] = basic_auth
            if len(pairs) == 2 and all(isinstance(p, str) for p in pairs):
                pairs = [tuple(pairs)]  # one (user, password) pair given bare
            for position, pair in enumerate(pairs, 1):
                if not (isinstance(pair, tuple | list) and len(pair) == 2
                        and all(isinstance(p, str) and p for p in pair)):
                    raise ConfigError("basic_auth", f"credential #{position} must be a (user, password) "
                                                    "pair of non-empty strings")
                if ":" in pair[0]:
                    raise ConfigError("basic_auth", f"credential #{position}: the user name must not "
                                                    "contain ':'")
                self._basic.append((pair[0].encode("utf-8"), pair[1].encode("utf-8")))
            if not self._basic:
                raise ConfigError("basic_auth", "give at least one (user, password) pair, or None")
        secrets = [signing_secrets] if isinstance(signing_secrets, str) else list(signing_secrets or [])
        if signing_secrets is not None and not secrets:
            raise ConfigError("signing_secrets", "give at least one secret, or None")
        self._keys = [_decode_secret(secret, position) for position, secret in enumerate(secrets, 1)]
        self.insecure = to_bool("insecure", insecure)
        self.tolerance = tolerance
        if not self.methods:
            if not self.insecure:
                raise ConfigError("webhook verification",
                                  "configure a token, basic_auth or signing_secrets (or pass "
                                  "insecure=True to accept unauthenticated posts)")
            logger.warning("webhook verification is disabled (insecure=True): anyone who knows the "
                           "callback URL can post events")

    @property
    def methods(self) -> tuple[str, ...]:
        """The configured checks, by name."""
        names = (("token", self._token is not None), ("basic", bool(self._basic)),
                 ("signature", bool(self._keys)))
        return tuple(name for name, on in names if on)

    def __repr__(self) -> str:
        return f"WebhookVerifier(methods={self.methods!r}, insecure={self.insecure})"

    def verify(self, body: bytes, *, headers: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None, path_token: str | None = None,
               now: float | None = None) -> None:
        """Return if the request passes every configured check, else raise
        :class:`WebhookAuthError` (status 401 when credentials are missing, 403 when wrong)."""
        lowered = _lower_keys(headers)
        if self._token is not None:
            self._check_token(path_token if path_token else (query or {}).get("token"))
        if self._basic:
            self._check_basic(lowered.get("authorization"))
        if self._keys:
            self._check_signature(body, lowered, time.time() if now is None else now)

    def _check_token(self, supplied: str | None) -> None:
        assert self._token is not None
        if not supplied:
            raise WebhookAuthError("webhook token missing (expected in the callback URL)", status=401)
        if not hmac.compare_digest(str(supplied).encode("utf-8"), self._token):
            raise WebhookAuthError("webhook token does not match", status=403)

    def _check_basic(self, header: str | None) -> None:
        scheme, _, encoded = (header or "").strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise WebhookAuthError("HTTP Basic credentials missing", status=401)
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            raise WebhookAuthError("HTTP Basic credentials are malformed", status=401) from None
        if not sep:
            raise WebhookAuthError("HTTP Basic credentials are malformed", status=401)
        matched = False
        for good_user, good_password in self._basic:  # no early exit: same work for every pair
            same = hmac.compare_digest(user, good_user) & hmac.compare_digest(password, good_password)
            matched = matched or same
        if not matched:
            raise WebhookAuthError("HTTP Basic credentials are wrong", status=403)

    def _check_signature(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        msg_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not msg_id or not stamp or not signatures:
            raise WebhookAuthError("webhook signature headers missing (webhook-id, webhook-timestamp, "
                                   "webhook-signature)", status=401)
        try:
            sent = int(stamp.strip())
        except ValueError:
            raise WebhookAuthError("webhook-timestamp is not a Unix time", status=403) from None
        if abs(now - sent) > self.tolerance.total_seconds():
            raise WebhookAuthError("webhook-timestamp is outside the accepted tolerance "
                                   f"({int(self.tolerance.total_seconds())} s)", status=403)
        signed = f"{msg_id}.{sent}.".encode() + body
        expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()) for key in self._keys]
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != "v1":
                continue
            for candidate in expected:
                if hmac.compare_digest(value.encode("ascii", "replace"), candidate):
                    return
        raise WebhookAuthError("webhook signature does not match", status=403)

