"""How long a Django request spends in ``send_mail()``: Django's SMTP backend, our inline
``EmailBackend`` and our ``QueuedEmailBackend`` (an insert into the outbox), with the relay 20 ms
per reply away (the lean sink's delay). p50 and p99 over many calls, each backend in a fresh
process with its own SQLite database. Not a test: nothing here asserts a time.

Standalone: ``python benchmarks/queued_bench.py PORT`` (a sink listening on 127.0.0.1:PORT).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

#: Calls per backend: the SMTP backends pay about ten round trips (200 ms) per call.
CALLS = {"django_smtp": 40, "ours_inline": 40, "ours_queued": 2000}

BACKENDS = {
    "django_smtp": "django.core.mail.backends.smtp.EmailBackend",
    "ours_inline": "acumbamail_smtp.integrations.django.EmailBackend",
    "ours_queued": "acumbamail_smtp.integrations.django.QueuedEmailBackend",
}


def _one(mode: str, port: int, calls: int) -> list[float]:
    """In this process: configure Django for ``mode``, call ``send_mail`` ``calls`` times."""
    import django
    from django.conf import settings

    folder = tempfile.mkdtemp(prefix="acumbamail-queued-bench-")
    settings.configure(
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                        "acumbamail_smtp.integrations.django"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{folder}/db.sqlite3"}},
        USE_TZ=True, EMAIL_BACKEND=BACKENDS[mode], EMAIL_HOST="127.0.0.1", EMAIL_PORT=port,
        EMAIL_HOST_USER="bench@example.com", EMAIL_HOST_PASSWORD="made-up-bench-pw",
        EMAIL_USE_TLS=False, ACUMBAMAIL={"ALLOW_INSECURE": True, "STORE": None},
        DEFAULT_FROM_EMAIL="shop@example.com",
    )
    django.setup()
    from django.core.mail import send_mail
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    times: list[float] = []
    for n in range(calls + 3):
        start = time.perf_counter()
        send_mail(f"Order {n}", f"Thanks for order {n}.", None, [f"user{n}@example.com"])
        if n >= 3:  # the first calls warm imports and caches
            times.append(time.perf_counter() - start)
    return times


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def measure(port: int) -> dict[str, Any]:
    """p50/p99 per backend (milliseconds), and Django's SMTP backend over ours at p99."""
    rows: dict[str, Any] = {}
    for mode, calls in CALLS.items():
        code = (f"import json, sys; sys.path.insert(0, {str(HERE.parent)!r}); "
                f"from benchmarks.queued_bench import _one; "
                f"print(json.dumps(_one({mode!r}, {port}, {calls})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             timeout=600, cwd=HERE.parent)
        times = json.loads(out.stdout.strip().splitlines()[-1])
        rows[mode] = {"calls": len(times), "p50_ms": round(_quantile(times, 0.5) * 1000, 3),
                      "p99_ms": round(_quantile(times, 0.99) * 1000, 3)}
    queued = rows["ours_queued"]["p99_ms"]
    rows["django_smtp_over_queued_p99"] = round(rows["django_smtp"]["p99_ms"] / queued, 1) if queued else None
    rows["inline_over_queued_p99"] = round(rows["ours_inline"]["p99_ms"] / queued, 1) if queued else None
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int, help="a sink listening on 127.0.0.1:PORT (with a reply delay)")
    print(json.dumps(measure(parser.parse_args().port), indent=2))


if __name__ == "__main__":
    main()
