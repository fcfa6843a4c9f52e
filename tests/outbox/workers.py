"""Worker processes for the crash and concurrency tests: ``python -c`` running
:func:`~acumbamail_smtp.outbox.run_worker` on a store against a fake relay on 127.0.0.1, logging
its possible duplicates to a file the test reads afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from acumbamail_smtp.outbox import Outbox

_WORKER = """
import logging, sys
from acumbamail_smtp import RelayConfig, SQLAlchemyEventStore, open_store
from acumbamail_smtp.outbox import outbox_for, run_worker
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
store_url, port, name, schema = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
store = SQLAlchemyEventStore(store_url, schema=schema) if schema else open_store(store_url)
config = RelayConfig(host="127.0.0.1", port=port, security="none", allow_insecure=True, timeout=5.0,
                     retry_backoff=0.05, retry_backoff_max=0.2)
run_worker(outbox_for(store), config, poll=0.05, batch=5, lease=1.5, worker=name)
"""

#: How a worker's log names a message it may have sent twice.
_POSSIBLE_DUPLICATE = re.compile(r"message (<[^>]+>): .*possible duplicate")


def start_worker(store_url: str, port: int, log: Path, name: str,
                 schema: str = "") -> subprocess.Popen[bytes]:
    """One worker process draining ``store_url`` (in ``schema``, for PostgreSQL) through the
    relay on 127.0.0.1:``port``."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", _WORKER, store_url, str(port), name, schema],
                                stdout=out, stderr=out, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def flagged(logs: Iterable[Path]) -> set[str]:
    """The Message-IDs the workers logged as possibly sent twice."""
    return {m.group(1) for log in logs if log.exists() for m in _POSSIBLE_DUPLICATE.finditer(log.read_text())}


def wait_until_drained(outbox: Outbox, timeout: float) -> None:
    """Until nothing is queued or in flight; AssertionError after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        stats = outbox.stats()
        if stats.queued == 0 and stats.in_flight == 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"the outbox did not drain in {timeout}s: {outbox.stats()}")


def stop_all(workers: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each worker still running and wait for it (SIGKILL after 10 s)."""
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    for worker in workers:
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
