"""Webhook bodies that once crashed the receiver (a 500, or a reset from the standalone server),
with the answer each must get now: the adapters' tests post them through their frameworks."""

from __future__ import annotations

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _nested_multipart(depth: int) -> bytes:
    """A multipart/form-data body whose one field sits ``depth`` multipart/mixed levels down."""
    opening = b"".join(f"Content-Type: multipart/mixed; boundary=b{d}\r\n\r\n--b{d}\r\n".encode()
                       for d in range(depth, 0, -1))
    closing = b"".join(f"\r\n--b{d}--\r\n".encode() for d in range(1, depth + 1))
    field = b'Content-Disposition: form-data; name="event"\r\n\r\nopens\r\n'
    return b"--top\r\n" + opening + field + closing + b"\r\n--top--\r\n"


def _event(timestamp: bytes) -> bytes:
    return b'{"event": "opens", "email": "a@example.com", "timestamp": ' + timestamp + b"}"


#: (id, body, content type, status): 200 stores the event (as ``unknown`` when unreadable).
HOSTILE: list[tuple[str, bytes, str, int]] = [
    ("timestamp 10**400", _event(b"1" + b"0" * 400), JSON, 200),
    ("ISO date at the start of the calendar with an offset", _event(b'"0001-01-01T00:00:00+05:00"'), JSON, 200),
    ("ISO date at the end of the calendar with an offset", _event(b'"9999-12-31T23:59:59-05:00"'), JSON, 200),
    ("a lone surrogate in the recipient", b'{"event": "opens", "email": "\\ud800@example.com"}', JSON, 200),
    ("a charset name with a NUL", b"event=opens&email=a@example.com", FORM + "; charset=utf-8\x00", 400),
    ("an unknown charset", b"event=opens&email=a@example.com", FORM + "; charset=no-such-charset", 400),
    ("form keys nested 5000 deep", b"a" + b"[x]" * 5000 + b"=1", FORM, 400),
    ("JSON nested just under the recursion limit", b"[" * 950 + b"]" * 950, JSON, 400),
    ("an event holding JSON nested 900 deep",
     b'{"event": "opens", "email": "a@example.com", "x": ' + b"[" * 900 + b"]" * 900 + b"}", JSON, 400),
    ("multipart nested 2000 deep", _nested_multipart(2000), "multipart/form-data; boundary=top", 400),
]
