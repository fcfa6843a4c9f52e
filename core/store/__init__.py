"""The event store: sends and webhook events in the application's database, and the suppression list.

Every name loads on first use: importing this package imports neither ``sqlite3`` nor SQLAlchemy;
``SQLiteEventStore`` loads the first, ``SQLAlchemyEventStore`` (and its helpers) the second.
"""

from typing import TYPE_CHECKING

from ..lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .batched import BatchedSendStore as BatchedSendStore
    from .batched import GatedStore as GatedStore
    from .batched import SuppressionOnly as SuppressionOnly
    from .common import DEFAULT_STORE_PATH as DEFAULT_STORE_PATH
    from .common import PAGE_SIZE as PAGE_SIZE
    from .common import SEND_STATUSES as SEND_STATUSES
    from .common import STORE_ENV as STORE_ENV
    from .common import check_address as check_address
    from .join import JOIN_SKEW as JOIN_SKEW
    from .open import open_store as open_store
    from .protocols import EventStore as EventStore
    from .protocols import SendRecord as SendRecord
    from .protocols import SendStore as SendStore
    from .protocols import SQLStore as SQLStore
    from .protocols import StoreOutcome as StoreOutcome
    from .protocols import Suppression as Suppression
    from .schema import SCHEMA_VERSION as SCHEMA_VERSION
    from .sqlalchemy import SQLAlchemyEventStore as SQLAlchemyEventStore
    from .sqlalchemy import UTCDateTime as UTCDateTime
    from .sqlalchemy import build_tables as build_tables
    from .sqlite import SQLiteEventStore as SQLiteEventStore
    from .suppression import SUPPRESSION_REASONS as SUPPRESSION_REASONS
    from .suppression import SuppressionPolicy as SuppressionPolicy
    from .suppression import apply_suppression as apply_suppression
    from .suppression import validate_reason as validate_reason

#: The public names and the module each is loaded from on first use.
_HOMES = {
    **homes(".batched", "BatchedSendStore", "GatedStore", "SuppressionOnly"),
    **homes(".common", "DEFAULT_STORE_PATH", "PAGE_SIZE", "SEND_STATUSES", "STORE_ENV", "check_address"),
    **homes(".join", "JOIN_SKEW"),
    **homes(".open", "open_store"),
    **homes(".protocols", "EventStore", "SQLStore", "SendRecord", "SendStore", "StoreOutcome", "Suppression"),
    **homes(".schema", "SCHEMA_VERSION"),
    **homes(".sqlalchemy", "SQLAlchemyEventStore", "UTCDateTime", "build_tables"),
    **homes(".sqlite", "SQLiteEventStore"),
    **homes(".suppression", "SUPPRESSION_REASONS", "SuppressionPolicy", "apply_suppression",
            "validate_reason"),
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
