"""The rules every store applies the same way, written once: limits, validation of arguments,
the rows a send result becomes, duplicate detection, filters, keyset paging and row decoding.
Standard library only; the stores (SQLite, SQLAlchemy, Django ORM) only run the queries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

from ..errors import ConfigError
from ..events import EVENT_NAMES, Event, EventType, normalize_address
from ..result import SendResult
from .protocols import StoreOutcome
from .schema import stored_message_id

#: Where the store lives when nothing names it: a SQLite file in the working folder.
DEFAULT_STORE_PATH = "acumbamail-events.sqlite3"
#: Environment variable naming the store: a SQLite path or a SQLAlchemy URL.
STORE_ENV = "ACUMBAMAIL_STORE"
#: Per-recipient statuses of a send record.
SEND_STATUSES: tuple[str, ...] = ("sent", "refused", "suppressed")
#: Rows fetched per query by the iterators, so reports over millions of rows stay small in memory.
PAGE_SIZE = 1000
#: Values per ``IN (...)`` query (SQLite limits the number of parameters).
CHUNK = 500

T = TypeVar("T")
K = TypeVar("K")


class Closing:
    """``with store: ...`` closes the store when the block ends."""

    def close(self) -> None:
        """Release the store's connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``: one ``IN (...)`` query each."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def pages(fetch: Callable[[K | None], list[T]], key: Callable[[T], K], size: int) -> Iterator[T]:
    """Keyset paging: ``fetch(None)``, then ``fetch(key(last row))`` while pages come back full."""
    last: K | None = None
    while True:
        rows = fetch(last)
        yield from rows
        if len(rows) < size:
            return
        last = key(rows[-1])


def aware(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused (we cannot know its zone)."""
    if not isinstance(value, datetime):
        raise ConfigError(name, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(name, "must be timezone-aware (e.g. datetime.now(UTC))")
    return value.astimezone(UTC)


_TYPE_VALUES = frozenset(t.value for t in EventType)


def event_types(value: EventType | str | Iterable[EventType | str] | None) -> list[str] | None:
    """The type filter as a list of stored values; names may use any accepted spelling."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        key = str(item).strip().lower().replace("-", "_")
        if key in _TYPE_VALUES:
            out.append(key)
        elif key in EVENT_NAMES:
            out.append(EVENT_NAMES[key].value)
        else:
            names = ", ".join(t.value for t in EventType)
            raise ConfigError("type", f"unknown event type {item!r}; use one of {names}")
    return out


def check_status(status: str | None) -> str | None:
    """``status`` if it is None or one of :data:`SEND_STATUSES`, else ``ConfigError``."""
    if status is not None and status not in SEND_STATUSES:
        raise ConfigError("status", f"must be one of {', '.join(SEND_STATUSES)}; got {status!r}")
    return status


def check_address(address: str) -> str:
    """The normalized form of ``address``, or ``ConfigError`` when it is not an address."""
    if not isinstance(address, str):
        raise ConfigError("address", f"must be a string, got {type(address).__name__}")
    value = normalize_address(address)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in value) or len(value) > 320:
        raise ConfigError("address", f"{address!r} is not an e-mail address")
    return value


#: One filter of ``sends()``/``events()``: (column, operator, value); operators are
#: ``"="``, ``">="``, ``"<"`` and ``"in"`` (value a list).
Criterion = tuple[str, str, Any]


def criteria(time_column: str, since: datetime | None, until: datetime | None,
             category: str | None, recipient: str | None, *,
             status: str | None = None,
             types: EventType | str | Iterable[EventType | str] | None = None) -> list[Criterion]:
    """The filters of ``sends()`` (``status``) or ``events()`` (``types``), validated and
    normalized (aware UTC times, normalized recipient, stored type values)."""
    out: list[Criterion] = []
    if category is not None:
        out.append(("category", "=", category))
    if recipient is not None:
        out.append(("recipient", "=", normalize_address(recipient)))
    if since is not None:
        out.append((time_column, ">=", aware(since, "since")))
    if until is not None:
        out.append((time_column, "<", aware(until, "until")))
    if check_status(status) is not None:
        out.append(("status", "=", status))
    values = event_types(types)
    if values is not None:
        out.append(("type", "in", values))
    return out


def send_rows(results: Sequence[SendResult]) -> list[dict[str, Any]]:
    """The ``sends`` rows for ``results``: one per accepted, refused and suppressed recipient."""
    rows: list[dict[str, Any]] = []
    for result in results:
        base = {"message_id": stored_message_id(result.message_id), "queue_id": result.queue_id,
                "category": result.category, "sent_at": aware(result.sent_at, "sent_at")}
        for address in result.accepted:
            rows.append({**base, "recipient": normalize_address(address), "status": "sent",
                         "reply_code": None, "reply_text": None})
        for address, reply in result.refused.items():
            rows.append({**base, "recipient": normalize_address(address), "status": "refused",
                         "reply_code": reply.code, "reply_text": reply.text})
        for address in result.suppressed:
            rows.append({**base, "recipient": normalize_address(address), "status": "suppressed",
                         "reply_code": None, "reply_text": None})
    return rows


def suppressed_among(addresses: Iterable[str],
                     lookup: Callable[[Sequence[str]], Iterable[str]]) -> set[str]:
    """The given addresses (as given) on the list, asking ``lookup`` (one ``IN`` query that
    returns the stored ones among normalized addresses) once per :data:`CHUNK` addresses."""
    given = list(addresses)
    found: set[str] = set()
    for chunk in chunks(sorted({normalize_address(a) for a in given})):
        found.update(lookup(chunk))
    return {a for a in given if normalize_address(a) in found}


def split_duplicates(events: Sequence[Event], stored: set[str] | frozenset[str]) -> StoreOutcome:
    """``events`` split in order into new ones (the first of each ``event_id`` not in ``stored``)
    and duplicates (already stored, or repeated within ``events``); nothing is joined yet."""
    outcome = StoreOutcome()
    seen = set(stored)
    for event in events:
        if event.event_id in seen:
            outcome.duplicates.append(event)
        else:
            seen.add(event.event_id)
            outcome.new.append(event)
    return outcome


#: One encoder for every ``raw`` column (``json.dumps`` with options builds one per call).
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def raw_json(raw: Any) -> str:
    """The ``raw`` column: the event as received, as JSON."""
    return _RAW_ENCODER.encode(raw)


def event_from_row(row: Sequence[Any]) -> Event:
    """An :class:`Event` from ``(event_id, type, recipient, timestamp, message_key, url,
    category, message_id, raw)`` with ``timestamp`` an aware datetime and ``raw`` JSON text
    or the already decoded value."""
    event_id, type_, recipient, timestamp, message_key, url, category, message_id, raw = row
    if raw is None or isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw else {}
        except ValueError:
            raw = {"raw": raw}
    return Event(type=EventType(type_), recipient=recipient, timestamp=timestamp,
                 message_key=message_key, url=url, category=category, message_id=message_id,
                 event_id=event_id, raw=raw if isinstance(raw, dict) else {"raw": raw})
