"""Importing HTML from Acumbamail's editor: *|TAG|* merge tags become Jinja variables."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from acumbamail_smtp import TemplateError
from acumbamail_smtp.templates.renderer import Renderer, import_acumbamail, render

EXPORT = """<!DOCTYPE html>
<html><head><title>Hola *|FIRST_NAME|* &amp; welcome</title>
<style>p { color: #333333; }</style></head>
<body>
<p>Hola *|FIRST_NAME|*, tu pedido *|ORDER_ID|* est&aacute; listo.</p>
<p>Literal Jinja-looking text: {{ not_a_var }} and {% raw %} and {# hash #} and {{{x}}}.</p>
<p><a href="*|UNSUBSCRIBE_URL|*">Darse de baja</a></p>
</body></html>
"""
CONTEXT = {"FIRST_NAME": "Ana & Luis", "ORDER_ID": "A-1",
           "UNSUBSCRIBE_URL": "https://shop.example/u?a=1&b=2"}


def test_import_converts_tags_and_keeps_literal_braces(tmp_path: Path) -> None:
    source = import_acumbamail(EXPORT)
    assert "{{ FIRST_NAME }}" in source and "{{ UNSUBSCRIBE_URL }}" in source
    assert "*|" not in source
    (tmp_path / "welcome.html").write_text(source, encoding="utf-8")
    rendered = render("welcome", CONTEXT, search_path=tmp_path, inline_css=False)
    assert rendered.subject == "Hola Ana & Luis & welcome"
    assert "Hola Ana &amp; Luis, tu pedido A-1 est&aacute; listo." in rendered.html
    assert ("Literal Jinja-looking text: {{ not_a_var }} and {% raw %} and {# hash #} "
            "and {{{x}}}.") in rendered.html
    assert '<a href="https://shop.example/u?a=1&amp;b=2">' in rendered.html
    assert "Darse de baja (https://shop.example/u?a=1&b=2)" in rendered.text
    assert "Hola Ana & Luis, tu pedido A-1 está listo." in rendered.text


def test_unsubscribe_url_is_a_required_variable(tmp_path: Path) -> None:
    (tmp_path / "welcome.html").write_text(import_acumbamail(EXPORT), encoding="utf-8")
    context = {k: v for k, v in CONTEXT.items() if k != "UNSUBSCRIBE_URL"}
    with pytest.raises(TemplateError, match="'UNSUBSCRIBE_URL' is undefined"):
        render("welcome", context, search_path=tmp_path)


def test_subject_argument_and_missing_title() -> None:
    no_title = "<p>Hi *|NAME|*</p>"
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    explicit = env.from_string(import_acumbamail(no_title, "Hello *|NAME|* {{ x }}"))
    context = explicit.new_context({"NAME": "Ana"})
    assert "".join(explicit.blocks["subject"](context)) == "Hello Ana {{ x }}"
    fallback = import_acumbamail(no_title)
    assert "{% block subject %}{{ subject }}{% endblock %}" in fallback
    # the explicit subject wins over the <title>
    assert "{% block subject %}Other{% endblock %}" in import_acumbamail(EXPORT, "Other")


def test_tags_that_cannot_be_variables_are_refused() -> None:
    with pytest.raises(TemplateError, match=r"line 2: merge tag \*\|FIRST-NAME\|\*"):
        import_acumbamail("<p>ok</p>\n<p>*|FIRST-NAME|*</p>", "S", source="export.html")
    with pytest.raises(TemplateError, match=r"\*\|none\|\*"):
        import_acumbamail("<p>*|none|*</p>", "S")


def test_exports_are_converted_when_loaded(tmp_path: Path) -> None:
    (tmp_path / "promo.acumbamail.html").write_text(EXPORT, encoding="utf-8")
    (tmp_path / "raw_export.html").write_text(EXPORT, encoding="utf-8")
    renderer = Renderer(tmp_path, inline_css=False)
    for name in ("promo", "raw_export"):
        rendered = renderer.render(name, CONTEXT)
        assert rendered.subject == "Hola Ana & Luis & welcome"
        assert "{{ not_a_var }}" in rendered.html and "Ana &amp; Luis" in rendered.html


def test_templates_with_blocks_are_not_converted(tmp_path: Path) -> None:
    (tmp_path / "mixed.html").write_text(
        "{% block subject %}S {{ a }}{% endblock %}{% block html %}<p>*|KEEP|*</p>{% endblock %}",
        encoding="utf-8")
    rendered = render("mixed", {"a": 1}, search_path=tmp_path)
    assert rendered.subject == "S 1"
    assert "<p>*|KEEP|*</p>" in rendered.html
