"""CSS inlining with css-inline: inlined once-built, media queries kept, optional dependency."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import css_inline
import pytest
from acumbamail_smtp.templates import renderer as templates
from acumbamail_smtp.templates.renderer import Renderer, render

STYLED = """{% block subject %}Styled{% endblock %}
{% block html %}<!DOCTYPE html><html lang="en"><head>
<link rel="stylesheet" href="https://cdn.example/remote.css">
<style>
p.note { color: #1f2933; font-size: 16px; }
@media only screen and (max-width: 600px) { p.note { font-size: 18px !important; } }
</style></head>
<body><p class="note">Hello {{ name }}</p></body></html>{% endblock %}
"""


@pytest.fixture(autouse=True)
def fresh_inliner() -> Iterator[None]:
    templates._inliner.cache_clear()
    yield
    templates._inliner.cache_clear()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "styled.html").write_text(STYLED, encoding="utf-8")
    return tmp_path


def test_css_is_inlined_and_media_queries_stay(folder: Path) -> None:
    html = render("styled", {"name": "Ana"}, search_path=folder).html
    assert 'style="color: #1f2933;font-size: 16px;"' in html
    assert "@media only screen and (max-width: 600px)" in html
    assert "font-size: 18px !important" in html
    # a remote stylesheet is never fetched (we only talk to the relay) and never dropped
    assert '<link rel="stylesheet" href="https://cdn.example/remote.css">' in html


def test_inline_css_can_be_turned_off(folder: Path) -> None:
    html = Renderer(folder, inline_css=False).render("styled", {"name": "Ana"}).html
    assert "style=" not in html
    assert "p.note { color: #1f2933" in html


def test_inliner_is_built_once(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, Any]] = []
    real = css_inline.CSSInliner

    def counting(**options: Any) -> Any:
        built.append(options)
        return real(**options)

    monkeypatch.setattr(css_inline, "CSSInliner", counting)
    for name in ("Ana", "Luis", "Eva"):
        assert f'style="color: #1f2933;font-size: 16px;">Hello {name}' in render(
            "styled", {"name": name}, search_path=folder).html
    assert len(built) == 1
    assert built[0]["load_remote_stylesheets"] is False
    assert built[0]["keep_at_rules"] is True


def test_without_css_inline_rendering_works_and_warns_once(
        folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "css_inline", None)  # import css_inline -> ImportError
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.templates"):
        first = render("styled", {"name": "Ana"}, search_path=folder)
        second = render("styled", {"name": "Luis"}, search_path=folder)
    assert "style=" not in first.html and "<style>" in first.html
    assert "Hello Luis" in second.html
    warnings = [r for r in caplog.records if "css-inline is not installed" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


def test_html_without_style_is_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "plain.html").write_text(
        "{% block subject %}S{% endblock %}{% block html %}<p>fragment</p>{% endblock %}",
        encoding="utf-8")
    assert render("plain", {}, search_path=tmp_path).html == "<p>fragment</p>"
