"""The event store: sends and webhook events in the application's database, and the suppression list."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .sqlalchemy import (
        SQLAlchemyEventStore as SQLAlchemyEventStore,
    )
    from .sqlalchemy import (
        UTCDateTime as UTCDateTime,
    )
    from .sqlalchemy import (
        build_tables as build_tables,
    )
    from .sqlite import (
        DEFAULT_STORE_PATH as DEFAULT_STORE_PATH,
    )
    from .sqlite import (
        JOIN_SKEW as JOIN_SKEW,
    )
    from .sqlite import (
        PAGE_SIZE as PAGE_SIZE,
    )
    from .sqlite import (
        SCHEMA_VERSION as SCHEMA_VERSION,
    )
    from .sqlite import (
        SEND_STATUSES as SEND_STATUSES,
    )
    from .sqlite import (
        STORE_ENV as STORE_ENV,
    )
    from .sqlite import (
        BatchedSendStore as BatchedSendStore,
    )
    from .sqlite import (
        EventStore as EventStore,
    )
    from .sqlite import (
        SendRecord as SendRecord,
    )
    from .sqlite import (
        SendStore as SendStore,
    )
    from .sqlite import (
        SQLiteEventStore as SQLiteEventStore,
    )
    from .sqlite import (
        StoreOutcome as StoreOutcome,
    )
    from .sqlite import (
        aware as aware,
    )
    from .sqlite import (
        check_address as check_address,
    )
    from .sqlite import (
        check_status as check_status,
    )
    from .sqlite import (
        event_from_row as event_from_row,
    )
    from .sqlite import (
        event_types as event_types,
    )
    from .sqlite import (
        join_by_queue_id as join_by_queue_id,
    )
    from .sqlite import (
        joined_events as joined_events,
    )
    from .sqlite import (
        open_store as open_store,
    )
    from .sqlite import (
        raw_json as raw_json,
    )
    from .sqlite import (
        send_rows as send_rows,
    )
    from .sqlite import (
        split_duplicates as split_duplicates,
    )
    from .suppression import (
        SUPPRESSION_REASONS as SUPPRESSION_REASONS,
    )
    from .suppression import (
        Suppression as Suppression,
    )
    from .suppression import (
        SuppressionPolicy as SuppressionPolicy,
    )
    from .suppression import (
        apply_suppression as apply_suppression,
    )
    from .suppression import (
        validate_reason as validate_reason,
    )

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    "BatchedSendStore": ".sqlite",
    "DEFAULT_STORE_PATH": ".sqlite",
    "EventStore": ".sqlite",
    "JOIN_SKEW": ".sqlite",
    "PAGE_SIZE": ".sqlite",
    "SCHEMA_VERSION": ".sqlite",
    "SEND_STATUSES": ".sqlite",
    "SQLAlchemyEventStore": ".sqlalchemy",
    "SQLiteEventStore": ".sqlite",
    "STORE_ENV": ".sqlite",
    "SUPPRESSION_REASONS": ".suppression",
    "SendRecord": ".sqlite",
    "SendStore": ".sqlite",
    "StoreOutcome": ".sqlite",
    "Suppression": ".suppression",
    "SuppressionPolicy": ".suppression",
    "UTCDateTime": ".sqlalchemy",
    "apply_suppression": ".suppression",
    "aware": ".sqlite",
    "build_tables": ".sqlalchemy",
    "check_address": ".sqlite",
    "check_status": ".sqlite",
    "event_from_row": ".sqlite",
    "event_types": ".sqlite",
    "join_by_queue_id": ".sqlite",
    "joined_events": ".sqlite",
    "open_store": ".sqlite",
    "raw_json": ".sqlite",
    "send_rows": ".sqlite",
    "split_duplicates": ".sqlite",
    "validate_reason": ".suppression",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
