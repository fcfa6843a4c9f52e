"""Target 5: webhook ingestion (parse, verify a URL token, store in SQLite), batches of 100 events.

Rows: the core (``WebhookReceiver.handle`` on a ``SQLiteEventStore``, in process, no HTTP) and
each framework's endpoint over real HTTP on 127.0.0.1: Django's view (URL include, under
werkzeug's threaded WSGI server, the same server as Flask's), Flask's blueprint (werkzeug
``make_server(threaded=True)``) and FastAPI's ``webhook_router`` (uvicorn), plus Django's
endpoint on its ORM store (``ACUMBAMAIL["STORE"] = "django"``, the default when the app is
installed). Every server is its own process pinned to one CPU, the client to the other; the
client posts one batch at a time over a keep-alive connection (one durable transaction per
post, as Acumbamail posts), bodies built in advance. Every store starts empty but for 5,000
recorded sends, so the events are joined for real (half by queue id, half by recipient), and
every answer must say all 100 events were stored: nothing dropped.

A missing framework or adapter is reported as "not available", never a crash. Standalone:
``python benchmarks/webhooks_bench.py [--seconds 4]`` prints the rows as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOKEN = "made-up-webhook-token-123"
BATCH = 100
SENDS = 5000
MAX_POSTS = 3000  # bound on every run, whatever the time
T0 = 1_760_000_000.0

#: (row label, server kind, webhook path)
ENDPOINTS = [
    ("Django endpoint (werkzeug threaded server), SQLiteEventStore", "django",
     f"/acumbamail/webhook/{TOKEN}/"),
    ("Flask blueprint (werkzeug threaded server), SQLiteEventStore", "flask", f"/acumbamail/webhook/{TOKEN}"),
    ("FastAPI webhook_router (uvicorn), SQLiteEventStore", "fastapi", f"/acumbamail/webhook/{TOKEN}"),
    ("Django endpoint (werkzeug threaded server), DjangoEventStore (ORM)", "django-orm",
     f"/acumbamail/webhook/{TOKEN}/"),
]


def cpus() -> tuple[set[int] | None, set[int] | None]:
    available = sorted(os.sched_getaffinity(0))
    return ({available[0]}, {available[1]}) if len(available) >= 2 else (None, None)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def body(post: int) -> bytes:
    """Batch ``post``: 100 distinct events as Acumbamail posts them (an object keyed "1".."100");
    odd events carry the queue id of their send, even ones only the recipient."""
    events = {}
    for i in range(BATCH):
        n = (post * BATCH + i) % SENDS
        item: dict[str, Any] = {
            "timestamp": T0 + post + i / 1000, "email": f"user{n}@example.org",
            "event": ("delivered", "opens", "clicks", "soft_bounces")[i % 4],
            "campaign_id": None, "list_id": None, "subscriber_fields": {},
        }
        if i % 2:
            item["email_key"] = f"K{n:08d}"
        events[str(i + 1)] = item
    return json.dumps(events).encode()


def record_sends(store: Any) -> None:
    """The 5,000 sends the events report on, recorded before the clock starts."""
    from acumbamail_smtp import Reply, SendResult

    start = datetime.fromtimestamp(T0 - 10_000, UTC)
    store.record_sends([
        SendResult(f"<m{n}@shop.example.com>", "sent", accepted=[f"user{n}@example.org"],
                   reply=Reply(250, f"2.0.0 Ok: queued as K{n:08d}"), category="ORDER",
                   sent_at=start + timedelta(seconds=n))
        for n in range(SENDS)])


# -- the core, in process ----------------------------------------------------------------------


def core(seconds: float) -> dict[str, Any]:
    """``WebhookReceiver.handle`` on a ``SQLiteEventStore`` (WAL, synchronous=FULL), no HTTP."""
    try:
        from acumbamail_smtp import SQLiteEventStore, WebhookReceiver, WebhookVerifier
    except ImportError as exc:
        return {"error": f"not available ({exc})"}
    bodies = [body(post) for post in range(MAX_POSTS)]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteEventStore(os.path.join(tmp, "events.sqlite3"))
        try:
            record_sends(store)
            receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
            stored = posts = 0
            cpu0, start = time.process_time(), time.perf_counter()
            while posts < MAX_POSTS and time.perf_counter() - start < seconds:
                answer = receiver.handle(bodies[posts], content_type="application/json", path_token=TOKEN)
                if answer.status != 200:
                    return {"error": f"the receiver answered {answer.status}: {answer.body}"}
                stored += answer.body["stored"]
                posts += 1
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            joined = store._conn.execute("SELECT COUNT(message_id) FROM events").fetchone()[0]
        finally:
            store.close()
    return result(posts, stored, wall, cpu, joined)


def result(posts: int, stored: int, wall: float, cpu: float | None, joined: int | None) -> dict[str, Any]:
    events = posts * BATCH
    if stored != events:
        return {"error": f"{events - stored} of {events} events were not stored"}
    return {"events_per_s": round(events / wall, 1), "events": events, "posts": posts,
            "cpu_us_per_event": round(cpu / events * 1e6, 1) if cpu is not None else None,
            "joined": joined}


# -- the framework servers (each in its own process) -------------------------------------------


def serve(kind: str, port: int, folder: str) -> None:
    """Serve ``kind``'s webhook endpoint on 127.0.0.1:``port`` until killed."""
    from acumbamail_smtp import SQLiteEventStore

    path = os.path.join(folder, "events.sqlite3")
    if kind in ("django", "django-orm"):
        app = django_app(kind, folder, path)
    elif kind == "flask":
        app = flask_app(path)
    elif kind == "fastapi":
        import uvicorn
        from acumbamail_smtp.integrations.fastapi import webhook_router
        from fastapi import FastAPI

        store = SQLiteEventStore(path)
        record_sends(store)
        api = FastAPI()
        api.include_router(webhook_router(store=store, token=TOKEN), prefix="/acumbamail")
        uvicorn.run(api, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        return
    else:
        raise SystemExit(f"unknown server {kind!r}")
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet).serve_forever()


def flask_app(path: str) -> Any:
    from acumbamail_smtp import SQLiteEventStore
    from acumbamail_smtp.integrations.flask import Acumbamail
    from flask import Flask

    store = SQLiteEventStore(path)
    record_sends(store)
    app = Flask("webhooks_bench")
    app.config.update(ACUMBAMAIL_STORE=store, ACUMBAMAIL_WEBHOOK_TOKEN=TOKEN, ACUMBAMAIL_SUPPRESS_SEND=True)
    extension = Acumbamail(app)
    app.register_blueprint(extension.webhook_blueprint, url_prefix="/acumbamail")
    return app


#: The Django URLconf of the benchmark (this module, when Django imports it as ROOT_URLCONF).
urlpatterns: list[Any] = []


def django_app(kind: str, folder: str, path: str) -> Any:
    """Django with a startproject-like middleware stack, the webhook URLs included under
    ``acumbamail/``, and the store: a SQLiteEventStore object, or the ORM store."""
    import django
    from django.conf import settings

    orm = kind == "django-orm"
    store: Any = "django"
    if not orm:
        from acumbamail_smtp import SQLiteEventStore

        store = SQLiteEventStore(path)
        record_sends(store)
    settings.configure(
        DEBUG=False, SECRET_KEY="benchmark-only-not-secret", ALLOWED_HOSTS=["127.0.0.1"], USE_TZ=True,
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                        "acumbamail_smtp.integrations.django"] if orm else [],
        MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                    "django.middleware.common.CommonMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.middleware.clickjacking.XFrameOptionsMiddleware"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                               "NAME": os.path.join(folder, "django.sqlite3")}},
        ACUMBAMAIL={"STORE": store, "WEBHOOK_TOKEN": TOKEN},
    )
    django.setup()
    from django.urls import include
    from django.urls import path as url

    urlpatterns.append(url("acumbamail/", include("acumbamail_smtp.integrations.django.urls")))
    if orm:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from acumbamail_smtp.integrations.django.store import DjangoEventStore

        record_sends(DjangoEventStore())
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


@contextlib.contextmanager
def server(kind: str) -> Iterator[tuple[int, subprocess.Popen[bytes], str]]:
    """A server process for ``kind`` pinned to the second CPU; yields (port, process, folder)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    _, server_cpus = cpus()
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", kind, str(port), folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=(lambda: os.sched_setaffinity(0, server_cpus)) if server_cpus else None)
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None:
                    error = (proc.stderr.read().decode(errors="replace").strip().splitlines()
                             if proc.stderr else []) or ["exited"]
                    raise RuntimeError(error[-1])
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start within 30 s")
                time.sleep(0.05)
            yield port, proc, folder
        finally:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def endpoint(kind: str, path: str, seconds: float) -> dict[str, Any]:
    """Batches posted one after another over one keep-alive connection to ``kind``'s server."""
    client_cpus, _ = cpus()
    affinity = os.sched_getaffinity(0)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    bodies = [body(post) for post in range(MAX_POSTS + 3)]
    try:
        with server(kind) as (port, proc, _folder):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Content-Type": "application/json"}

            def post(data: bytes) -> int:
                nonlocal conn
                for attempt in (1, 2):
                    try:
                        conn.request("POST", path, data, headers)
                        response = conn.getresponse()
                        answer = json.loads(response.read() or b"{}")
                        if response.will_close:
                            conn.close()
                            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                        if response.status != 200:
                            raise RuntimeError(f"the endpoint answered {response.status}: {answer}")
                        return int(answer["stored"])
                    except (ConnectionError, http.client.RemoteDisconnected):
                        if attempt == 2:
                            raise
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                return 0

            for warm in bodies[MAX_POSTS:]:  # imports, first connection, receiver built once
                post(warm)
            stored = posts = 0
            cpu0, start = cpu_seconds(proc.pid), time.perf_counter()
            while posts < MAX_POSTS and time.perf_counter() - start < seconds:
                stored += post(bodies[posts])
                posts += 1
            wall, cpu = time.perf_counter() - start, cpu_seconds(proc.pid) - cpu0
            conn.close()
        return result(posts, stored, wall, cpu, None)
    except Exception as exc:  # a missing or unfinished piece is reported, never a crash
        return {"error": f"not available ({type(exc).__name__}: {str(exc)[:160]})"}
    finally:
        os.sched_setaffinity(0, affinity)


def measure(seconds: float) -> list[dict[str, Any]]:
    """Every row of target 5: the core and each endpoint, with the goal each must meet."""
    rows = [{"scenario": "core: WebhookReceiver.handle -> SQLiteEventStore (no HTTP)", "goal": 20_000,
             **core(seconds)}]
    for label, kind, path in ENDPOINTS:
        print(f"  webhooks: {label} ...", file=sys.stderr, flush=True)
        rows.append({"scenario": label, "goal": 5_000, **endpoint(kind, path, seconds)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="time bound per row")
    args = parser.parse_args()
    print(json.dumps(measure(args.seconds), indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
