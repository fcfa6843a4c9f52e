"""Reports over the event store: what became of the mail sent in a period, per category and day,
which links were clicked, and the details of every recipient, with streamed CSV exports.

Acumbamail shows transactional statistics only in its panel, so these are computed from the
application's own store (sends recorded by the mailer, events stored by the webhook receiver).

Definitions (the README's "Reports" section says the same):

* The period selects *sends* (``since <= sent_at < until``, UTC); everything that later happened
  to those messages counts, whenever it happened. Events never joined to a recorded send are
  not counted.
* ``sent``: recipients the relay accepted. ``refused`` (refused at RCPT) and ``suppressed``
  (skipped, on the suppression list) are reported apart and are in no rate.
* ``delivered``: accepted recipients with a ``delivered`` event, or an open, click or complaint
  (which prove delivery when the ``delivered`` event was not subscribed or got lost).
* ``opened``: unique, recipients with at least one open or click (a click proves the message was
  opened with images blocked); ``opens`` counts every open event, re-opens included.
* ``unopened``: delivered and never opened. ``clicked``: unique; ``clicks``: every click event.
* ``hard_bounces``, ``soft_bounces``, ``complaints``: accepted recipients with at least one such
  event (a soft bounce later delivered counts as both soft bounce and delivered).
* Rates: opened, unopened, clicked and complaints over ``delivered``; delivered and bounces over
  ``sent`` (a bounce is never delivered, so its rate over delivered would mean nothing).

Every query goes through the store's ``read_sql`` (``SQLiteEventStore`` and
``SQLAlchemyEventStore`` have it), one SQL text for SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import ConfigError
from .model import (
    COUNT_NAMES,
    MAX_PAGE,
    RecipientPage,
    RecipientRow,
    ReportFilter,
    SQLStore,
    Summary,
    UrlClicks,
    as_sql_store,
)

#: Rows per query of the CSV export.
EXPORT_PAGE = 1000
#: Raw webhook fields that may carry a bounce or complaint reason, in order of preference.
REASON_KEYS: tuple[str, ...] = ("reason", "bounce_reason", "description", "diagnostic",
                                "smtp_response", "response", "error", "message")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _filter(since: datetime | None, until: datetime | None, category: str | None,
            status: str = "all") -> ReportFilter:
    return ReportFilter(since=since, until=until, category=category, status=status)


# -- SQL -------------------------------------------------------------------------------------------


def _where(flt: ReportFilter, params: dict[str, Any]) -> list[str]:
    """Conditions on ``sends s`` for the period and category."""
    where: list[str] = []
    if flt.since is not None:
        where.append("s.sent_at >= :since")
        params["since"] = flt.since
    if flt.until is not None:
        where.append("s.sent_at < :until")
        params["until"] = flt.until
    if flt.category is not None:
        where.append("s.category = :category")
        params["category"] = flt.category
    return where


def _has(*types: str) -> str:
    """SQL: the send ``s`` has an event of one of ``types``."""
    kinds = ", ".join(f"'{t}'" for t in types)
    return ("EXISTS (SELECT 1 FROM {events} e WHERE e.message_id = s.message_id"  # noqa: S608 (constants)
            f" AND e.recipient = s.recipient AND e.type IN ({kinds}))")


#: Per status, the SQL condition on an accepted send ``s`` (the definitions in the docstring).
_STATUS_SQL: dict[str, str] = {
    "all": "",
    "opened": _has("opened", "clicked"),
    "not_opened": f"{_has('delivered', 'complaint')} AND NOT {_has('opened', 'clicked')}",
    "clicked": _has("clicked"),
    "hard_bounce": _has("hard_bounce"),
    "soft_bounce": _has("soft_bounce"),
    "complaint": _has("complaint"),
}

#: One row per send in the period with its event counts (events join accepted sends only).
_PER_SEND = """SELECT s.status AS status, s.category AS category, s.sent_at AS sent_at,
 COUNT(CASE WHEN e.type = 'delivered' THEN 1 END) AS delivered,
 COUNT(CASE WHEN e.type = 'opened' THEN 1 END) AS opens,
 COUNT(CASE WHEN e.type = 'clicked' THEN 1 END) AS clicks,
 COUNT(CASE WHEN e.type = 'hard_bounce' THEN 1 END) AS hard,
 COUNT(CASE WHEN e.type = 'soft_bounce' THEN 1 END) AS soft,
 COUNT(CASE WHEN e.type = 'complaint' THEN 1 END) AS complaints
 FROM {sends} s LEFT JOIN {events} e
 ON s.status = 'sent' AND e.message_id = s.message_id AND e.recipient = s.recipient"""

_COUNTS = """COUNT(CASE WHEN p.status = 'sent' THEN 1 END),
 COUNT(CASE WHEN p.status = 'sent' AND p.delivered + p.opens + p.clicks + p.complaints > 0 THEN 1 END),
 COUNT(CASE WHEN p.opens + p.clicks > 0 THEN 1 END),
 COALESCE(SUM(p.opens), 0),
 COUNT(CASE WHEN p.delivered + p.complaints > 0 AND p.opens + p.clicks = 0 THEN 1 END),
 COUNT(CASE WHEN p.clicks > 0 THEN 1 END),
 COALESCE(SUM(p.clicks), 0),
 COUNT(CASE WHEN p.hard > 0 THEN 1 END),
 COUNT(CASE WHEN p.soft > 0 THEN 1 END),
 COUNT(CASE WHEN p.complaints > 0 THEN 1 END),
 COUNT(CASE WHEN p.status = 'refused' THEN 1 END),
 COUNT(CASE WHEN p.status = 'suppressed' THEN 1 END)"""


def _day_sql(dialect: str, column: str) -> str:
    """SQL for the UTC day (``YYYY-MM-DD``) of a timestamp column."""
    if dialect == "sqlite":  # stored as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff"
        return f"substr({column}, 1, 10)"
    if dialect == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"CAST({column} AS DATE)"


def summary_sql(store: SQLStore, flt: ReportFilter, group: str | None = None) -> tuple[str, dict[str, Any]]:
    """The summary query and its parameters; ``group`` is None, ``"category"`` or ``"day"``.
    Public so the benchmark can EXPLAIN it."""
    params: dict[str, Any] = {}
    where = _where(flt, params)
    per_send = (_PER_SEND + (" WHERE " + " AND ".join(where) if where else "")
                + " GROUP BY s.id, s.status, s.category, s.sent_at")
    key = {"category": "p.category", "day": _day_sql(store.dialect, "p.sent_at"), None: "NULL"}[group]
    sql = f"SELECT {key}, {_COUNTS} FROM ({per_send}) p"  # noqa: S608 (constants and placeholders)
    if group is not None:
        sql += " GROUP BY 1"
    return sql, params


def _summaries(store: SQLStore, flt: ReportFilter, group: str | None) -> list[Summary]:
    sql_store = as_sql_store(store)
    sql, params = summary_sql(sql_store, flt, group)
    out = []
    for row in sql_store.read_sql(sql, params):
        key = None if row[0] is None else str(row[0])
        counts = {name: int(value or 0) for name, value in zip(COUNT_NAMES, row[1:], strict=True)}
        out.append(Summary(**counts, key=key))
    out.sort(key=lambda s: (s.key is not None, s.key or ""))
    return out


def summary(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
            category: str | None = None) -> Summary:
    """The counts and rates for the mail sent in ``[since, until)`` (one category, or all)."""
    rows = _summaries(store, _filter(since, until, category), None)
    return rows[0] if rows else Summary()


def by_category(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
                category: str | None = None) -> list[Summary]:
    """One :class:`Summary` per category (``key``; None for mail without one), by name."""
    return _summaries(store, _filter(since, until, category), "category")


def by_day(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
           category: str | None = None) -> list[Summary]:
    """One :class:`Summary` per UTC day of sending (``key`` ``YYYY-MM-DD``), every day from the
    first to the last send included (days without mail have zeros)."""
    found = {row.key: row for row in _summaries(store, _filter(since, until, category), "day")}
    if not found:
        return []
    days = sorted(date.fromisoformat(str(key)) for key in found)
    out = []
    day = days[0]
    while day <= days[-1]:
        key = day.isoformat()
        out.append(found.get(key) or Summary(key=key))
        day += timedelta(days=1)
    return out


def clicks_by_url(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
                  category: str | None = None, limit: int | None = 50) -> list[UrlClicks]:
    """Clicks and unique clickers per URL for the mail sent in the period, most clicked first
    (``limit`` URLs, or all with None). Clicks without a URL are counted under ``""``."""
    sql_store = as_sql_store(store)
    params: dict[str, Any] = {}
    where = ["s.status = 'sent'", "e.type = 'clicked'", *_where(_filter(since, until, category), params)]
    sql = ("SELECT COALESCE(e.url, '') AS url, COUNT(*) AS clicks, COUNT(DISTINCT e.recipient) AS clickers"  # noqa: S608
           " FROM {sends} s JOIN {events} e ON e.message_id = s.message_id AND e.recipient = s.recipient"
           " WHERE " + " AND ".join(where) +
           " GROUP BY COALESCE(e.url, '') ORDER BY clicks DESC, clickers DESC, url")
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = _positive(limit, "limit")
    return [UrlClicks(str(row[0]), int(row[1]), int(row[2])) for row in sql_store.read_sql(sql, params)]


# -- recipients ------------------------------------------------------------------------------------


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(name, f"must be a positive whole number, got {value!r}")
    return value


def _when(value: Any) -> datetime:
    """A timestamp as read back: UTC text (SQLite) or a datetime (PostgreSQL)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def encode_cursor(row: RecipientRow) -> str:
    """The keyset cursor after ``row``: ``<microseconds since the epoch>-<send id>`` (URL-safe)."""
    delta = row.sent_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}-{row.id}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        micros, _, ident = cursor.partition("-")
        return _EPOCH + timedelta(microseconds=int(micros)), int(ident)
    except (ValueError, OverflowError):
        raise ConfigError("after", f"{cursor!r} is not a page cursor (use the 'next' of a page)") from None


def recipients_sql(flt: ReportFilter, params: dict[str, Any], *, after: str | None = None,
                   limit: int | None = None, count: bool = False) -> str:
    """The query of accepted sends matching ``flt``, newest first (or their count). Public so the
    benchmark can EXPLAIN it."""
    where = ["s.status = 'sent'", *_where(flt, params)]
    if _STATUS_SQL[flt.status]:
        where.append(_STATUS_SQL[flt.status])
    if after is not None:
        params["after_at"], params["after_id"] = decode_cursor(after)
        where.append("(s.sent_at < :after_at OR (s.sent_at = :after_at AND s.id < :after_id))")
    columns = "COUNT(*)" if count else "s.id, s.recipient, s.category, s.sent_at, s.message_id"
    sql = f"SELECT {columns} FROM {{sends}} s WHERE " + " AND ".join(where)  # noqa: S608
    if not count:
        sql += " ORDER BY s.sent_at DESC, s.id DESC"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
    return sql


def recipients(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, status: str = "all", *, limit: int = 100,
               after: str | None = None) -> RecipientPage:
    """One page (``limit`` rows, at most :data:`MAX_PAGE`) of accepted recipients of the mail sent
    in the period, newest first, matching ``status`` (one of :data:`STATUSES`). The order
    (``sent_at``, then send id) is stable, so ``after=page.next`` gives the following page."""
    flt = _filter(since, until, category, status)
    limit = _positive(limit, "limit")
    if limit > MAX_PAGE:
        raise ConfigError("limit", f"must be at most {MAX_PAGE}, got {limit}")
    return _page(as_sql_store(store), flt, limit, after)


def _page(store: SQLStore, flt: ReportFilter, limit: int, after: str | None) -> RecipientPage:
    params: dict[str, Any] = {}
    sends = store.read_sql(recipients_sql(flt, params, after=after, limit=limit + 1), params)
    more = len(sends) > limit
    sends = sends[:limit]
    if not sends:
        return RecipientPage()
    events = _events_of(store, sends)
    rows = [_row(send, events.get((str(send[4]), str(send[1])), [])) for send in sends]
    return RecipientPage(rows, encode_cursor(rows[-1]) if more else None)


def _events_of(store: SQLStore, sends: list[tuple[Any, ...]]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """The send-related events of a page of sends, by (message_id, recipient), oldest first; list
    events (subscribed, unsubscribed) and unknown ones are left out, so they never become a row's
    status."""
    messages = {f"m{i}": value for i, value in enumerate(sorted({str(s[4]) for s in sends}))}
    addresses = {f"r{i}": value for i, value in enumerate(sorted({str(s[1]) for s in sends}))}
    sql = ("SELECT e.message_id, e.recipient, e.type, e.timestamp, e.id,"  # noqa: S608 (placeholders only)
           " CASE WHEN e.type IN ('hard_bounce', 'soft_bounce', 'complaint') THEN e.raw END"
           " FROM {events} e WHERE e.message_id IN (" + ", ".join(f":{name}" for name in messages) + ")"
           " AND e.recipient IN (" + ", ".join(f":{name}" for name in addresses) + ")"
           " AND e.type IN ('delivered', 'opened', 'clicked', 'hard_bounce', 'soft_bounce', 'complaint')")
    params = {**messages, **addresses}
    out: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    rows = [(*row[:3], _when(row[3]), *row[4:]) for row in store.read_sql(sql, params)]
    for row in sorted(rows, key=lambda r: (r[3], r[4])):
        out.setdefault((str(row[0]), str(row[1])), []).append(row)
    return out


def _row(send: tuple[Any, ...], events: list[tuple[Any, ...]]) -> RecipientRow:
    types = [str(e[2]) for e in events]
    reasons = [e for e in events if e[5] is not None]
    return RecipientRow(
        id=int(send[0]), recipient=str(send[1]), category=send[2], sent_at=_when(send[3]),
        message_id=str(send[4]), status=types[-1] if types else "sent",
        opens=types.count("opened"), clicks=types.count("clicked"),
        reason=_reason(reasons[-1][5], reasons[-1][2]) if reasons else None,
        last_event_at=events[-1][3] if events else None,
        delivered=any(t in ("delivered", "opened", "clicked", "complaint") for t in types),
        hard_bounce="hard_bounce" in types, soft_bounce="soft_bounce" in types,
        complaint="complaint" in types)


def _reason(raw: Any, kind: str) -> str:
    """The reason the webhook gave for a bounce or complaint, else a plain description."""
    try:
        # text from SQLite, already a dict from a JSON column (Django's ORM on PostgreSQL)
        data = json.loads(raw) if isinstance(raw, str) else raw if isinstance(raw, dict) else {}
    except ValueError:
        data = {}
    if isinstance(data, dict):
        for key in REASON_KEYS:
            value = data.get(key)
            if isinstance(value, str | int) and str(value).strip():
                return " ".join(str(value).split())[:500]
    return {"hard_bounce": "hard bounce (no reason given)", "soft_bounce": "soft bounce (no reason given)",
            "complaint": "marked as spam"}.get(kind, kind)


def count_recipients(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
                     category: str | None = None, status: str = "all") -> int:
    """How many rows :func:`iter_recipients` would give."""
    params: dict[str, Any] = {}
    sql = recipients_sql(_filter(since, until, category, status), params, count=True)
    return int(as_sql_store(store).read_sql(sql, params)[0][0])


def iter_recipients(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
                    category: str | None = None, status: str = "all") -> Iterator[RecipientRow]:
    """Every matching recipient row, newest first, fetched :data:`EXPORT_PAGE` at a time."""
    flt = _filter(since, until, category, status)
    sql_store = as_sql_store(store)
    after: str | None = None
    while True:
        page = _page(sql_store, flt, EXPORT_PAGE, after)
        yield from page.rows
        if page.next is None:
            return
        after = page.next


def outbox_counts(store: SQLStore) -> dict[str, int] | None:
    """How many messages wait in the store's outbox (``queued``, with those ``in_flight``) and
    how many ended ``failed``; None when the store has no outbox table (a Django project that has
    not migrated it, a store whose ``read_sql`` does not name ``{outbox}``)."""
    sql_store = as_sql_store(store)
    try:
        rows = sql_store.read_sql("SELECT status, COUNT(*) FROM {outbox} GROUP BY status")
    except Exception:  # the outbox is optional: no table, or a store that does not know it
        return None
    counts = {str(status): int(count) for status, count in rows}
    return {"queued": counts.get("queued", 0) + counts.get("in_flight", 0), "failed": counts.get("failed", 0)}
