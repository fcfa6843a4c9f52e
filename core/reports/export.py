"""Reports as documents: CSV (streamed in chunks, in constant memory) and JSON-ready dicts, for
the framework views and the command line."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any

from ..errors import ConfigError
from .model import COUNT_NAMES, RATE_NAMES, RecipientRow, ReportFilter, SQLStore, as_sql_store
from .queries import (
    by_category,
    by_day,
    clicks_by_url,
    count_recipients,
    iter_recipients,
    recipients,
    summary,
)

#: Rows per chunk of CSV text yielded by the exports.
CSV_CHUNK_ROWS = 500
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")

# -- CSV -------------------------------------------------------------------------------------------

RECIPIENT_COLUMNS: tuple[str, ...] = ("recipient", "category", "sent_at", "status", "opens", "clicks",
                                      "reason", "last_event_at", "message_id")
SUMMARY_COLUMNS: tuple[str, ...] = ("scope", "key", *COUNT_NAMES, *RATE_NAMES)

Progress = Callable[[int, int], object]
#: A store, or a zero-argument callable returning one (opened when a view is asked).
StoreSource = SQLStore | Callable[[], object]


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_CSV_FORMULA):
        return "'" + value
    return value


def _csv_chunks(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text in chunks of :data:`CSV_CHUNK_ROWS` rows (header first), for streaming: one
    buffer, reused."""
    every = CSV_CHUNK_ROWS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    pending = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        pending += 1
        if pending >= every:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def _recipient_values(row: RecipientRow) -> tuple[Any, ...]:
    return (row.recipient, row.category, row.sent_at, row.status, row.opens, row.clicks, row.reason,
            row.last_event_at, row.message_id)


def recipients_csv(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
                   category: str | None = None, status: str = "all", *,
                   progress: Progress | None = None) -> Iterator[str]:
    """The recipient details as CSV text chunks (for a streamed HTTP response), in constant
    memory; ``progress(done, total)`` is called after each chunk when given."""
    rows: Iterable[RecipientRow] = iter_recipients(store, since, until, category, status)
    if progress is not None:
        rows = _counting(rows, progress, count_recipients(store, since, until, category, status))
    return _csv_chunks(RECIPIENT_COLUMNS, (_recipient_values(r) for r in rows))


def _counting(rows: Iterable[RecipientRow], progress: Progress, total: int) -> Iterator[RecipientRow]:
    done = 0
    for row in rows:
        yield row
        done += 1
        if done % 500 == 0:
            progress(done, total)
    progress(done, total)


def summary_csv(store: SQLStore, since: datetime | None = None, until: datetime | None = None,
                category: str | None = None) -> Iterator[str]:
    """The summary as CSV text: a ``total`` row, then one row per ``category`` and per ``day``."""
    def rows() -> Iterator[tuple[Any, ...]]:
        groups = (("total", [summary(store, since, until, category)]),
                  ("category", by_category(store, since, until, category)),
                  ("day", by_day(store, since, until, category)))
        for scope, items in groups:
            for item in items:
                yield (scope, item.key, *(getattr(item, n) for n in COUNT_NAMES),
                       *(f"{getattr(item, n):.4f}" for n in RATE_NAMES))

    return _csv_chunks(SUMMARY_COLUMNS, rows())


def write_csv(file: IO[str], chunks: Iterable[str]) -> None:
    """Write CSV chunks to an open text file (opened with ``newline=""``)."""
    for chunk in chunks:
        file.write(chunk)


def report_document(store: SQLStore, flt: ReportFilter, *, urls: int = 20) -> dict[str, Any]:
    """The summary, categories, days and top URLs as one JSON-ready document."""
    args = (store, flt.since, flt.until, flt.category)
    return {"filter": flt.as_query(), "summary": summary(*args).as_dict(),
            "by_category": [s.as_dict() for s in by_category(*args)],
            "by_day": [s.as_dict() for s in by_day(*args)],
            "urls": [u.as_dict() for u in clicks_by_url(*args, limit=urls)]}


def resolve_store(store: StoreSource) -> SQLStore:
    """``store``, or what it returns when it is a factory (a zero-argument callable), so views can
    open the store lazily; a ConfigError when that cannot be reported on."""
    return as_sql_store(store() if callable(store) else store)


def recipients_document(store: SQLStore, query: Mapping[str, str]) -> dict[str, Any]:
    """A JSON-ready page of recipients for a URL query: the filter values, ``limit`` (default 100)
    and ``after`` (the ``next`` of the previous page)."""
    flt = ReportFilter.from_query(query)
    text = (query.get("limit") or "100").strip()
    if not text.isdigit():
        raise ConfigError("limit", f"must be a positive whole number, got {text!r}")
    page = recipients(store, flt.since, flt.until, flt.category, flt.status, limit=int(text),
                      after=query.get("after") or None)
    return {"filter": flt.as_query(), "rows": [row.as_dict() for row in page.rows], "next": page.next}
