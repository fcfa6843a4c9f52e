"""Reports over the event store: what a report is (``model``), the SQL that counts it
(``queries``), CSV and JSON documents (``export``) and the HTML page (``html``).

Every name is loaded on first use, so importing the package stays cheap (the HTML page needs jinja2).
"""

from typing import TYPE_CHECKING

from ..lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .endpoints import ENDPOINTS as ENDPOINTS
    from .endpoints import Answer as Answer
    from .endpoints import Endpoint as Endpoint
    from .endpoints import answer as answer
    from .export import CSV_CHUNK_ROWS as CSV_CHUNK_ROWS
    from .export import RECIPIENT_COLUMNS as RECIPIENT_COLUMNS
    from .export import SUMMARY_COLUMNS as SUMMARY_COLUMNS
    from .export import Progress as Progress
    from .export import StoreSource as StoreSource
    from .export import recipients_csv as recipients_csv
    from .export import recipients_document as recipients_document
    from .export import report_document as report_document
    from .export import resolve_store as resolve_store
    from .export import summary_csv as summary_csv
    from .export import write_csv as write_csv
    from .html import DEFAULT_ROWS as DEFAULT_ROWS
    from .html import RESPONSE_HEADERS as RESPONSE_HEADERS
    from .html import STATUS_LABELS as STATUS_LABELS
    from .html import TEMPLATE as TEMPLATE
    from .html import csv_filename as csv_filename
    from .html import daily_chart as daily_chart
    from .html import render_report as render_report
    from .html import served_links as served_links
    from .html import status_chart as status_chart
    from .model import COUNT_NAMES as COUNT_NAMES
    from .model import MAX_PAGE as MAX_PAGE
    from .model import RATE_NAMES as RATE_NAMES
    from .model import STATUSES as STATUSES
    from .model import RecipientPage as RecipientPage
    from .model import RecipientRow as RecipientRow
    from .model import ReportFilter as ReportFilter
    from .model import SQLStore as SQLStore
    from .model import Summary as Summary
    from .model import UrlClicks as UrlClicks
    from .model import as_sql_store as as_sql_store
    from .model import parse_when as parse_when
    from .queries import EXPORT_PAGE as EXPORT_PAGE
    from .queries import REASON_KEYS as REASON_KEYS
    from .queries import by_category as by_category
    from .queries import by_day as by_day
    from .queries import clicks_by_url as clicks_by_url
    from .queries import count_recipients as count_recipients
    from .queries import decode_cursor as decode_cursor
    from .queries import encode_cursor as encode_cursor
    from .queries import iter_recipients as iter_recipients
    from .queries import outbox_counts as outbox_counts
    from .queries import recipients as recipients
    from .queries import recipients_sql as recipients_sql
    from .queries import summary as summary
    from .queries import summary_sql as summary_sql

_HOMES = {
    **homes(".endpoints", "ENDPOINTS", "Answer", "Endpoint", "answer"),
    **homes(".export", "CSV_CHUNK_ROWS", "Progress", "RECIPIENT_COLUMNS", "SUMMARY_COLUMNS", "StoreSource",
            "recipients_csv", "recipients_document", "report_document", "resolve_store", "summary_csv",
            "write_csv"),
    **homes(".html", "DEFAULT_ROWS", "RESPONSE_HEADERS", "STATUS_LABELS", "TEMPLATE", "csv_filename",
            "daily_chart", "render_report", "served_links", "status_chart"),
    **homes(".model", "COUNT_NAMES", "MAX_PAGE", "RATE_NAMES", "RecipientPage", "RecipientRow",
            "ReportFilter", "SQLStore", "STATUSES", "Summary", "UrlClicks", "as_sql_store", "parse_when"),
    **homes(".queries", "EXPORT_PAGE", "REASON_KEYS", "by_category", "by_day", "clicks_by_url",
            "count_recipients", "decode_cursor", "encode_cursor", "iter_recipients", "outbox_counts",
            "recipients",
            "recipients_sql", "summary", "summary_sql"),
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
