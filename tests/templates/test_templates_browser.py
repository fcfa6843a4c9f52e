"""The starter templates and the preview page in headless Chromium, at phone and desktop widths.

Screenshots are kept under artifacts/screenshots/ (one per template and width).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from acumbamail_smtp.cli.main import main
from acumbamail_smtp.templates.renderer import render

from tests.browser import Browser
from tests.templates.starter_contexts import STARTER_CONTEXTS

pytestmark = pytest.mark.browser

WIDTHS = (375, 800)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(STARTER_CONTEXTS))
def test_starter_fits_the_screen(browser: Browser, tmp_path: Path, name: str, width: int) -> None:
    rendered = render(name, STARTER_CONTEXTS[name])
    browser.open_html(rendered.html, tmp_path / f"{name}.html", width=width)
    assert browser.inner_width() == width
    shot = browser.screenshot(f"templates-{name}-{width}")
    assert shot.stat().st_size > 1000
    assert browser.horizontal_overflow() == 0
    assert browser.console_errors() == []
    container = browser.run(
        "return document.querySelector('.container').getBoundingClientRect().width;")
    assert container == (600 if width > 600 else width)
    assert browser.run("""return Array.from(document.images).every(
        img => img.complete && img.naturalWidth > 0 &&
               img.getBoundingClientRect().right <= window.innerWidth);""")
    # real text, readable size: the heading is text, not an image
    assert browser.run("return document.querySelector('h1').innerText.trim().length > 0;")


@pytest.mark.parametrize("width", WIDTHS)
def test_columns_stack_on_a_phone(browser: Browser, tmp_path: Path, width: int) -> None:
    rendered = render("order_confirmation", STARTER_CONTEXTS["order_confirmation"])
    browser.open_html(rendered.html, tmp_path / "order.html", width=width)
    lefts = browser.run("return Array.from(document.querySelectorAll('td.column'))"
                        ".map(td => Math.round(td.getBoundingClientRect().left));")
    assert len(lefts) == 2
    if width < 600:
        assert lefts[0] == lefts[1]  # one column
    else:
        assert lefts[1] > lefts[0]  # side by side


def test_preview_page_shows_both_widths(browser: Browser, tmp_path: Path) -> None:
    context = tmp_path / "ctx.json"
    context.write_text(json.dumps(STARTER_CONTEXTS["password_reset"]), "utf-8")
    out = tmp_path / "out"
    assert main(["templates", "preview", "password_reset", "--context", str(context),
                 "--out", str(out)]) == 0
    browser.open((out / "password_reset.preview.html").resolve().as_uri(), width=1280)
    browser.screenshot("templates-preview-password_reset")
    assert browser.console_errors() == []
    assert browser.horizontal_overflow() == 0
    widths = browser.run("return Array.from(document.querySelectorAll('iframe'))"
                         ".map(f => Math.round(f.getBoundingClientRect().width));")
    assert [w - 2 for w in widths] == [375, 800]  # plus a 1 px border each side
    assert "Reset your Tom & Jerry's Shop password" in browser.run(
        "return document.querySelector('h1').innerText;")


def test_helper_sees_overflow_and_console_errors(browser: Browser, tmp_path: Path) -> None:
    page = ('<!DOCTYPE html><html lang="en"><head><meta name="viewport" '
            'content="width=device-width, initial-scale=1"><title>t</title></head><body>'
            '<div style="width: 900px">wide</div><script>console.error("boom")</script>'
            "</body></html>")
    browser.open_html(page, tmp_path / "bad.html", width=375)
    assert browser.horizontal_overflow() > 0
    assert any("boom" in message for message in browser.console_errors())
    browser.open_html(page.replace("900px", "100px"), tmp_path / "bad.html", width=375)
    assert browser.horizontal_overflow() == 0


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception)])
def test_missing_chromium_skips_locally_and_fails_in_ci(
        monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]) -> None:
    import tests.browser as helper

    monkeypatch.setattr(helper, "_find", lambda *names: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install -y chromium chromium-driver"):
        helper.require_browser()
