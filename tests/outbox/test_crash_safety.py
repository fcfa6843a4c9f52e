"""Crash safety: worker processes killed with SIGKILL at random points of a drain, and the relay
stopped and restarted mid-drain; afterwards every enqueued message reached the relay exactly once,
except possible duplicates the workers counted and logged (ambiguous ones)."""

from __future__ import annotations

import random
import signal
import socket
import time
from collections import Counter
from pathlib import Path

from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.outbox import outbox_for
from acumbamail_smtp.testserver import FakeRelay

from .conftest import message
from .workers import flagged, start_worker, stop_all, wait_until_drained


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ids(relay: FakeRelay) -> Counter[str]:
    return Counter(str(m.message["Message-ID"]) for m in relay.messages)


def test_killed_workers_and_a_restarted_relay_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    outbox = outbox_for(SQLiteEventStore(path))
    ids = outbox.enqueue([message(n) for n in range(300)])
    port = _free_port()
    rng = random.Random(13)
    relay = FakeRelay(port=port, starttls=False, require_auth=False, http=False).start()
    relay.delay_replies(0.004)  # slow enough that the kills land mid-drain
    received: Counter[str] = Counter()
    logs = [tmp_path / f"worker{n}.log" for n in range(6)]
    workers = [start_worker(str(path), port, logs[n], f"w{n}") for n in range(2)]
    killed = 0
    try:
        for step in range(4):
            time.sleep(rng.uniform(0.4, 0.8))
            if step == 2:  # the relay goes away mid-drain and comes back on the same port
                relay.stop()  # first: a message it takes after a snapshot would be missed
                received += _ids(relay)
                time.sleep(0.5)
                relay = FakeRelay(port=port, starttls=False, require_auth=False, http=False).start()
                relay.delay_replies(0.004)
                continue
            victim = workers[rng.randrange(len(workers))]
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            killed += 1
            workers.append(start_worker(str(path), port, logs[len(workers)], f"w{len(workers)}"))
        assert outbox.stats().sent < 300, "the drain ended before the faults: nothing was tested"
        wait_until_drained(outbox, 40)
    finally:
        stop_all(workers)
        relay.stop()
        received += _ids(relay)
    assert killed == 3
    assert set(received) == set(ids)  # nothing lost
    twice = {mid for mid, n in received.items() if n > 1}
    assert twice <= flagged(logs)  # every duplicate was counted and logged with its Message-ID
    assert sum(received.values()) - len(ids) <= len(flagged(logs))
    stats = outbox.stats()
    assert (stats.sent, stats.failed) == (300, 0)
    assert all(w.returncode is not None for w in workers)
