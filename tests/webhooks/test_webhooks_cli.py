"""``acumbamail-smtp suppression ...`` and ``acumbamail-smtp webhook ...`` through cli.main."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.cli.main import main

from tests.webhooks.fake_api import GOOD_TOKEN, FakeAcumbamailAPI


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.sqlite3")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACUMBAMAIL_STORE", "ACUMBAMAIL_AUTH_TOKEN", "ACUMBAMAIL_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def test_add_list_remove(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suppression", "add", "Ana@Example.com", "bo@example.com", "--store", db]) == 0
    assert capsys.readouterr().out.splitlines() == ["suppressed: Ana@Example.com", "suppressed: bo@example.com"]
    assert main(["suppression", "add", "ana@example.com", "--reason", "complaint", "--store", db]) == 0
    assert capsys.readouterr().out == "already suppressed: ana@example.com\n"

    assert main(["suppression", "list", "--store", db]) == 0
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert [(r[0], r[1], r[3]) for r in rows] == [("ana@example.com", "manual", "-"), ("bo@example.com", "manual", "-")]
    assert "2 suppressed address(es)" in captured.err

    assert main(["suppression", "remove", "ANA@example.com", "--store", db]) == 0
    assert capsys.readouterr().out == "removed: ANA@example.com\n"
    assert main(["suppression", "remove", "ana@example.com", "--store", db]) == 1
    assert "not suppressed: ana@example.com" in capsys.readouterr().err
    with SQLiteEventStore(db) as store:
        assert [s.address for s in store.suppressions()] == ["bo@example.com"]


def test_list_filters_by_reason(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteEventStore(db) as store:
        store.suppress("hb@example.com", "hard_bounce", "ev-1")
        store.suppress("m@example.com")
    assert main(["suppression", "list", "--reason", "hard_bounce", "--store", db]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split("\t")[::3] == ["hb@example.com", "ev-1"]


def test_export_to_stdout_and_file(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SQLiteEventStore(db) as store:
        store.suppress("b@example.com", "complaint", "ev-9")
        store.suppress("a@example.com")
    assert main(["suppression", "export", "--store", db]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["address"], r["reason"], r["event_id"]) for r in rows] == [
        ("a@example.com", "manual", ""), ("b@example.com", "complaint", "ev-9")]
    assert rows[0]["created_at"].endswith("+00:00")
    out = tmp_path / "list.csv"
    assert main(["suppression", "export", "--out", str(out), "--store", db]) == 0
    assert "wrote 2" in capsys.readouterr().err
    assert out.read_text().splitlines()[0] == "address,reason,created_at,event_id"


def test_store_from_the_environment_and_db_url(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACUMBAMAIL_STORE", db)
    assert main(["suppression", "add", "env@example.com"]) == 0
    with SQLiteEventStore(db) as store:
        assert store.suppressed(["env@example.com"]) == {"env@example.com"}
    url = f"sqlite:///{tmp_path / 'sa.sqlite3'}"
    assert main(["suppression", "add", "sa@example.com", "--db-url", url]) == 0
    capsys.readouterr()
    assert main(["suppression", "list", "--db-url", url]) == 0
    assert capsys.readouterr().out.startswith("sa@example.com\tmanual")


def test_errors_exit_1_with_a_message(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suppression", "list", "--store", str(tmp_path / "missing.sqlite3")]) == 1
    assert "no event store" in capsys.readouterr().err
    assert not (tmp_path / "missing.sqlite3").exists()
    assert main(["suppression", "add", "not-an-address", "--store", db]) == 1
    assert "not an e-mail address" in capsys.readouterr().err
    assert main(["suppression", "list", "--store", db, "--db-url", "sqlite://"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["suppression"]) == 2
    with pytest.raises(SystemExit):
        main(["suppression", "add", "x@example.com", "--reason", "bored", "--store", db])


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAcumbamailAPI]:
    with FakeAcumbamailAPI() as fake:
        monkeypatch.setenv("ACUMBAMAIL_API_BASE", fake.base_url)
        yield fake


def test_webhook_configure_and_show(api: FakeAcumbamailAPI, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACUMBAMAIL_AUTH_TOKEN", GOOD_TOKEN)
    url = "https://app.example.com/webhooks/s3cret-path-token"
    assert main(["webhook", "configure", "--url", url, "--events", "delivered,hard_bounce"]) == 0
    out = capsys.readouterr().out
    assert out == "webhook 41 (active) posts delivered, hard_bounce to https://app.example.com/...\n"
    fields = api.requests[-1][1]
    assert (fields["callback_url"], fields["delivered"], fields["hard_bounce"], fields["opens"]) == (url, "1", "1", "0")

    assert main(["webhook", "show"]) == 0
    shown = capsys.readouterr().out
    assert "s3cret-path-token" not in shown
    assert "events: delivered, hard_bounce" in shown
    assert "active: yes" in shown
    assert main(["webhook", "show", "--reveal"]) == 0
    assert url in capsys.readouterr().out
    assert GOOD_TOKEN not in shown


def test_webhook_configure_inactive_over_http_warns(api: FakeAcumbamailAPI,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhook", "configure", "--url", "http://app.example.com/h/t", "--inactive",
                 "--auth-token", GOOD_TOKEN]) == 0
    captured = capsys.readouterr()
    assert "(inactive)" in captured.out
    assert "plain http" in captured.err
    assert api.requests[-1][1]["active"] == "0"


def test_webhook_errors(api: FakeAcumbamailAPI, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["webhook", "show"]) == 1
    assert "ACUMBAMAIL_AUTH_TOKEN" in capsys.readouterr().err
    assert main(["webhook", "show", "--auth-token", "bad-token-77"]) == 1
    err = capsys.readouterr().err
    assert "refused the auth token" in err
    assert "bad-token-77" not in err
    api.mode = "rate_limited"
    assert main(["webhook", "configure", "--url", "https://a.example.com/h", "--auth-token", GOOD_TOKEN]) == 1
    assert "rate limit" in capsys.readouterr().err
    assert main(["webhook", "configure", "--url", "https://a.example.com/h", "--events", "bogus",
                 "--auth-token", GOOD_TOKEN]) == 1
    assert "not a webhook event" in capsys.readouterr().err
    assert main(["webhook"]) == 2
