"""The HTML report: one self-contained page (inline CSS, inline SVG charts drawn here, a small
inline script for the recipient filters; no external request), rendered with Jinja2 (autoescape).

Served by the framework views with ``links`` (JSON and CSV downloads, a filter form that asks the
server again); written to a file by ``acumbamail-smtp report --html`` without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from .model import STATUSES, ReportFilter, SQLStore, Summary
from .queries import (
    by_category,
    by_day,
    clicks_by_url,
    count_recipients,
    recipients,
    summary,
)

#: Recipient rows embedded in the page by default (the CSV export has them all).
DEFAULT_ROWS = 500
TEMPLATE = "report.html"

STATUS_LABELS: dict[str, str] = {
    "all": "All", "not_opened": "Not opened", "opened": "Opened", "clicked": "Clicked",
    "hard_bounce": "Hard bounce", "soft_bounce": "Soft bounce", "complaint": "Complaint",
    "sent": "Sent", "delivered": "Delivered", "unknown": "Unknown",
}

#: Bars of the status chart: (label, Summary attribute, colour).
_STATUS_BARS = (
    ("Delivered", "delivered", "#2e7d32"), ("Opened", "opened", "#1565c0"),
    ("Unopened", "unopened", "#90a4ae"), ("Clicked", "clicked", "#6a1b9a"),
    ("Hard bounces", "hard_bounces", "#c62828"), ("Soft bounces", "soft_bounces", "#ef6c00"),
    ("Complaints", "complaints", "#ad1457"),
)
_SERIES = (("Sent", "sent", "#455a64"), ("Delivered", "delivered", "#2e7d32"),
           ("Opened", "opened", "#1565c0"), ("Clicked", "clicked", "#6a1b9a"))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(Path(__file__).parent),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda value: f"{value * 100:.1f}%"
    env.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M") if value else ""
    env.globals["status_label"] = lambda name: STATUS_LABELS.get(name, name)
    return env


def status_chart(total: Summary) -> Markup:
    """Horizontal bars of the status breakdown, scaled to the number sent, as inline SVG."""
    width, bar_x, bar_w, row_h = 640, 130, 420, 30
    scale = max(total.sent, 1)
    parts = [f'<svg class="chart" role="img" aria-labelledby="status-chart-title" viewBox="0 0 {width} '
             f'{row_h * len(_STATUS_BARS) + 10}" width="100%" xmlns="http://www.w3.org/2000/svg">'
             '<title id="status-chart-title">Status breakdown of the accepted recipients</title>']
    for index, (label, name, colour) in enumerate(_STATUS_BARS):
        value = int(getattr(total, name))
        y = 5 + index * row_h
        length = round(bar_w * value / scale, 1)
        parts.append(
            f'<g class="bar" data-metric="{name}"><text x="{bar_x - 8}" y="{y + 19}" text-anchor="end">'
            f'{escape(label)}</text><rect x="{bar_x}" y="{y + 4}" width="{bar_w}" height="20" '
            f'fill="#eceff1"/><rect x="{bar_x}" y="{y + 4}" width="{length}" height="20" fill="{colour}">'
            f'<title>{escape(label)}: {value}</title></rect>'
            f'<text x="{bar_x + bar_w + 8}" y="{y + 19}">{value}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)


def daily_chart(days: Sequence[Summary]) -> Markup:
    """Lines of sent, delivered, opened and clicked per day, as inline SVG."""
    if not days:
        return Markup('<p class="empty">No mail in this period.</p>')
    width, height, left, right, top, bottom = 640, 240, 44, 12, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(d.sent for d in days), 1)
    step = plot_w / max(len(days) - 1, 1)

    def point(index: int, value: int) -> tuple[float, float]:
        x = left + (index * step if len(days) > 1 else plot_w / 2)
        return round(x, 1), round(top + plot_h - plot_h * value / peak, 1)

    axis = 'stroke="#90a4ae"'
    first, last = escape(days[0].key or ""), escape(days[-1].key or "")
    parts = [f'<svg class="chart" role="img" aria-labelledby="daily-chart-title" '
             f'viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">'
             '<title id="daily-chart-title">Messages per day</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" {axis}/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" {axis}/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
             f'<text x="{left}" y="{height - 18}">{first}</text>',
             f'<text x="{width - right}" y="{height - 18}" text-anchor="end">{last}</text>']
    for offset, (label, name, colour) in enumerate(_SERIES):
        points = [point(i, int(getattr(d, name))) for i, d in enumerate(days)]
        path = " ".join(f"{x},{y}" for x, y in points)
        parts.append(f'<g class="series" data-series="{name}"><polyline points="{path}" fill="none" '
                     f'stroke="{colour}" stroke-width="2"/>')
        for (x, y), day in zip(points, days, strict=True):
            parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{escape(day.key or "")} '
                         f'{escape(label)}: {int(getattr(day, name))}</title></circle>')
        parts.append(f'<rect x="{left + offset * 110}" y="{height - 12}" width="10" height="10" '
                     f'fill="{colour}"/><text x="{left + offset * 110 + 14}" y="{height - 3}">'
                     f'{escape(label)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped labels only)


def render_report(store: SQLStore, flt: ReportFilter | None = None, *, rows: int = DEFAULT_ROWS,
                  links: Mapping[str, str] | None = None, title: str = "Transactional mail report",
                  now: datetime | None = None) -> str:
    """The report page for ``flt`` (period and category; its status preselects the recipient
    filter). ``rows``: recipient rows embedded. ``links``: for a served page, URLs named
    ``form`` (the page itself), ``summary_json``, ``recipients_json`` and ``recipients_csv``."""
    flt = flt or ReportFilter()
    args = (store, flt.since, flt.until, flt.category)
    total = summary(*args)
    days = by_day(*args)
    page = recipients(*args, limit=min(rows, 1000)) if rows > 0 else None
    rows_list = list(page.rows) if page else []
    after = page.next if page else None
    while after is not None and len(rows_list) < rows:  # more than one page wanted
        more = recipients(*args, limit=min(rows - len(rows_list), 1000), after=after)
        rows_list.extend(more.rows)
        after = more.next
    context: dict[str, Any] = {
        "title": title, "flt": flt, "total": total, "days": days,
        "categories": by_category(*args), "urls": clicks_by_url(*args, limit=20),
        "rows": rows_list, "row_total": count_recipients(*args) if after is not None else len(rows_list),
        "statuses": STATUSES, "links": dict(links or {}),
        "status_chart": status_chart(total), "daily_chart": daily_chart(days),
        "generated": (now or datetime.now(UTC)).astimezone(UTC),
        "since_value": flt.since.isoformat() if flt.since else "",
        "until_value": flt.until.isoformat() if flt.until else "",
    }
    context["row_categories"] = sorted({c.key or "" for c in context["categories"]}
                                       | {r.category or "" for r in rows_list})
    return _environment().get_template(TEMPLATE).render(context)


def served_links(flt: ReportFilter) -> dict[str, str]:
    """Links of a served page to its siblings (``summary.json``, ``recipients.json``,
    ``recipients.csv``), relative, so they work under whatever prefix the page is mounted at (its
    URL ends with ``/``), carrying the page's filter."""
    query = urlencode(flt.as_query())
    suffix = f"?{query}" if query else ""
    return {"form": "./", "summary_json": f"summary.json{suffix}",
            "recipients_json": f"recipients.json{suffix}", "recipients_csv": f"recipients.csv{suffix}"}


def csv_filename(flt: ReportFilter) -> str:
    """A download name such as ``recipients-2024-05-01-2024-06-01.csv``."""
    parts = ["recipients"]
    parts += [value.strftime("%Y-%m-%d") for value in (flt.since, flt.until) if value is not None]
    if flt.status != "all":
        parts.append(flt.status)
    return "-".join(parts) + ".csv"


#: Headers for every report response: private data, never cached, never indexed.
RESPONSE_HEADERS: dict[str, str] = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex",
                                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


__all__ = ["DEFAULT_ROWS", "RESPONSE_HEADERS", "csv_filename", "daily_chart", "render_report", "served_links",
           "status_chart"]
