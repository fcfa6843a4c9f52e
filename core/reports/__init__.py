"""Reports over the event store: summaries, categories, days, URLs, recipients, CSV and HTML."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .html import (
        DEFAULT_ROWS as DEFAULT_ROWS,
    )
    from .html import (
        RESPONSE_HEADERS as RESPONSE_HEADERS,
    )
    from .html import (
        STATUS_LABELS as STATUS_LABELS,
    )
    from .html import (
        TEMPLATE as TEMPLATE,
    )
    from .html import (
        csv_filename as csv_filename,
    )
    from .html import (
        daily_chart as daily_chart,
    )
    from .html import (
        render_report as render_report,
    )
    from .html import (
        served_links as served_links,
    )
    from .html import (
        status_chart as status_chart,
    )
    from .queries import (
        COUNT_NAMES as COUNT_NAMES,
    )
    from .queries import (
        CSV_CHUNK_ROWS as CSV_CHUNK_ROWS,
    )
    from .queries import (
        EXPORT_PAGE as EXPORT_PAGE,
    )
    from .queries import (
        MAX_PAGE as MAX_PAGE,
    )
    from .queries import (
        RATE_NAMES as RATE_NAMES,
    )
    from .queries import (
        REASON_KEYS as REASON_KEYS,
    )
    from .queries import (
        RECIPIENT_COLUMNS as RECIPIENT_COLUMNS,
    )
    from .queries import (
        STATUSES as STATUSES,
    )
    from .queries import (
        SUMMARY_COLUMNS as SUMMARY_COLUMNS,
    )
    from .queries import (
        Progress as Progress,
    )
    from .queries import (
        RecipientPage as RecipientPage,
    )
    from .queries import (
        RecipientRow as RecipientRow,
    )
    from .queries import (
        ReportFilter as ReportFilter,
    )
    from .queries import (
        SQLStore as SQLStore,
    )
    from .queries import (
        Summary as Summary,
    )
    from .queries import (
        UrlClicks as UrlClicks,
    )
    from .queries import (
        by_category as by_category,
    )
    from .queries import (
        by_day as by_day,
    )
    from .queries import (
        clicks_by_url as clicks_by_url,
    )
    from .queries import (
        count_recipients as count_recipients,
    )
    from .queries import (
        decode_cursor as decode_cursor,
    )
    from .queries import (
        encode_cursor as encode_cursor,
    )
    from .queries import (
        iter_recipients as iter_recipients,
    )
    from .queries import (
        parse_when as parse_when,
    )
    from .queries import (
        recipients as recipients,
    )
    from .queries import (
        recipients_csv as recipients_csv,
    )
    from .queries import (
        recipients_document as recipients_document,
    )
    from .queries import (
        recipients_sql as recipients_sql,
    )
    from .queries import (
        report_document as report_document,
    )
    from .queries import (
        resolve_store as resolve_store,
    )
    from .queries import (
        summary as summary,
    )
    from .queries import (
        summary_csv as summary_csv,
    )
    from .queries import (
        summary_sql as summary_sql,
    )
    from .queries import (
        write_csv as write_csv,
    )

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    "COUNT_NAMES": ".queries",
    "CSV_CHUNK_ROWS": ".queries",
    "DEFAULT_ROWS": ".html",
    "EXPORT_PAGE": ".queries",
    "MAX_PAGE": ".queries",
    "Progress": ".queries",
    "RATE_NAMES": ".queries",
    "REASON_KEYS": ".queries",
    "RECIPIENT_COLUMNS": ".queries",
    "RESPONSE_HEADERS": ".html",
    "RecipientPage": ".queries",
    "RecipientRow": ".queries",
    "ReportFilter": ".queries",
    "SQLStore": ".queries",
    "STATUSES": ".queries",
    "STATUS_LABELS": ".html",
    "SUMMARY_COLUMNS": ".queries",
    "Summary": ".queries",
    "TEMPLATE": ".html",
    "UrlClicks": ".queries",
    "by_category": ".queries",
    "by_day": ".queries",
    "clicks_by_url": ".queries",
    "count_recipients": ".queries",
    "csv_filename": ".html",
    "daily_chart": ".html",
    "decode_cursor": ".queries",
    "encode_cursor": ".queries",
    "iter_recipients": ".queries",
    "parse_when": ".queries",
    "recipients": ".queries",
    "recipients_csv": ".queries",
    "recipients_document": ".queries",
    "recipients_sql": ".queries",
    "render_report": ".html",
    "report_document": ".queries",
    "resolve_store": ".queries",
    "served_links": ".html",
    "status_chart": ".html",
    "summary": ".queries",
    "summary_csv": ".queries",
    "summary_sql": ".queries",
    "write_csv": ".queries",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
