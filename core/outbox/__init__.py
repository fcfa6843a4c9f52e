"""The durable outbox: messages enqueued in the application's database and sent by a worker.

Every name loads on first use: importing this package imports neither ``sqlite3`` nor SQLAlchemy
nor the mailers.
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .api import Outbox as Outbox
    from .api import default_worker as default_worker
    from .api import outbox_for as outbox_for
    from .api import outbox_row as outbox_row
    from .drain import adrain as adrain
    from .drain import drain as drain
    from .drain import settle as settle
    from .model import STATUSES as STATUSES
    from .model import DrainReport as DrainReport
    from .model import OutboxBackend as OutboxBackend
    from .model import OutboxStats as OutboxStats
    from .model import QueuedMessage as QueuedMessage
    from .sqlalchemy import SQLAlchemyOutboxBackend as SQLAlchemyOutboxBackend
    from .sqlite import SQLiteOutboxBackend as SQLiteOutboxBackend
    from .worker import run_worker as run_worker

#: The public names and the module each is loaded from on first use.
_HOMES = {
    "DrainReport": ".model",
    "Outbox": ".api",
    "OutboxBackend": ".model",
    "OutboxStats": ".model",
    "QueuedMessage": ".model",
    "SQLAlchemyOutboxBackend": ".sqlalchemy",
    "SQLiteOutboxBackend": ".sqlite",
    "STATUSES": ".model",
    "adrain": ".drain",
    "default_worker": ".api",
    "drain": ".drain",
    "outbox_for": ".api",
    "outbox_row": ".api",
    "run_worker": ".worker",
    "settle": ".drain",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
