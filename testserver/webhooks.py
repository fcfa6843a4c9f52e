"""The fake relay's webhook emitter: Acumbamail-shaped events, batched and POSTed from a thread.

A batch is a JSON object keyed ``"1"``, ``"2"``, ... like the real service sends. A failed POST
(no connection or a non-2xx status) is retried with exponential backoff until it succeeds or the
emitter stops; events are removed from the queue only once acknowledged, so none is lost. With a
signing secret the POSTs carry Standard Webhooks headers (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``), which the real service does not send but a hardened receiver may check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

#: The event names the real service uses for transactional mail.
EVENT_NAMES = ("delivered", "hard_bounces", "soft_bounces", "complaints", "opens", "clicks")

FIRST_BACKOFF = 0.05
MAX_BACKOFF = 2.0
BATCH_WINDOW = 0.05
POST_TIMEOUT = 5.0


class WebhookDelivery(NamedTuple):
    """One POST attempt: the HTTP status (None when no response came) and the exact body sent."""

    status: int | None
    body: bytes


def make_event(name: str, email: str, email_key: str, *, url: str | None = None) -> dict[str, Any]:
    """One event as Acumbamail shapes it (``url`` only for clicks)."""
    if name not in EVENT_NAMES:
        raise ValueError(f"unknown event {name!r}; expected one of {', '.join(EVENT_NAMES)}")
    event: dict[str, Any] = {
        "email_key": email_key,
        "timestamp": time.time(),
        "email": email,
        "event": name,
        "campaign_id": None,
        "list_id": None,
        "subscriber_fields": {},
    }
    if url is not None:
        event["url"] = url
    return event


def batch_body(events: list[dict[str, Any]]) -> bytes:
    """The POST body for ``events``: a JSON object keyed "1", "2", ... in order."""
    return json.dumps({str(number): event for number, event in enumerate(events, 1)}).encode()


def parse_signing_secret(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret ``whsec_<base64>`` (the prefix is optional)."""
    if not isinstance(secret, str):
        raise ValueError("webhook_signing_secret must be a string like 'whsec_<base64>'")
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook_signing_secret must be 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("webhook_signing_secret must not be empty")
    return key


def signature(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The Standard Webhooks ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL, else ValueError (which does not echo the URL: it
    may carry a secret token)."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("webhook_url must be an absolute http:// or https:// URL")
    return url


def redact_url(url: str) -> str:
    """Only the scheme, host and port of ``url``: receivers often keep a secret in the path or query."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/..."


class WebhookEmitter:
    """Posts queued events to one URL from a background thread, in order, retrying until acknowledged."""

    def __init__(
        self, url: str, *, signing_secret: str | None = None, batch_size: int = 50
    ) -> None:
        self.url = check_url(url)
        self._where = redact_url(url)
        self._key = None if signing_secret is None else parse_signing_secret(signing_secret)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"webhook_batch_size must be an integer >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        # No proxy: the fake posts straight to the receiver, whatever *_proxy says.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._queue: list[dict[str, Any]] = []
        self._deliveries: list[WebhookDelivery] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"WebhookEmitter(url={self._where!r}, signed={self._key is not None})"

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="fake-relay-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop posting; events not yet acknowledged stay in :attr:`pending` (call flush first)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        with self._cond:
            self._stopping.set()
            self._cond.notify_all()
        thread.join(POST_TIMEOUT + 1)

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        with self._cond:
            self._queue.extend(events)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """How many queued events have not been acknowledged yet."""
        with self._cond:
            return len(self._queue)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self._cond:
            return list(self._deliveries)

    def flush(self, timeout: float = 10.0) -> None:
        """Block until every queued event is acknowledged; AssertionError after ``timeout`` seconds."""
        with self._cond:
            if not self._queue:
                return
            if self._thread is None:
                raise AssertionError(
                    f"{len(self._queue)} webhook event(s) queued but the fake relay is not running"
                )
            if self._cond.wait_for(lambda: not self._queue, timeout):
                return
            pending = len(self._queue)
            statuses = [d.status for d in self._deliveries[-5:]]
        raise AssertionError(
            f"{pending} webhook event(s) still unacknowledged by {self._where} after {timeout} s; "
            f"last attempts answered {statuses} (None means no response)"
        )

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                # A short window lets events of one message (or a burst) share a POST.
                self._cond.wait_for(
                    lambda: len(self._queue) >= self.batch_size or self._stopping.is_set(),
                    BATCH_WINDOW,
                )
                batch = self._queue[: self.batch_size]
            if not self._deliver(batch):
                return
            with self._cond:
                del self._queue[: len(batch)]
                self._cond.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        """POST ``batch`` until acknowledged (True) or the emitter stops (False)."""
        body = batch_body(batch)
        msg_id = f"msg_{uuid.uuid4().hex}"
        backoff = FIRST_BACKOFF
        while not self._stopping.is_set():
            status = self._post(body, msg_id)
            with self._cond:
                self._deliveries.append(WebhookDelivery(status, body))
            if status is not None and 200 <= status < 300:
                return True
            log.info("webhook POST to %s failed (%s); retrying in %.2f s", self._where, status, backoff)
            if self._stopping.wait(backoff):
                break
            backoff = min(backoff * 2, MAX_BACKOFF)
        return False

    def _post(self, body: bytes, msg_id: str) -> int | None:
        headers = {"Content-Type": "application/json", "User-Agent": "acumbamail-smtp-fake-relay"}
        if self._key is not None:
            timestamp = str(int(time.time()))
            headers["webhook-id"] = msg_id
            headers["webhook-timestamp"] = timestamp
            headers["webhook-signature"] = signature(self._key, msg_id, timestamp, body)
        # The scheme was checked to be http(s) in __init__.
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with self._opener.open(request, timeout=POST_TIMEOUT) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            with exc:
                return int(exc.code)
        except (OSError, http.client.HTTPException) as exc:
            log.info("webhook POST to %s failed: %s", self._where, type(exc).__name__)
            return None
