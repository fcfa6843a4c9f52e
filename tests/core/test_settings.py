"""The one settings-coercion module: each converter accepts what the adapters' settings may hold,
and its errors name the setting without ever showing a secret value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.settings import (
    is_unset,
    pick,
    read,
    to_bool,
    to_credentials,
    to_int,
    to_list,
    to_path,
    to_paths,
    to_seconds,
    to_text,
)

SECRET = "made-up-secret-5b1e"


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (1, True), (0, False), ("yes", True), (" ON ", True),
    ("true", True), ("0", False), ("off", False), ("", False), ("No", False),
])
def test_to_bool_accepts_the_usual_spellings(value: object, expected: bool) -> None:
    assert to_bool("FLAG", value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, 1.0, [True]])
def test_to_bool_refuses_anything_else_naming_the_setting(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        to_bool("ACUMBAMAIL_FLAG", value)
    assert info.value.field == "ACUMBAMAIL_FLAG"
    assert "true or false" in info.value.problem


def test_to_int_takes_integers_and_their_text() -> None:
    assert to_int("N", 7) == 7
    assert to_int("N", " 42 ") == 42
    assert to_int("N", "-3") == -3
    for bad in (True, "4.5", "many", 4.0, None):
        with pytest.raises(ConfigError) as info:
            to_int("EMAIL_PORT", bad)
        assert info.value.field == "EMAIL_PORT" and "integer" in info.value.problem


def test_to_seconds_takes_numbers_and_their_text() -> None:
    assert to_seconds("T", 3) == 3.0 and isinstance(to_seconds("T", 3), float)
    assert to_seconds("T", "2.5") == 2.5
    for bad in (False, "soon", None, [1]):
        with pytest.raises(ConfigError) as info:
            to_seconds("EMAIL_TIMEOUT", bad)
        assert info.value.field == "EMAIL_TIMEOUT" and "seconds" in info.value.problem


def test_to_text_never_shows_the_value() -> None:
    assert to_text("PASSWORD", SECRET) == SECRET
    with pytest.raises(ConfigError) as info:
        to_text("PASSWORD", [SECRET])
    assert info.value.field == "PASSWORD"
    assert SECRET not in str(info.value) and "list" in info.value.problem


def test_paths_from_strings_path_objects_and_lists(tmp_path: Path) -> None:
    assert to_path("CA_FILE", tmp_path) == str(tmp_path)
    assert to_paths("TEMPLATES", str(tmp_path)) == (str(tmp_path),)
    assert to_paths("TEMPLATES", [tmp_path, "b"]) == (str(tmp_path), "b")
    with pytest.raises(ConfigError, match="folder or a list"):
        to_paths("TEMPLATES", 42)
    with pytest.raises(ConfigError, match="file path") as info:
        to_paths("TEMPLATES", ["a", 3])
    assert info.value.field == "TEMPLATES"


def test_to_list_splits_text_and_checks_items_without_showing_them() -> None:
    assert to_list("SECRETS", "whsec_a, whsec_b\twhsec_c") == ["whsec_a", "whsec_b", "whsec_c"]
    assert to_list("SECRETS", ("x", "y")) == ["x", "y"]
    assert to_list("SECRETS", " , ") == []
    with pytest.raises(ConfigError) as info:
        to_list("SECRETS", [SECRET, 7])
    assert info.value.problem == "item #2 must be a string, got int"
    with pytest.raises(ConfigError) as info:
        to_list("SECRETS", {SECRET: 1})
    assert SECRET not in str(info.value) and info.value.field == "SECRETS"


@pytest.mark.parametrize(("value", "expected"), [
    ("hook:pw1, other:pw2", [("hook", "pw1"), ("other", "pw2")]),
    (" hook:p w ", [("hook", "p w")]),
    (["hook:pa,ss"], [("hook", "pa,ss")]),
    ([("hook", "pa:ss")], [("hook", "pa:ss")]),
    ("hook:a:b", [("hook", "a:b")]),
])
def test_to_credentials(value: object, expected: list[tuple[str, str]]) -> None:
    assert to_credentials("BASIC_AUTH", value) == expected


@pytest.mark.parametrize("value", [SECRET, [SECRET], [(SECRET,)], 12])
def test_bad_credentials_are_named_by_position_never_shown(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        to_credentials("ACUMBAMAIL_WEBHOOK_BASIC_AUTH", value)
    assert info.value.field == "ACUMBAMAIL_WEBHOOK_BASIC_AUTH"
    assert SECRET not in str(info.value)


def test_pick_and_read_skip_unset_values() -> None:
    config: dict[str, Any] = {"A": None, "B": "", "C": "5", "D": "x"}
    assert [is_unset(config[k]) for k in "ABCD"] == [True, True, False, False]
    assert pick(config, "A", "B", "C", "D") == ("C", "5")
    assert pick(config, "A", "B", "Z") is None
    assert read(config, "C", to_int) == 5
    assert read(config, "B", to_int, 9) == 9
    assert read(config, "Z", to_int) is None
    with pytest.raises(ConfigError) as info:
        read(config, "D", to_int, name='ACUMBAMAIL["D"]')
    assert info.value.field == 'ACUMBAMAIL["D"]'
