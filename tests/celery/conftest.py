"""Fixtures of the Celery tests: a real redis-server on 127.0.0.1 as the broker, real worker
processes, and the fake relay they send to."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp.testserver import FakeRelay

REDIS_ENV = "ACUMBAMAIL_TEST_REDIS_URL"
ROOT = Path(__file__).resolve().parents[2]
USERNAME = "celery-tester@example.com"
PASSWORD = "made-up-Celery-Secret-31"  # not a real credential: the fake relay checks it
SENDER = "Shop <shop@example.com>"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://`` URL of a Redis server: $ACUMBAMAIL_TEST_REDIS_URL, else Debian's redis-server
    started here on 127.0.0.1 (no persistence). Missing: a failure under CI, a skip elsewhere."""
    url = os.environ.get(REDIS_ENV)
    if url:
        yield url
        return
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server"
                                              if os.path.exists("/usr/bin/redis-server") else None)
    if binary is None:
        reason = f"neither {REDIS_ENV} nor redis-server (apt-get install redis-server) is available"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer on 127.0.0.1")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def broker(redis_server: str) -> str:
    """The Redis URL, emptied: no task of an earlier test is left in the queue."""
    import redis

    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with FakeRelay(username=USERNAME, password=PASSWORD) as server:
        yield server


def relay_env(relay: FakeRelay) -> dict[str, str]:
    """The ``ACUMBAMAIL_*`` variables a worker reads its relay settings from."""
    return {"ACUMBAMAIL_HOST": relay.host, "ACUMBAMAIL_PORT": str(relay.port),
            "ACUMBAMAIL_USERNAME": USERNAME, "ACUMBAMAIL_PASSWORD": PASSWORD,
            "ACUMBAMAIL_SECURITY": "starttls", "ACUMBAMAIL_CA_FILE": relay.ca_file,
            "ACUMBAMAIL_DEFAULT_FROM": SENDER}


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_worker(broker, relay, store, schema=None, beat=None, concurrency=1)``: a real
    ``celery worker`` process (solo pool, or prefork for concurrency > 1); all stop after the test."""
    workers: list[subprocess.Popen[bytes]] = []

    def start(broker: str, relay: FakeRelay, store: str, *, schema: str | None = None,
              beat: float | None = None, concurrency: int = 1, name: str = "w") -> subprocess.Popen[bytes]:
        env: dict[str, Any] = {key: value for key, value in os.environ.items()
                               if not key.startswith("ACUMBAMAIL_")}
        env.update(relay_env(relay), ACUMBAMAIL_TEST_BROKER=broker, ACUMBAMAIL_TEST_STORE=store,
                   PYTHONPATH=str(ROOT))
        if schema:
            env["ACUMBAMAIL_TEST_SCHEMA"] = schema
        if beat:
            env["ACUMBAMAIL_TEST_BEAT"] = str(beat)
        command = [sys.executable, "-m", "celery", "-A", "tests.celery.worker_app", "worker",
                   "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"{name}{len(workers)}@127.0.0.1"]
        command += ["--pool=solo"] if concurrency == 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
        if beat:
            command += ["--beat", "--schedule", str(tmp_path / f"beat-{len(workers)}")]
        log = open(tmp_path / f"worker-{len(workers)}.log", "wb")  # noqa: SIM115 - closed with the process
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(5)


def worker_logs(folder: Path) -> str:
    """Every worker log of the test, for an assertion's message."""
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(folder.glob("worker-*.log")))
