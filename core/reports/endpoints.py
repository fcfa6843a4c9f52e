"""The report's four HTTP endpoints without a framework: each adapter maps :data:`ENDPOINTS` onto
its routes and turns an :class:`Answer` into its own response, so the three adapters share the
filtering, the error answer and the private-cache headers instead of each writing them again."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .export import StoreSource, recipients_csv, recipients_document, report_document, resolve_store
from .html import RESPONSE_HEADERS, csv_filename, render_report, served_links
from .model import ReportFilter


@dataclass(frozen=True, slots=True)
class Answer:
    """One endpoint's answer: ``body`` is HTML text, a JSON-ready ``dict``, or an iterator of CSV
    chunks to stream; ``headers`` always carry :data:`RESPONSE_HEADERS`."""

    status: int
    content_type: str
    body: str | dict[str, Any] | Iterator[str]
    headers: dict[str, str] = field(default_factory=lambda: dict(RESPONSE_HEADERS))


def _page(store: StoreSource, query: Mapping[str, str], rows: int) -> Answer:
    flt = ReportFilter.from_query(query)
    html = render_report(resolve_store(store), flt, rows=rows, links=served_links(flt))
    return Answer(200, "text/html; charset=utf-8", html)


def _summary(store: StoreSource, query: Mapping[str, str], rows: int) -> Answer:
    document = report_document(resolve_store(store), ReportFilter.from_query(query))
    return Answer(200, "application/json", document)


def _recipients(store: StoreSource, query: Mapping[str, str], rows: int) -> Answer:
    return Answer(200, "application/json", recipients_document(resolve_store(store), dict(query)))


def _csv(store: StoreSource, query: Mapping[str, str], rows: int) -> Answer:
    flt = ReportFilter.from_query(query)
    chunks = recipients_csv(resolve_store(store), flt.since, flt.until, flt.category, flt.status)
    download = {"Content-Disposition": f'attachment; filename="{csv_filename(flt)}"'}
    return Answer(200, "text/csv", chunks, {**RESPONSE_HEADERS, **download})


Endpoint = Callable[[StoreSource, Mapping[str, str], int], Answer]

#: ``(path below the report's prefix, route name suffix, endpoint)``; the page's path is ``""``.
ENDPOINTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("", "", _page),
    ("summary.json", "_summary", _summary),
    ("recipients.json", "_recipients", _recipients),
    ("recipients.csv", "_csv", _csv),
)


def answer(endpoint: Endpoint, store: StoreSource, query: Mapping[str, str], *, rows: int = 500) -> Answer:
    """Run ``endpoint``; a bad filter (a :class:`ConfigError`) is a 400 naming the field."""
    try:
        return endpoint(store, query, rows)
    except ConfigError as exc:
        return Answer(400, "application/json", {"error": str(exc), "field": exc.field})


__all__ = ["ENDPOINTS", "Answer", "Endpoint", "answer"]
