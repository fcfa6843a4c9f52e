"""``acumbamail-smtp report``: the report as aligned plain-text tables, and its CSV and HTML exports."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from ..errors import ConfigError
from ..reports import (
    STATUSES,
    RecipientRow,
    ReportFilter,
    SQLStore,
    Summary,
    as_sql_store,
    by_category,
    by_day,
    clicks_by_url,
    outbox_counts,
    recipients,
    recipients_csv,
    summary,
    summary_csv,
    write_csv,
)
from ..store.open import open_store
from ..store.sqlite import DEFAULT_STORE_PATH, STORE_ENV

#: Exports with more rows than this show a progress bar on stderr.
PROGRESS_THRESHOLD = 5000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report", help="delivery, open, click and bounce report from the event store",
        description="Report on the mail sent in a period (UTC): summary, categories, days, clicked "
                    "links and, with --status, the recipients. Dates are YYYY-MM-DD (--until "
                    "includes its day) or ISO datetimes.")
    parser.add_argument("--store", metavar="PATH",
                        help=f"SQLite event store (default: ${STORE_ENV}, else {DEFAULT_STORE_PATH})")
    parser.add_argument("--db-url", metavar="URL",
                        help="a SQLAlchemy database URL instead, e.g. postgresql+psycopg://user@host/db")
    parser.add_argument("--since", metavar="WHEN", help="first day or time of sending")
    parser.add_argument("--until", metavar="WHEN", help="last day (included), or end time (excluded)")
    parser.add_argument("--category", help="only this category")
    parser.add_argument("--status", choices=STATUSES, default=None,
                        help="list the recipients with this status (also filters --csv)")
    parser.add_argument("--limit", type=int, default=50, metavar="N",
                        help="recipients listed in the terminal (default 50)")
    parser.add_argument("--csv", metavar="FILE", help="write every matching recipient as CSV ('-': stdout)")
    parser.add_argument("--summary-csv", metavar="FILE", help="write the summary, categories and days as CSV")
    parser.add_argument("--html", metavar="FILE", help="write the report as one self-contained HTML page")
    parser.add_argument("--rows", type=int, default=500, metavar="N",
                        help="recipient rows embedded in the HTML page (default 500)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for large exports")
    parser.set_defaults(func=run_report)


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[SQLStore]:
    if args.db_url and args.store:
        raise ConfigError("--db-url", "give either --store or --db-url, not both")
    location = args.db_url or args.store or os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH
    if "://" not in location and not os.path.exists(location):
        raise ConfigError("--store", f"no event store at {location!r}")
    store = open_store(location)
    try:
        yield as_sql_store(store)
    finally:
        store.close()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Plain-text columns, numbers right-aligned, text left-aligned."""
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) and bool(rows) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [value.rjust(w) if num else value.ljust(w)
                 for value, w, num in zip(row, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) or (isinstance(value, str) and value.endswith("%")
                                              and value[:-1].replace(".", "", 1).isdigit())


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def summary_table(total: Summary) -> str:
    rows = [("sent", total.sent, ""), ("delivered", total.delivered, _pct(total.delivery_rate)),
            ("opened (unique)", total.opened, _pct(total.open_rate)), ("opens (all)", total.opens, ""),
            ("unopened", total.unopened, _pct(total.unopened_rate)),
            ("clicked (unique)", total.clicked, _pct(total.click_rate)), ("clicks (all)", total.clicks, ""),
            ("hard bounces", total.hard_bounces, _pct(total.hard_bounce_rate)),
            ("soft bounces", total.soft_bounces, _pct(total.soft_bounce_rate)),
            ("complaints", total.complaints, _pct(total.complaint_rate)),
            ("refused at send", total.refused, ""), ("suppressed", total.suppressed, "")]
    return format_table(("metric", "count", "rate"), rows)


def group_table(title: str, items: Sequence[Summary]) -> str:
    rows = [(item.key if item.key is not None else "(none)", item.sent, item.delivered, item.opened,
             _pct(item.open_rate), item.clicked, _pct(item.click_rate), item.hard_bounces,
             item.soft_bounces, item.complaints) for item in items]
    return format_table((title, "sent", "delivered", "opened", "open%", "clicked", "click%", "hard",
                         "soft", "complaints"), rows)


def recipient_table(rows: Sequence[RecipientRow]) -> str:
    return format_table(("recipient", "category", "sent at", "status", "opens", "clicks", "reason"), [
        (r.recipient, r.category or "", r.sent_at.strftime("%Y-%m-%d %H:%M"), r.status, r.opens, r.clicks,
         r.reason or "") for r in rows])


def progress_bar(stream: IO[str], width: int = 30) -> Any:
    """A ``progress(done, total)`` callback drawing ``[#####.....]  42% 4200/10000`` with ``\\r``."""
    def draw(done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(width * share)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {share * 100:3.0f}% {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return draw


def run_report(args: argparse.Namespace) -> int:
    flt = ReportFilter.from_query({"since": args.since or "", "until": args.until or "",
                                   "category": args.category or "", "status": args.status or "all"})
    for name in ("limit", "rows"):
        if getattr(args, name) < 0:
            raise ConfigError(f"--{name}", f"must be 0 or more, got {getattr(args, name)}")
    with _store(args) as store:
        period = (store, flt.since, flt.until, flt.category)
        out = sys.stdout if args.csv != "-" else sys.stderr  # keep stdout clean for a CSV
        sections = [("Summary", summary_table(summary(*period))),
                    ("By category", group_table("category", by_category(*period))),
                    ("By day (UTC)", group_table("day", by_day(*period)))]
        urls = clicks_by_url(*period, limit=20)
        sections.append(("Top links", format_table(("url", "clicks", "unique"), [
            (u.url or "(no URL)", u.clicks, u.unique_clickers) for u in urls])))
        waiting = outbox_counts(store)
        if waiting is not None:
            sections.append(("Outbox", format_table(("queued", "failed"),
                                                    [(waiting["queued"], waiting["failed"])])))
        if args.status is not None and args.limit > 0:
            page = recipients(*period, status=flt.status, limit=min(args.limit, 1000))
            more = " (more: use --csv)" if page.next else ""
            sections.append((f"Recipients: {flt.status}{more}", recipient_table(page.rows)))
        print(_describe(flt), file=out)
        for title, body in sections:
            print(f"\n{title}\n{body}", file=out)
        if args.csv:
            _export(args, store, flt)
        if args.summary_csv:
            with open(args.summary_csv, "w", newline="", encoding="utf-8") as handle:
                write_csv(handle, summary_csv(*period))
            print(f"wrote the summary to {args.summary_csv}", file=sys.stderr)
        if args.html:
            from ..reports import render_report

            with open(args.html, "w", encoding="utf-8") as handle:
                handle.write(render_report(store, flt, rows=args.rows))
            print(f"wrote the HTML report to {args.html}", file=sys.stderr)
    return 0


def _export(args: argparse.Namespace, store: SQLStore, flt: ReportFilter) -> None:
    from ..reports import count_recipients

    total = count_recipients(store, flt.since, flt.until, flt.category, flt.status)
    bar = progress_bar(sys.stderr) if total > PROGRESS_THRESHOLD and not args.no_progress else None
    chunks = recipients_csv(store, flt.since, flt.until, flt.category, flt.status, progress=bar)
    if args.csv == "-":
        write_csv(sys.stdout, chunks)
        return
    with open(args.csv, "w", newline="", encoding="utf-8") as handle:
        write_csv(handle, chunks)
    print(f"wrote {total} recipient row(s) to {args.csv}", file=sys.stderr)


def _describe(flt: ReportFilter) -> str:
    since = flt.since.strftime("%Y-%m-%d %H:%M") if flt.since else "the beginning"
    until = flt.until.strftime("%Y-%m-%d %H:%M") if flt.until else "now"
    category = f", category {flt.category}" if flt.category else ""
    return f"Mail sent from {since} until {until} (UTC){category}"
