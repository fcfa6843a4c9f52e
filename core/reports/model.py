"""What a report is made of: the :class:`SQLStore` a report reads, the :class:`ReportFilter` it
is asked for, and the dataclasses it returns (:class:`Summary`, :class:`UrlClicks`,
:class:`RecipientRow`, :class:`RecipientPage`). The definitions of the counts are in
:mod:`acumbamail_smtp.reports.queries`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ..errors import ConfigError
from ..store.common import aware
from ..store.protocols import SQLStore as SQLStore

STATUSES: tuple[str, ...] = ("all", "not_opened", "opened", "clicked", "hard_bounce", "soft_bounce",
                             "complaint")
#: The most rows one recipient page returns.
MAX_PAGE = 1000


def as_sql_store(store: object) -> SQLStore:
    """``store`` when it can be reported on, else a ConfigError saying what reports need (for
    callers that are not type-checked)."""
    if not isinstance(store, SQLStore):
        raise ConfigError("store", f"{type(store).__name__} cannot be reported on: reports need a store "
                                   "with read_sql() and dialect, like SQLiteEventStore or "
                                   "SQLAlchemyEventStore")
    return store


# -- what a report returns -------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True, slots=True)
class Summary:
    """The counts for one period (and ``key``: the category or the day, for grouped rows; None
    for the overall summary and for messages without a category)."""

    sent: int = 0
    delivered: int = 0
    opened: int = 0
    opens: int = 0
    unopened: int = 0
    clicked: int = 0
    clicks: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    refused: int = 0
    suppressed: int = 0
    key: str | None = None

    @property
    def delivery_rate(self) -> float:
        return _rate(self.delivered, self.sent)

    @property
    def open_rate(self) -> float:
        return _rate(self.opened, self.delivered)

    @property
    def unopened_rate(self) -> float:
        return _rate(self.unopened, self.delivered)

    @property
    def click_rate(self) -> float:
        return _rate(self.clicked, self.delivered)

    @property
    def complaint_rate(self) -> float:
        return _rate(self.complaints, self.delivered)

    @property
    def hard_bounce_rate(self) -> float:
        return _rate(self.hard_bounces, self.sent)

    @property
    def soft_bounce_rate(self) -> float:
        return _rate(self.soft_bounces, self.sent)

    def as_dict(self) -> dict[str, Any]:
        """Counts and rates, JSON-ready."""
        return {**asdict(self), **{name: round(getattr(self, name), 6) for name in RATE_NAMES}}


COUNT_NAMES: tuple[str, ...] = ("sent", "delivered", "opened", "opens", "unopened", "clicked", "clicks",
                                "hard_bounces", "soft_bounces", "complaints", "refused", "suppressed")
RATE_NAMES: tuple[str, ...] = ("delivery_rate", "open_rate", "unopened_rate", "click_rate",
                               "complaint_rate", "hard_bounce_rate", "soft_bounce_rate")


@dataclass(frozen=True, slots=True)
class UrlClicks:
    """Clicks on one URL: every click, and how many recipients clicked it."""

    url: str
    clicks: int
    unique_clickers: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RecipientRow:
    """One accepted recipient of one sent message and what became of it.

    ``status`` is the type of the latest event (``"sent"`` while there is none); the flags say
    which statuses the row matches (it may match several: opened and complaint).
    """

    id: int
    recipient: str
    category: str | None
    sent_at: datetime
    message_id: str
    status: str
    opens: int
    clicks: int
    reason: str | None
    last_event_at: datetime | None
    delivered: bool
    hard_bounce: bool
    soft_bounce: bool
    complaint: bool

    @property
    def opened(self) -> bool:
        return self.opens > 0 or self.clicks > 0

    @property
    def clicked(self) -> bool:
        return self.clicks > 0

    @property
    def not_opened(self) -> bool:
        return self.delivered and not self.opened

    @property
    def statuses(self) -> list[str]:
        """Every filter status this row matches (``all`` included)."""
        return [name for name in STATUSES if name == "all" or getattr(self, name)]

    def as_dict(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "category": self.category,
                "sent_at": self.sent_at.isoformat(), "status": self.status, "opens": self.opens,
                "clicks": self.clicks, "reason": self.reason,
                "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
                "message_id": self.message_id, "statuses": self.statuses}


@dataclass(frozen=True, slots=True)
class RecipientPage:
    """One page of recipient rows, newest first; pass ``next`` as ``after`` for the next page."""

    rows: list[RecipientRow] = field(default_factory=list)
    next: str | None = None


# -- filters ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """The period (``since <= sent_at < until``, aware datetimes), category and status of a report."""

    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None
    status: str = "all"

    def __post_init__(self) -> None:
        if self.since is not None:
            object.__setattr__(self, "since", aware(self.since, "since"))
        if self.until is not None:
            object.__setattr__(self, "until", aware(self.until, "until"))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ConfigError("until", f"must be after since ({self.since.isoformat()}); "
                                       f"got {self.until.isoformat()}")
        if self.category is not None and not isinstance(self.category, str):
            raise ConfigError("category", f"must be a string, got {type(self.category).__name__}")
        if self.status not in STATUSES:
            raise ConfigError("status", f"must be one of {', '.join(STATUSES)}; got {self.status!r}")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ReportFilter:
        """A filter from text values (a URL query or command line): ``since``/``until`` as
        ``YYYY-MM-DD`` (a whole UTC day; ``until`` includes its day) or ISO datetimes (UTC when
        no offset is given), ``category``, ``status``. Empty values mean unset."""
        def value(name: str) -> str | None:
            text = query.get(name)
            return text.strip() or None if isinstance(text, str) else None

        return cls(since=parse_when(value("since"), "since"), until=parse_when(value("until"), "until"),
                   category=value("category"), status=value("status") or "all")

    def as_query(self) -> dict[str, str]:
        """The filter as URL query values (the inverse of :meth:`from_query`)."""
        out: dict[str, str] = {}
        if self.since is not None:
            out["since"] = self.since.isoformat()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        if self.category is not None:
            out["category"] = self.category
        if self.status != "all":
            out["status"] = self.status
        return out


def parse_when(text: str | None, name: str) -> datetime | None:
    """``YYYY-MM-DD`` (midnight UTC; for ``until`` the next midnight, so the day is included) or an
    ISO datetime (naive means UTC); ``ConfigError`` naming ``name`` otherwise."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if name == "until" else start
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(name, f"{text!r} is not a date (YYYY-MM-DD) or an ISO datetime") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
