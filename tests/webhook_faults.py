"""Shared by every adapter's webhook fault tests: an Acumbamail batch, a locked store, a burst."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.request import Request, urlopen

from acumbamail_smtp import SQLiteEventStore


def batch(*emails: str, name: str = "hard_bounces", key: str = "Q1") -> bytes:
    """One Acumbamail-shaped POST body: events keyed "1", "2", ... for ``emails``."""
    return json.dumps({str(n): {"event": name, "email": email, "email_key": key, "timestamp": 1734436800 + n}
                       for n, email in enumerate(emails, 1)}).encode()


@contextmanager
def locked_store(path: Path) -> Iterator[tuple[SQLiteEventStore, sqlite3.Connection]]:
    """A SQLite store whose file another connection holds with BEGIN EXCLUSIVE (a real fault);
    roll the returned connection back to release it."""
    store = SQLiteEventStore(path, timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield store, blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
        store.close()


def burst(url: str, threads: int = 8, posts: int = 20, per_post: int = 5) -> list[int]:
    """``threads`` clients each posting ``posts`` batches of ``per_post`` distinct events; the statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for n in range(posts):
            emails = [f"w{worker}-p{n}-e{i}@example.com" for i in range(per_post)]
            request = Request(url, batch(*emails, name="delivered", key=f"K{worker}-{n}"),
                              headers={"Content-Type": "application/json"}, method="POST")
            with urlopen(request, timeout=30) as answer:
                with lock:
                    statuses.append(answer.status)

    workers = [threading.Thread(target=client, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return statuses
