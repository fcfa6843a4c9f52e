"""``health()``: is this process able to send and to track? For a health endpoint or a probe.

Three checks, each reported with what was seen: the relay answers (:func:`check_relay`: connect,
secure, authenticate, quit; nothing is sent), the store accepts a write (a delete that matches
nothing, so no row is added), and, when an outbox exists, the age of its oldest queued message.
No detail holds the password or the webhook token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import RelayConfig

#: The address the store's write check deletes (never a real one: ``.invalid`` is reserved).
PROBE_ADDRESS = "health-probe@health.invalid"


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """One check: its name, whether it passed, and what was seen."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Health:
    """The outcome of :func:`health`: ``ok`` when every check passed; ``status`` is the HTTP
    status a health endpoint answers (200 or 503) and :meth:`as_dict` its JSON body."""

    checks: list[HealthCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def status(self) -> int:
        return 200 if self.ok else 503

    def as_dict(self) -> dict[str, Any]:
        """``{"status": "ok"|"failing", "checks": {name: {"ok": ..., "detail": ...}}}``."""
        return {"status": "ok" if self.ok else "failing",
                "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks}}


def _relay(config: RelayConfig) -> HealthCheck:
    from .smtp.diagnostics import check_relay

    report = check_relay(config)
    failed = next((step for step in report.steps if not step.ok), None)
    if failed is None:
        return HealthCheck("relay", True, f"{config.host}:{config.port} answered")
    return HealthCheck("relay", False, f"{failed.name}: {failed.detail}")


def _store(store: Any) -> HealthCheck:
    try:
        store.unsuppress(PROBE_ADDRESS)
    except Exception as exc:
        return HealthCheck("store", False, f"not writable: {type(exc).__name__}")
    return HealthCheck("store", True, "writable")


def _outbox(store: Any, outbox: Any, max_age: float | None) -> HealthCheck | None:
    """The outbox's oldest queued age: ``outbox``, else the one in ``store``'s database; None when
    the store has no outbox the core knows (e.g. an adapter's store, whose adapter passes its own)."""
    if outbox is None:
        from .outbox import outbox_for

        try:
            outbox = outbox_for(store)
        except ConfigError:
            return None
    try:
        age = outbox.stats().oldest_queued_age
    except Exception as exc:
        return HealthCheck("outbox", False, f"statistics unavailable: {type(exc).__name__}")
    seconds = age.total_seconds() if isinstance(age, timedelta) else age
    if seconds is None:
        return HealthCheck("outbox", True, "empty")
    ok = max_age is None or seconds <= max_age
    return HealthCheck("outbox", ok, f"oldest queued message {seconds:.0f}s old"
                       + ("" if ok else f" (limit {max_age:.0f}s)"))


def health(config: RelayConfig | None = None, store: Any = None, *, relay: bool = True,
           outbox: Any = None, max_outbox_age: float | None = None) -> Health:
    """Check the relay (``config``, else :meth:`RelayConfig.from_env`; ``relay=False`` skips it),
    the ``store`` (skipped when None) and its outbox (``outbox``, else the store's; failing when its
    oldest queued message is older than ``max_outbox_age`` seconds)."""
    checks: list[HealthCheck] = []
    if relay:
        if config is None:
            from .config import RelayConfig

            config = RelayConfig.from_env()
        checks.append(_relay(config))
    if store is not None:
        checks.append(_store(store))
        queue = _outbox(store, outbox, max_outbox_age)
        if queue is not None:
            checks.append(queue)
    return Health(checks)
