"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ENV = "ACUMBAMAIL_TEST_POSTGRES_URL"


@pytest.fixture(scope="module")
def postgres_url() -> str:
    """The PostgreSQL server named by $ACUMBAMAIL_TEST_POSTGRES_URL (.ci/run starts one).

    Missing: a failure under CI (the postgres session must really run), a skip elsewhere.
    """
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        reason = (f"{POSTGRES_ENV} is not set: it must name a PostgreSQL server "
                  "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/acumbamail_test)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[str]:
    """A fresh schema per test, dropped afterwards, so tests never see each other's rows."""
    from sqlalchemy import create_engine, text

    schema = f"acm_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
