"""The message package's shape: no import circle (not even inside functions or under
TYPE_CHECKING), no dependency on the configuration, small modules, and a frozen PreparedMessage."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path

import grimp
import pytest
from acumbamail_smtp import Mailer, Message, SQLiteEventStore, prepare
from acumbamail_smtp import message as message_package
from acumbamail_smtp.testserver import FakeRelay

PACKAGE = "acumbamail_smtp.message"


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("acumbamail_smtp", cache_dir=None)


def modules(graph: grimp.ImportGraph) -> list[str]:
    found = sorted(m for m in graph.find_children(PACKAGE))
    assert {f"{PACKAGE}.{n}" for n in ("model", "prepare", "mime", "fastmime", "addresses")} <= set(found)
    return found


def test_no_import_circle_between_message_modules(graph: grimp.ImportGraph) -> None:
    circles = [(a, b) for a, b in itertools.combinations(modules(graph), 2)
               if graph.chain_exists(a, b) and graph.chain_exists(b, a)]
    assert circles == []


def test_the_writers_do_not_depend_on_prepare(graph: grimp.ImportGraph) -> None:
    for writer in ("mime", "fastmime", "model"):
        assert not graph.chain_exists(f"{PACKAGE}.{writer}", f"{PACKAGE}.prepare"), writer


def test_message_never_imports_the_configuration(graph: grimp.ImportGraph) -> None:
    assert [m for m in modules(graph) if graph.chain_exists(m, "acumbamail_smtp.config")] == []


def test_no_message_module_is_over_400_lines() -> None:
    folder = Path(message_package.__file__).parent
    sizes = {p.name: len(p.read_text("utf-8").splitlines()) for p in folder.glob("*.py")}
    assert len(sizes) >= 6
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_the_package_exports_only_what_it_lists() -> None:
    for name in message_package.__all__:
        assert getattr(message_package, name) is not None
    assert "write" not in message_package.__all__ and "Unsupported" not in message_package.__all__
    with pytest.raises(AttributeError):
        message_package.write  # noqa: B018 - the fast writer's internals stay in fastmime


def test_prepared_message_is_frozen_and_without_returns_a_copy() -> None:
    prepared = prepare(Message(from_email="s@example.com", to=["a@example.org", "B@example.org"], text="x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.recipients = []  # type: ignore[misc]
    skipped = prepared.without({"b@example.org"})
    assert (skipped.recipients, skipped.suppressed) == (["a@example.org"], ["B@example.org"])
    assert (prepared.recipients, prepared.suppressed) == (["a@example.org", "B@example.org"], [])
    assert prepared.without({"nobody@example.org"}) is prepared


def test_prepare_takes_any_object_with_the_two_defaults() -> None:
    @dataclass(frozen=True)
    class Defaults:
        default_from: str | None = "Shop <shop@example.com>"
        default_category: str | None = "RECEIPT"

    prepared = prepare(Message(to="a@example.org", text="x"), Defaults())
    assert prepared.envelope_from == "shop@example.com"
    assert prepared.category == "RECEIPT"


def test_sending_a_prepared_message_leaves_it_as_it_was(relay: FakeRelay, tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    store.suppress("gone@example.org", reason="hard_bounce")
    message = Message(from_email="s@example.com", to=["ok@example.org", "gone@example.org"], text="x")
    prepared = prepare(message)
    with Mailer(relay.client_config(), store=store) as mailer:
        first = mailer.send_prepared(prepared)
        store.unsuppress("gone@example.org")
        second = mailer.send_prepared(prepared)
    assert (first.accepted, first.suppressed) == (["ok@example.org"], ["gone@example.org"])
    assert (second.accepted, second.suppressed) == (["ok@example.org", "gone@example.org"], [])
    assert (prepared.recipients, prepared.suppressed) == (["ok@example.org", "gone@example.org"], [])
    assert [r.rcpt_tos for r in relay.wait_for(2)] == [["ok@example.org"], ["ok@example.org", "gone@example.org"]]
