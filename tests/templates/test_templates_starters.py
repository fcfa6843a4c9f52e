"""The starter templates: documented context, accessible markup, a text part, valid MIME."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from html.parser import HTMLParser

import pytest
from acumbamail_smtp import TemplateError, prepare
from acumbamail_smtp.templates import renderer as templates
from acumbamail_smtp.templates.renderer import STARTER_DIR, render, render_message

from tests.templates.starter_contexts import STARTER_CONTEXTS

STARTERS = sorted(STARTER_CONTEXTS)


def required_variables(name: str) -> list[str]:
    """The variables a template's header comment marks ``required`` (its layout's included)."""
    found: list[str] = []
    for file in (f"{name}.html", "_layout.html"):
        header = (STARTER_DIR / file).read_text("utf-8").split("-#}", 1)[0]
        found += re.findall(r"^\s+(\w+)\s+required\b", header, re.MULTILINE)
    return found


class Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Markup()
    parser.feed(html)
    return parser.tags


def test_every_starter_is_shipped_and_has_a_sample() -> None:
    shipped = sorted(p.name.removesuffix(".html") for p in STARTER_DIR.glob("*.html")
                     if not p.name.startswith("_"))
    assert shipped == STARTERS == ["notification", "order_confirmation", "password_reset",
                                   "registration_confirmation"]


@pytest.mark.parametrize("name", STARTERS)
def test_documented_in_the_module_docstring(name: str) -> None:
    doc = templates.__doc__ or ""
    line = next(line for line in doc.split("\n- ") if line.startswith(f"``{name}``"))
    for variable in required_variables(name):
        if variable != "brand_name":
            assert f"``{variable}``" in line, f"{variable} of {name} is not documented"
    assert "``brand_name`` (required)" in doc


@pytest.mark.parametrize("name", STARTERS)
def test_renders_with_its_documented_context(name: str) -> None:
    context = STARTER_CONTEXTS[name]
    rendered = render(name, context)
    assert rendered.subject and "\n" not in rendered.subject
    tags = parse(rendered.html)
    html_tag = next(attrs for tag, attrs in tags if tag == "html")
    assert html_tag["lang"] == "es"
    images = [attrs for tag, attrs in tags if tag == "img"]
    assert images, "the sample context has a logo"
    assert all((attrs.get("alt") or "").strip() for attrs in images)
    assert images[0]["alt"] == "Tom & Jerry's Shop"
    for tag, attrs in tags:
        if tag == "table" and "items" not in (attrs.get("class") or ""):
            assert attrs.get("role") == "presentation", "layout tables are presentational"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in \
        rendered.html
    assert "max-width: 600px" in rendered.html and "@media only screen" in rendered.html
    # the text part is the template's own, with every link readable
    assert rendered.text.strip()
    assert "<" not in rendered.text.replace("<large>", "")
    assert "&amp;" not in rendered.text and "Tom & Jerry's Shop" in rendered.text
    assert "Unsubscribe: https://shop.example/unsubscribe?u=42&t=abc" in rendered.text


def test_order_confirmation_lists_items_and_totals() -> None:
    context = STARTER_CONTEXTS["order_confirmation"]
    rendered = render("order_confirmation", context)
    assert rendered.subject == "Your Tom & Jerry's Shop order A-1042 is confirmed"
    rows = re.findall(r"<tr>.*?</tr>", rendered.html, re.DOTALL)
    assert sum("€18.00" in row or "€24.50" in row or "€2.00" in row for row in rows) == 3
    assert "Blue ceramic mug &lt;large&gt;" in rendered.html
    for line in ("- 2 x Blue ceramic mug <large>: €18.00", "Subtotal: €44.50",
                 "Shipping: €4.95", "Tax: €9.35", "Total: €58.80", "Calle Mayor 1, 3º B"):
        assert line in rendered.text
    minimal = {k: context[k] for k in ("brand_name", "name", "order_number", "items", "total")}
    short = render("order_confirmation", minimal)
    assert "Subtotal" not in short.html and "Subtotal" not in short.text
    assert "Total: €58.80" in short.text


@pytest.mark.parametrize("name", STARTERS)
def test_required_variables_are_required_and_enough(name: str) -> None:
    required = required_variables(name)
    assert "brand_name" in required and len(required) >= 2
    context = STARTER_CONTEXTS[name]
    minimal = {k: context[k] for k in required}
    rendered = render(name, minimal)
    assert 'lang="en"' in rendered.html  # the default language
    for variable in required:
        with pytest.raises(TemplateError, match=f"'{variable}' is undefined"):
            render(name, {k: v for k, v in minimal.items() if k != variable})


@pytest.mark.parametrize("name", STARTERS)
def test_starter_becomes_a_multipart_message(name: str) -> None:
    message = render_message(name, STARTER_CONTEXTS[name], to="Ana <ana@example.com>",
                             category="STARTER", from_email="shop@example.com")
    parsed = message_from_bytes(prepare(message).data, policy=policy.SMTP)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n").strip() == message.text
    assert html.get_content().replace("\r\n", "\n").strip() == message.html
