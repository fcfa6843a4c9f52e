"""Every test, lint and build job; `nox` runs the default list, `nox -s NAME` one of them.

Each session installs the package itself (not editable), so the tests exercise what users install.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))
nox.options.sessions = [
    "lint", "typecheck", "tests", "browser", "postgres", "wheel", "demo", "django", "flask", "fastapi",
    "celery",
]

PYTHONS = ["3.11", "3.12", "3.13"]
ROOT = Path(__file__).parent
REPORTS = ROOT / "artifacts" / "junit"
#: Test folders of the core, the test server and the README examples, run on every supported Python.
CORE_TESTS = [
    "tests/boundaries", "tests/core", "tests/testserver", "tests/webhooks", "tests/templates",
    "tests/reports", "tests/perf", "tests/readme", "tests/telemetry", "tests/outbox",
]


def _pytest(session: nox.Session, *args: str) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    name = session.name.replace("(", "-").replace(")", "").replace("=", "").replace("'", "")
    session.run("python", "-m", "pytest", f"--junitxml={REPORTS / name}.xml", *args, *session.posargs)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The core and the fake relay against real SMTP on loopback (no browser, no PostgreSQL).

    The frameworks are installed too: the report views are tested beside the reports.
    """
    session.install(".[dev,sqlalchemy,django,flask,fastapi,otel]", "pytest-django>=4.8",
                    "opentelemetry-sdk>=1.20")
    _pytest(session, "-m", "not browser and not postgres", *CORE_TESTS)


@nox.session(python="3.11")
def browser(session: nox.Session) -> None:
    """Pages rendered in headless Chromium: starter templates, the fake relay's UI, the HTML report."""
    session.install(".[dev,sqlalchemy,django,flask,fastapi,otel]", "pytest-django>=4.8", "uvicorn>=0.29",
                    "opentelemetry-sdk>=1.20")
    _pytest(session, "-m", "browser", *CORE_TESTS)


@nox.session(python="3.11")
def postgres(session: nox.Session) -> None:
    """The SQLAlchemy event store against a real PostgreSQL (ACUMBAMAIL_TEST_POSTGRES_URL)."""
    session.install(".[dev,postgres,django,flask,fastapi]", "pytest-django>=4.8")
    _pytest(session, "-m", "postgres", "tests/webhooks", "tests/reports", "tests/outbox")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff over everything; the import contracts of pyproject.toml and the no-cycles rule.

    lint-imports reads the installed package (not editable: the folders are mapped onto one import
    package, which only an installed copy shows whole)."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.install(".", "import-linter>=2.1", "grimp>=3.5", "pytest>=8")
    session.run("lint-imports")
    session.run("python", "-m", "pytest", "-q", "-p", "no:acumbamail_smtp", "tests/boundaries/test_cycles.py")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy, strict on the core (the installed package, so the folder mapping is what users get)."""
    session.install(".[dev,django,flask,fastapi,sqlalchemy,otel,celery]", "mypy>=1.10", "django-stubs>=5.0")
    session.run("mypy", "-p", "acumbamail_smtp")


@nox.session(python="3.11")
def wheel(session: nox.Session) -> None:
    """Build the wheel, install it into a fresh virtual environment, and import every module."""
    session.install("build>=1.0", "pytest>=8")
    # The package is not installed here (the test builds and installs it elsewhere); the source
    # tree's egg-info would still announce its pytest plugin, so switch the plugin off.
    _pytest(session, "-p", "no:acumbamail_smtp", "tests/packaging")


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """The README's first command: the library end to end on the embedded fake relay."""
    session.install(".[testserver,templates]")
    session.run("acumbamail-smtp", "demo")


@nox.session
@nox.parametrize(("python", "django"), [("3.11", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")])
def django(session: nox.Session, django: str) -> None:
    """The Django adapter under each supported Django series (6.x needs Python 3.12+); sqlalchemy
    for the core's store batch tests, which also run on the ORM store."""
    # Django Tasks: built in from 6.0 (``django.tasks``), the ``django-tasks`` backport on 5.2; the
    # database backend is ``django-tasks-db`` on both.
    tasks = ["django-tasks>=0.12"] if django == "5.2" else []
    session.install(".[dev,django,sqlalchemy]", f"django~={django}.0", "pytest-django>=4.8",
                    "django-tasks-db>=0.13", *tasks)
    _pytest(session, "tests/django")


@nox.session(python="3.11")
@nox.parametrize("flask", ["3.0", "3.1"])
def flask(session: nox.Session, flask: str) -> None:
    """The Flask extension under each supported Flask series (and Flask-Mail for the switch test)."""
    session.install(".[dev,flask]", f"flask~={flask}.0", "flask-mail>=0.10")
    _pytest(session, "tests/flask")


@nox.session(python="3.11")
@nox.parametrize("fastapi", ["oldest", "latest"])
def fastapi(session: nox.Session, fastapi: str) -> None:
    """The FastAPI dependency with the oldest supported and the current FastAPI."""
    pin = "fastapi==0.110.3" if fastapi == "oldest" else "fastapi"
    session.install(".[dev,fastapi]", pin, "uvicorn>=0.29")
    _pytest(session, "tests/fastapi")


@nox.session(python="3.11")
def celery(session: nox.Session) -> None:
    """The Celery adapter: a real worker process, Redis as the broker (the fixture starts Debian's
    redis-server on 127.0.0.1, or uses ACUMBAMAIL_TEST_REDIS_URL), the SQLite and PostgreSQL outboxes."""
    session.install(".[dev,celery,postgres]", "redis>=4.5")
    _pytest(session, "tests/celery")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Throughput against the peers on loopback (not a test; prints a table and writes JSON).

    ``nox -s bench -- --profile`` also profiles the client's CPU per message (benchmarks/profile_send.py)."""
    args = [a for a in session.posargs if a != "--profile"]
    session.install(".[dev,templates,django,flask,fastapi,otel]", "flask-mail", "uvicorn",
                    "opentelemetry-sdk>=1.20")
    _postfix_tools(session)
    session.run("python", "benchmarks/run.py", *args)
    session.run("python", "benchmarks/telemetry_bench.py")
    session.run("python", "benchmarks/tls_bench.py")
    if "--profile" in session.posargs:
        session.install("pyinstrument>=4.6")
        session.run("python", "benchmarks/profile_send.py")


def _postfix_tools(session: nox.Session) -> None:
    """Postfix's smtp-source (a peer in the table) from Debian's postfix package, never its daemon."""
    import shutil

    if shutil.which("smtp-source") or Path("/usr/sbin/smtp-source").exists():
        return
    if not shutil.which("apt-get"):
        session.warn("smtp-source is missing and apt-get is not available: its row will say 'not available'")
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "--no-install-recommends", "postfix", external=True, env=env)
    # The package may start the mail system: the benchmark must never run a real MTA.
    running = session.run("pgrep", "-f", "postfix/sbin/master|/usr/lib/postfix/sbin/master",
                          external=True, success_codes=[0, 1], silent=True)
    if running:
        session.run("postfix", "stop", external=True, success_codes=[0, 1])
