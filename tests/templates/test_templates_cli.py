"""``acumbamail-smtp templates import|preview|list`` through the real command-line entry point."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from acumbamail_smtp.cli.main import main
from acumbamail_smtp.templates.renderer import render

EXPORT = """<html><head><title>Tu pedido *|ORDER_ID|*</title></head>
<body><p>Hola *|FIRST_NAME|* {{ literal }}</p><a href="*|UNSUBSCRIBE_URL|*">Baja</a></body></html>
"""


def test_import_writes_a_template_that_renders(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "export.html"
    export.write_text(EXPORT, encoding="utf-8")
    out = tmp_path / "templates"
    assert main(["templates", "import", str(export), "--name", "order", "--out", str(out)]) == 0
    assert str(out / "order.html") in capsys.readouterr().out
    rendered = render("order", {"ORDER_ID": "A-1", "FIRST_NAME": "Ana",
                                "UNSUBSCRIBE_URL": "https://shop.example/u"}, search_path=out)
    assert rendered.subject == "Tu pedido A-1"
    assert "Hola Ana {{ literal }}" in rendered.html
    # a second import does not overwrite without --force
    assert main(["templates", "import", str(export), "--name", "order", "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["templates", "import", str(export), "--name", "order", "--out", str(out),
                 "--subject", "Pedido *|ORDER_ID|*", "--force"]) == 0
    assert render("order", {"ORDER_ID": "B-2", "FIRST_NAME": "A", "UNSUBSCRIBE_URL": "u"},
                  search_path=out).subject == "Pedido B-2"


def test_import_refuses_names_with_folders(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "export.html"
    export.write_text(EXPORT, encoding="utf-8")
    assert main(["templates", "import", str(export), "--name", "../evil", "--out",
                 str(tmp_path)]) == 1
    assert "--name" in capsys.readouterr().err
    assert not (tmp_path.parent / "evil.html").exists()


def test_preview_writes_html_text_and_preview_page(tmp_path: Path) -> None:
    context = tmp_path / "ctx.json"
    context.write_text(json.dumps({"brand_name": "Tom & Jerry", "name": "Ana",
                                   "reset_url": "https://shop.example/r?a=1&b=2"}), "utf-8")
    out = tmp_path / "preview"
    assert main(["templates", "preview", "password_reset", "--context", str(context),
                 "--out", str(out)]) == 0
    page_html = (out / "password_reset.html").read_text("utf-8")
    text = (out / "password_reset.txt").read_text("utf-8")
    preview = (out / "password_reset.preview.html").read_text("utf-8")
    assert 'lang="en"' in page_html and "style=" in page_html
    assert "https://shop.example/r?a=1&b=2" in text and "Tom & Jerry" in text
    assert "Reset your Tom &amp; Jerry password" in preview  # the subject, escaped once
    widths = re.findall(r'<iframe [^>]*width="(\d+)"', preview)
    assert widths == ["375", "800"]
    srcdoc = re.search(r'srcdoc="([^"]*)"', preview)
    assert srcdoc is not None and html.unescape(srcdoc.group(1)) == page_html
    assert html.escape(text.strip()) in preview


def test_preview_uses_template_dirs_and_reports_missing_variables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "hello.html.j2").write_text(
        "{% block subject %}Hi {{ who }}{% endblock %}{% block html %}<p>{{ who }}</p>"
        "{% endblock %}", "utf-8")
    out = tmp_path / "out"
    assert main(["templates", "preview", "hello", "--template-dir", str(folder),
                 "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "TemplateError" in err and "'who' is undefined" in err and "hello.html.j2" in err
    context = tmp_path / "ctx.json"
    context.write_text('{"who": "Ana"}', "utf-8")
    assert main(["templates", "preview", "hello", "--template-dir", str(folder),
                 "--context", str(context), "--out", str(out)]) == 0
    assert (out / "hello.txt").read_text("utf-8") == "Ana\n"


def test_preview_rejects_a_context_that_is_not_an_object(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    context = tmp_path / "ctx.json"
    context.write_text("[1, 2]", "utf-8")
    assert main(["templates", "preview", "notification", "--context", str(context),
                 "--out", str(tmp_path / "o")]) == 1
    assert "must hold a JSON object" in capsys.readouterr().err


def test_list_shows_own_templates_then_starters(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "welcome.html").write_text("x", "utf-8")
    (tmp_path / "promo.acumbamail.html").write_text("x", "utf-8")
    (tmp_path / "_layout.html").write_text("x", "utf-8")
    (tmp_path / "password_reset.html.j2").write_text("x", "utf-8")
    assert main(["templates", "list", "--template-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split("\t")[0] for line in lines]
    assert names[:3] == ["password_reset", "promo", "welcome"]
    assert {"registration_confirmation", "order_confirmation", "notification"} <= set(names)
    assert "_layout" not in names
    assert "password_reset\tstarter (hidden by an earlier folder)" in lines
