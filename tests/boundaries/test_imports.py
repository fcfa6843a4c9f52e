"""What importing the package costs: the root loads its names on first use, so a program that only
sends mail never imports the async stack, the store or the templates."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("asyncio", "aiosmtplib", "smtplib", "ssl", "sqlite3", "jinja2")


def loaded_after(statement: str) -> set[str]:
    """The HEAVY modules in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_root_loads_no_transport_store_or_templates() -> None:
    assert loaded_after("import acumbamail_smtp") == set()


def test_sync_mailer_does_not_load_the_async_stack() -> None:
    loaded = loaded_after("from acumbamail_smtp import Mailer")
    assert "smtplib" in loaded  # the name really was resolved
    assert loaded.isdisjoint({"asyncio", "aiosmtplib", "jinja2", "sqlite3"}), loaded


def test_message_and_errors_load_no_transport() -> None:
    loaded = loaded_after("from acumbamail_smtp import AcumbamailError, InvalidMessage, Message")
    assert loaded.isdisjoint({"asyncio", "aiosmtplib", "smtplib", "jinja2", "sqlite3"}), loaded


def test_every_public_name_resolves_and_is_documented_in_all() -> None:
    import acumbamail_smtp

    for name in acumbamail_smtp.__all__:
        assert getattr(acumbamail_smtp, name) is not None, name
    assert {"Mailer", "AsyncMailer", "Message", "RelayConfig", "render", "SQLiteEventStore"} <= set(
        acumbamail_smtp.__all__)
    assert set(acumbamail_smtp.__all__) <= set(dir(acumbamail_smtp))


@pytest.mark.parametrize("name", ["prepare", "BatchedSendStore", "apply_suppression", "SendStore", "StoreOutcome"])
def test_plumbing_stays_importable_but_out_of_all(name: str) -> None:
    import acumbamail_smtp

    assert name not in acumbamail_smtp.__all__
    assert getattr(acumbamail_smtp, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    import acumbamail_smtp

    with pytest.raises(AttributeError, match="no_such_name"):
        acumbamail_smtp.no_such_name  # noqa: B018


def test_templates_package_and_other_senders_load_no_jinja2() -> None:
    """jinja2 is needed by rendering only: the package's lazy ``__init__`` and every other part of
    the API leave it out."""
    assert "jinja2" not in loaded_after("import acumbamail_smtp.templates")
    statement = ("from acumbamail_smtp import AsyncMailer, Mailer, Message, SQLiteEventStore, "
                 "WebhookReceiver, check_relay")
    assert "jinja2" not in loaded_after(statement)
    assert "jinja2" in loaded_after("from acumbamail_smtp import render")
