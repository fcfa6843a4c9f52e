"""Rendering: the block convention, strict variables, escaping, caching and render_message."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import jinja2
import pytest
from acumbamail_smtp import ConfigError, InvalidMessage, Message, TemplateError, prepare
from acumbamail_smtp.templates.renderer import Rendered, Renderer, render, render_message


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source, encoding="utf-8")
    return path


WELCOME = """\
{% block subject %}Welcome,
   {{ name }}!{% endblock %}
{% block html %}<html lang="en"><body><p>Hello <b>{{ name }}</b></p></body></html>{% endblock %}
{% block text %}
    Hello {{ name }}
{% endblock %}
"""


def test_renders_subject_html_and_text(tmp_path: Path) -> None:
    write(tmp_path, "welcome.html", WELCOME)
    rendered = render("welcome", {"name": "Ana"}, search_path=[tmp_path])
    assert isinstance(rendered, Rendered)
    assert rendered.subject == "Welcome, Ana!"
    assert "<b>Ana</b>" in rendered.html
    assert rendered.text == "Hello Ana"


def test_name_may_carry_its_suffix_and_j2_files_are_found(tmp_path: Path) -> None:
    write(tmp_path, "welcome.html.j2", WELCOME)
    assert render("welcome", {"name": "A"}, search_path=tmp_path).subject == "Welcome, A!"
    assert render("welcome.html.j2", {"name": "B"}, search_path=tmp_path).subject == "Welcome, B!"


def test_undefined_variable_names_variable_template_and_line(tmp_path: Path) -> None:
    write(tmp_path, "reset.html", "{% block subject %}Reset{% endblock %}\n"
                                  "{% block html %}\n<p>Hi {{ name }}</p>\n"
                                  "<a href=\"{{ reset_url }}\">go</a>{% endblock %}\n")
    with pytest.raises(TemplateError) as caught:
        render("reset", {"name": "Ana"}, search_path=tmp_path)
    message = str(caught.value)
    assert "'reset_url' is undefined" in message
    assert "reset.html" in message
    assert "line 4" in message


def test_undefined_variable_in_a_layout_names_the_layout(tmp_path: Path) -> None:
    write(tmp_path, "_base.html", "{% block subject %}{% endblock %}\n{% block html %}\n\n"
                                  "<footer>{{ company }}</footer>{% endblock %}")
    write(tmp_path, "child.html", '{% extends "_base.html" %}'
                                  "{% block subject %}S{% endblock %}")
    with pytest.raises(TemplateError) as caught:
        render("child", {}, search_path=tmp_path)
    message = str(caught.value)
    assert "'company' is undefined" in message
    assert "'_base.html', line 4" in message
    assert "rendering 'child'" in message


def test_undefined_attribute_is_an_error_too(tmp_path: Path) -> None:
    write(tmp_path, "t.html", "{% block subject %}{{ user.first_name }}{% endblock %}"
                              "{% block html %}x{% endblock %}")
    with pytest.raises(TemplateError, match="has no attribute 'first_name'"):
        render("t", {"user": {"name": "Ana"}}, search_path=tmp_path)


def test_html_is_autoescaped_but_subject_and_text_are_not(tmp_path: Path) -> None:
    write(tmp_path, "t.html", "{% block subject %}Order for {{ who }}{% endblock %}"
                              "{% block html %}<p>{{ who }} {{ tag }}</p>{% endblock %}"
                              "{% block text %}Dear {{ who }} {{ tag }}{% endblock %}")
    rendered = render("t", {"who": "Tom & Jerry", "tag": "<script>"}, search_path=tmp_path)
    assert rendered.subject == "Order for Tom & Jerry"
    assert "<p>Tom &amp; Jerry &lt;script&gt;</p>" in rendered.html
    assert "<script>" not in rendered.html
    assert rendered.text == "Dear Tom & Jerry <script>"


def test_derived_text_has_no_entities(tmp_path: Path) -> None:
    write(tmp_path, "t.html", "{% block subject %}S{% endblock %}"
                              "{% block html %}<p>{{ who }}</p>{% endblock %}")
    assert render("t", {"who": "Tom & Jerry"}, search_path=tmp_path).text == "Tom & Jerry"


@pytest.mark.parametrize("value", ["Line\r\nBcc: victim@example.com", "a\nb", "a\u2028b",
                                   "tab\tand  spaces"])
def test_subject_is_always_one_line(tmp_path: Path, value: str) -> None:
    write(tmp_path, "t.html", "{% block subject %}\n  Hi {{ v }}\n{% endblock %}"
                              "{% block html %}x{% endblock %}")
    subject = render("t", {"v": value}, search_path=tmp_path).subject
    assert "\r" not in subject and "\n" not in subject and "\u2028" not in subject
    assert subject.startswith("Hi ") and "  " not in subject


def test_empty_subject_and_missing_blocks_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "empty.html", "{% block subject %} {{ s }} {% endblock %}"
                                  "{% block html %}x{% endblock %}")
    write(tmp_path, "nosubject.html", "{% block html %}x{% endblock %}")
    write(tmp_path, "nohtml.html", "{% block subject %}S{% endblock %}")
    with pytest.raises(TemplateError, match="empty subject"):
        render("empty", {"s": ""}, search_path=tmp_path)
    with pytest.raises(TemplateError, match=r"'nosubject.html' has no \{% block subject %\}"):
        render("nosubject", {}, search_path=tmp_path)
    with pytest.raises(TemplateError, match=r"has no \{% block html %\}"):
        render("nohtml", {}, search_path=tmp_path)


def test_template_not_found_lists_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        render("nope", {}, search_path=tmp_path)
    assert "'nope' not found" in str(caught.value)
    assert "nope.html" in str(caught.value) and "nope.html.j2" in str(caught.value)


def test_syntax_error_names_template_and_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.html", "{% block subject %}S{% endblock %}\n{% block html %}\n"
                                "{% if x %}unclosed{% endblock %}")
    with pytest.raises(TemplateError) as caught:
        render("bad", {"x": 1}, search_path=tmp_path)
    assert "'bad.html', line 3" in str(caught.value)


def test_search_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        render("x", {}, search_path=tmp_path / "missing")
    assert caught.value.field == "search_path"


def test_environment_is_cached_per_search_path(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    first = Renderer([tmp_path])
    assert Renderer([tmp_path]).environment is first.environment
    assert Renderer(str(tmp_path)).environment is first.environment
    assert Renderer([other]).environment is not first.environment
    assert first.environment.autoescape is True
    assert first.environment.undefined is jinja2.StrictUndefined
    write(tmp_path, "welcome.html", WELCOME)
    render("welcome", {"name": "a"}, search_path=tmp_path)
    cached = first.environment.cache
    assert cached is not None and len(cached) == 1  # compiled once, reused by the next render
    render("welcome", {"name": "b"}, search_path=tmp_path)
    assert len(cached) == 1


def test_user_folder_comes_before_the_starters(tmp_path: Path) -> None:
    write(tmp_path, "password_reset.html", "{% block subject %}Mine{% endblock %}"
                                           "{% block html %}<p>mine</p>{% endblock %}")
    assert render("password_reset", {}, search_path=tmp_path).subject == "Mine"
    # and the starters are still there for everything the folder lacks
    starter = render("notification", {"brand_name": "B", "title": "T", "message": "m"},
                     search_path=tmp_path)
    assert starter.subject == "T"


def test_own_layout_with_top_level_set_and_import(tmp_path: Path) -> None:
    write(tmp_path, "_macros.html", "{% macro shout(s) %}{{ s|upper }}!{% endmacro %}")
    write(tmp_path, "_base.html", "{% block subject %}{% endblock %}{% block html %}<main>"
                                  "{% block body %}{% endblock %}</main>{% endblock %}"
                                  "{% block text %}{% block body_text %}{% endblock %} -- "
                                  "{{ sig }}{% endblock %}")
    write(tmp_path, "child.html", '{% extends "_base.html" %}{% import "_macros.html" as m %}'
                                  '{% set sig = "The team" %}'
                                  "{% block subject %}{{ m.shout(word) }}{% endblock %}"
                                  "{% block body %}<p>{{ word }}</p>{% endblock %}"
                                  "{% block body_text %}{{ word }}{% endblock %}")
    rendered = render("child", {"word": "R&D"}, search_path=tmp_path)
    assert rendered.subject == "R&D!".upper()
    assert "<main><p>R&amp;D</p></main>" in rendered.html
    assert rendered.text == "R&D -- The team"


def test_application_environment_keeps_its_filters(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    write(app_dir, "hello.html", "{% block subject %}{{ name|shout }}{% endblock %}"
                                 "{% block html %}<p>{{ name }}</p>{% endblock %}")
    app_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(app_dir)), autoescape=False)
    app_env.filters["shout"] = lambda s: s.upper() + "!"
    renderer = Renderer(jinja_env=app_env)
    rendered = renderer.render("hello", {"name": "a&b"})
    assert rendered.subject == "A&B!"
    assert "<p>a&amp;b</p>" in rendered.html  # autoescaped although the app's env is not
    with pytest.raises(TemplateError, match="'name' is undefined"):
        renderer.render("hello", {})
    # starters stay reachable through the application's environment
    assert renderer.render("notification", {"brand_name": "B", "title": "T",
                                            "message": "m"}).subject == "T"
    assert app_env.autoescape is False and app_env.undefined is jinja2.Undefined  # untouched


def test_render_string_and_finish() -> None:
    renderer = Renderer()
    rendered = renderer.render_string("Hi {{ n }}\n", "<p>{{ n }}</p>", None, {"n": "A&B"})
    assert rendered == Rendered("Hi A&B", "<p>A&amp;B</p>", "A&B")
    with pytest.raises(TemplateError, match="'n' is undefined"):
        renderer.render_string("Hi {{ n }}", "<p>x</p>")
    done = renderer.finish("Rendered\r\nelsewhere", "<h1>Title</h1><p>{{ not jinja }}</p>")
    assert done.subject == "Rendered elsewhere"
    assert "{{ not jinja }}" in done.html  # finished content is never rendered again
    assert done.text.startswith("Title\n=====")


def test_render_message_builds_a_message_that_prepares(tmp_path: Path) -> None:
    write(tmp_path, "welcome.html", WELCOME)
    message = render_message("welcome", {"name": "Ana & Co"}, to="ana@example.com",
                             category="SIGNUP", search_path=tmp_path,
                             from_email="Shop <shop@example.com>", reply_to="help@example.com")
    assert isinstance(message, Message)
    assert message.subject == "Welcome, Ana & Co!"
    assert message.category == "SIGNUP"
    prepared = prepare(message)
    parsed = message_from_bytes(prepared.data, policy=policy.SMTP)
    assert parsed["Subject"] == "Welcome, Ana & Co!"
    assert parsed["ACUMBAMAIL-SMTPAPI"] == "SIGNUP"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and text.get_content().strip() == "Hello Ana & Co"
    assert html is not None and "Ana &amp; Co" in html.get_content()


def test_render_message_refuses_fields_the_template_owns(tmp_path: Path) -> None:
    write(tmp_path, "welcome.html", WELCOME)
    with pytest.raises(InvalidMessage, match="subject"):
        render_message("welcome", {"name": "a"}, to="a@example.com", search_path=tmp_path,
                       subject="x")
    with pytest.raises(InvalidMessage, match="colour: not a Message field"):
        render_message("welcome", {"name": "a"}, to="a@example.com", search_path=tmp_path,
                       colour="red")


def test_package_exports_load_jinja2_only_when_used() -> None:
    import subprocess
    import sys

    code = ("import sys, acumbamail_smtp as a; assert 'jinja2' not in sys.modules; "
            "from acumbamail_smtp import render, Renderer, Rendered, render_message, "
            "import_acumbamail; from acumbamail_smtp import templates as t; "
            "assert render is t.render and a.Renderer is t.Renderer; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr


def test_missing_layout_is_named_with_the_line_that_wants_it(tmp_path: Path) -> None:
    write(tmp_path, "child.html", '{% block subject %}S{% endblock %}\n{% extends "_gone.html" %}')
    with pytest.raises(TemplateError) as caught:
        render("child", {}, search_path=tmp_path)
    assert "'child.html', line 2: template '_gone.html' not found" in str(caught.value)
