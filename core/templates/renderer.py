"""Mail templates: Jinja2 files in your code base rendered into a subject, an HTML and a text part.

File convention
---------------
A template ``NAME`` is one file, ``NAME.html`` or ``NAME.html.j2``, found on the search path (your
folders first, then the starter templates shipped with the library). It defines blocks::

    {% block subject %}Your order {{ order_number }}{% endblock %}
    {% block html %}<!DOCTYPE html><html lang="en">...</html>{% endblock %}
    {% block text %}Hello {{ name }}, ...{% endblock %}        {# optional #}

and may ``{% extends %}`` a layout that defines some of them (files whose names start with ``_``
are layouts and partials by convention). ``html`` is autoescaped; ``subject``
and ``text`` are not (``Tom & Jerry`` stays as it is), and the subject is collapsed to one line,
so it can never carry a CR or LF. Without a ``text`` block (or when it renders empty) the text part
is derived from the HTML (see :mod:`acumbamail_smtp.templates.html_text`). Undefined variables raise
:class:`~acumbamail_smtp.TemplateError` naming the variable, the template and the line, before
anything is sent. The CSS of the HTML is inlined with css-inline (extra ``templates``); ``@media``
rules stay in a ``<style>`` element so responsive layouts keep working.

Use :func:`render` or :func:`render_message` (a :class:`~acumbamail_smtp.Message` ready to
send), or keep a :class:`Renderer` (what the framework adapters do: their own folders or Jinja
environment; ``render_string`` for sources held in strings, ``finish`` for content another engine
such as Django's already rendered). Environments are built once per search path and cached.

HTML exported from Acumbamail's editor, with ``*|TAG|*`` merge tags, is converted by
:func:`import_acumbamail` (``*|FIRST_NAME|*`` becomes ``{{ FIRST_NAME }}``; the subject comes from
``<title>`` or, failing that, from a ``subject`` context variable). A file named
``NAME.acumbamail.html``, or any template file with merge tags and no ``{% block %}``, is converted
when it is loaded, so such exports can be rendered as they are.

Starter templates
-----------------
Shipped in ``starters/``, responsive (one column under 600 px) and accessible; copy one
next to your own templates (same name) to change it. Every one takes the layout's variables:
``brand_name`` (required), and optionally ``brand_url``, ``logo_url`` (shown with ``brand_name`` as
alt text), ``logo_width`` (px, default 120), ``lang`` (default ``en``), ``footer_text`` (e.g. your
postal address) and ``unsubscribe_url``. Then:

- ``registration_confirmation``: ``name``, ``confirm_url``; optional ``expires_in`` ("24 hours").
- ``password_reset``: ``name``, ``reset_url``; optional ``expires_in``.
- ``order_confirmation``: ``name``, ``order_number``, ``items`` (each with ``name``, ``quantity``
  and ``price``, a formatted line total), ``total``; optional ``subtotal``, ``shipping``, ``tax``,
  ``order_url``, ``shipping_address`` (lines separated by newlines). Amounts are strings you format.
- ``notification``: ``title``, ``message`` (plain text; blank lines separate paragraphs); optional
  ``name``, ``action_url`` and ``action_label``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2

from ..errors import ConfigError, InvalidMessage, TemplateError
from ..message.model import AddressList, Message
from .acumbamail import ImportingLoader, import_acumbamail
from .html_text import html_to_text

__all__ = [
    "STARTER_DIR",
    "Rendered",
    "Renderer",
    "import_acumbamail",
    "render",
    "render_message",
]

log = logging.getLogger(__name__)

#: The folder of the starter templates; always searched after the application's folders.
STARTER_DIR = Path(__file__).resolve().with_name("starters")
#: File names tried for a template name given without a suffix, in this order.
SUFFIXES = (".html", ".html.j2", ".acumbamail.html")

SearchPath = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]

_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


@dataclasses.dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered template: a one-line ``subject``, the ``html`` (CSS inlined) and the ``text``."""

    subject: str
    html: str
    text: str


# -- environments ------------------------------------------------------------------------------

def _normalize(search_path: SearchPath) -> tuple[str, ...]:
    if isinstance(search_path, str | os.PathLike):
        search_path = [search_path]
    return tuple(os.path.abspath(os.fspath(p)) for p in search_path)


def _check_dirs(search_path: tuple[str, ...]) -> None:
    for folder in search_path:
        if not os.path.isdir(folder):
            raise ConfigError("search_path", f"{folder!r} is not a folder")


@functools.lru_cache(maxsize=32)
def _environments(search_path: tuple[str, ...]) -> tuple[jinja2.Environment, jinja2.Environment]:
    """The environment of one search path (HTML, autoescaped) and its overlay for subject/text."""
    _check_dirs(search_path)
    loader = ImportingLoader(jinja2.FileSystemLoader([*search_path, str(STARTER_DIR)]))
    html_env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)
    return html_env, html_env.overlay(autoescape=False)


def _template_location(exc: BaseException) -> tuple[str, int] | None:
    """The innermost template frame of ``exc``'s traceback: (template name, line)."""
    found: tuple[str, int] | None = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            found = (template.name or "<string>", template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found


def _error(exc: Exception, name: str, folders: tuple[str, ...] = ()) -> TemplateError:
    """Our :class:`TemplateError` for a Jinja (or template-code) exception, with its location."""
    if isinstance(exc, jinja2.TemplatesNotFound):  # the template asked for, under any suffix
        where = "".join(f"{folder}, " for folder in folders) + "the starter templates"
        return TemplateError(f"template {name!r} not found (looked for "
                             f"{', '.join(map(str, exc.templates))} in {where})")
    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = exc.name or exc.filename or name
        return TemplateError(f"template {where!r}, line {exc.lineno}: {exc.message}")
    location = _template_location(exc)
    if isinstance(exc, jinja2.TemplateNotFound):  # a layout, include or import that is missing
        detail = f"template {exc.name!r} not found"
    elif isinstance(exc, jinja2.TemplateError):
        detail = str(exc)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    if location is None:
        return TemplateError(f"template {name!r}: {detail}")
    where, line = location
    also = "" if where.startswith(name) else f" (rendering {name!r})"
    return TemplateError(f"template {where!r}, line {line}: {detail}{also}")


def _render_blocks(template: jinja2.Template, names: tuple[str, ...],
                   context: dict[str, Any]) -> dict[str, str | None]:
    """Render the named blocks of ``template`` (after its ``{% extends %}`` chain is set up)."""
    ctx = template.new_context(context)
    # Running the root code resolves {% extends %} and top-level {% set %}/{% import %} exactly as
    # Jinja does, so each block can then be rendered on its own; its output is not needed.
    for _ in template.root_render_func(ctx):
        pass
    rendered: dict[str, str | None] = {}
    for block in names:
        chain = ctx.blocks.get(block)
        rendered[block] = "".join(chain[0](ctx)) if chain else None
    return rendered


# -- CSS inlining ------------------------------------------------------------------------------

@functools.cache
def _inliner() -> Callable[[str], str] | None:
    """The CSS inliner, built once; None (and one warning) when css-inline is not installed."""
    try:
        import css_inline
    except ImportError:
        log.warning("css-inline is not installed: HTML mail keeps its <style> element and is not "
                    "inlined; install the 'templates' extra of acumbamail-smtp")
        return None
    inliner = css_inline.CSSInliner(keep_at_rules=True, keep_link_tags=True,
                                    load_remote_stylesheets=False)
    inline: Callable[[str], str] = inliner.inline
    return inline


def _inline_css(html: str, name: str) -> str:
    if "<style" not in html.lower():  # nothing to inline: leave the markup exactly as it is
        return html
    inline = _inliner()
    if inline is None:
        return html
    try:
        return inline(html)
    except ValueError as exc:  # css_inline.InlineError derives from ValueError
        raise TemplateError(f"template {name!r}: CSS cannot be inlined: {exc}") from exc


# -- rendering ---------------------------------------------------------------------------------

def _clean_text(text: str) -> str:
    text = textwrap.dedent(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _one_line(subject: str) -> str:
    return " ".join(subject.split())


class Renderer:
    """Renders mail templates from ``search_path`` (then the starter templates).

    The Jinja environment is built once per search path and shared. Adapters may pass their own
    ``jinja_env`` (e.g. Flask's ``app.jinja_env``): its loader, filters and globals are kept, with
    autoescaping, ``StrictUndefined`` and the starter templates added on top.
    """

    def __init__(self, search_path: SearchPath = (), *, inline_css: bool = True,
                 jinja_env: jinja2.Environment | None = None) -> None:
        self.search_path = _normalize(search_path)
        self.inline_css = inline_css
        if jinja_env is None:
            self.environment, self._text_env = _environments(self.search_path)
        else:
            _check_dirs(self.search_path)
            loaders: list[jinja2.BaseLoader] = [jinja_env.loader] if jinja_env.loader else []
            loaders.append(jinja2.FileSystemLoader([*self.search_path, str(STARTER_DIR)]))
            self.environment = jinja_env.overlay(
                loader=ImportingLoader(jinja2.ChoiceLoader(loaders)), autoescape=True,
                undefined=jinja2.StrictUndefined, enable_async=False)
            self._text_env = self.environment.overlay(autoescape=False)
        self._compile_string = functools.lru_cache(maxsize=64)(self._compile_string_uncached)

    def __repr__(self) -> str:
        return f"Renderer(search_path={self.search_path!r}, inline_css={self.inline_css!r})"

    def render(self, name: str, context: Mapping[str, Any] | None = None) -> Rendered:
        """Render template ``name`` (``"password_reset"`` or ``"password_reset.html"``)."""
        values = dict(context or {})
        candidates = [name] if name.endswith((".html", ".j2")) else [name + s for s in SUFFIXES]
        try:
            html_template = self.environment.select_template(candidates)
            text_template = self._text_env.get_template(html_template.name or candidates[0])
            text_blocks = _render_blocks(text_template, ("subject", "text"), values)
            html_blocks = _render_blocks(html_template, ("html",), values)
        except TemplateError:
            raise
        except Exception as exc:
            raise _error(exc, name, self.search_path) from exc
        return self._finish(text_blocks["subject"], html_blocks["html"], text_blocks["text"],
                            html_template.name or name)

    def render_string(self, subject: str, html: str, text: str | None = None,
                      context: Mapping[str, Any] | None = None) -> Rendered:
        """Render Jinja sources given as strings (compiled ones are cached by their text)."""
        values = dict(context or {})
        try:
            rendered_subject = self._compile_string(subject, False).render(values)
            rendered_html = self._compile_string(html, True).render(values)
            rendered_text = None if text is None else self._compile_string(text, False).render(
                values)
        except TemplateError:
            raise
        except Exception as exc:
            raise _error(exc, "<string>") from exc
        return self._finish(rendered_subject, rendered_html, rendered_text, "<string>")

    def render_file(self, name: str, context: Mapping[str, Any] | None = None) -> str:
        """Render the whole file ``name`` to one string, without the block convention: for
        templates written for other libraries (e.g. fastapi-mail), whose file is the body.
        ``.html``/``.htm``/``.xml`` files are autoescaped; undefined variables raise TemplateError."""
        html = name.lower().endswith((".html", ".htm", ".xml", ".html.j2"))
        try:
            template = (self.environment if html else self._text_env).get_template(name)
            return template.render(dict(context or {}))
        except TemplateError:
            raise
        except Exception as exc:
            raise _error(exc, name, self.search_path) from exc

    def finish(self, subject: str, html: str, text: str | None = None) -> Rendered:
        """Finish content another engine rendered (e.g. Django): one-line subject, CSS inlined,
        text derived from the HTML when none is given."""
        return self._finish(subject, html, text, "<string>")

    def _compile_string_uncached(self, source: str, is_html: bool) -> jinja2.Template:
        env = self.environment if is_html else self._text_env
        return env.from_string(source)

    def _finish(self, subject: str | None, html: str | None, text: str | None,
                name: str) -> Rendered:
        if subject is None or html is None:
            block = "subject" if subject is None else "html"
            raise TemplateError(f"template {name!r} has no {{% block {block} %}} (see the file "
                                "convention in acumbamail_smtp.templates.renderer)")
        one_line = _one_line(subject)
        if not one_line:
            raise TemplateError(f"template {name!r} renders an empty subject")
        html = html.strip()
        if not html:
            raise TemplateError(f"template {name!r} renders an empty html block")
        plain = _clean_text(text) if text is not None else ""
        if not plain.strip():
            plain = html_to_text(html)
        if self.inline_css:
            html = _inline_css(html, name)
        return Rendered(one_line, html, plain)

    def render_message(self, name: str, context: Mapping[str, Any] | None = None, *,
                       to: AddressList, category: str | None = None,
                       **message_fields: Any) -> Message:
        """Render ``name`` into a :class:`~acumbamail_smtp.Message` (nothing is sent)."""
        reserved = {"subject", "html", "text"} & message_fields.keys()
        if reserved:
            raise InvalidMessage(f"{', '.join(sorted(reserved))}: set by the template "
                                 f"{name!r}; do not pass them to render_message")
        known = {f.name for f in dataclasses.fields(Message)} - {"send_result"}
        unknown = sorted(message_fields.keys() - known)
        if unknown:
            raise InvalidMessage(f"{', '.join(unknown)}: not a Message field")
        rendered = self.render(name, context)
        return Message(to=to, subject=rendered.subject, html=rendered.html, text=rendered.text,
                       category=category, **message_fields)


@functools.lru_cache(maxsize=32)
def _renderer(search_path: tuple[str, ...], inline_css: bool) -> Renderer:
    return Renderer(search_path, inline_css=inline_css)


def render(name: str, context: Mapping[str, Any] | None = None, *, search_path: SearchPath = (),
           inline_css: bool = True) -> Rendered:
    """Render template ``name`` found on ``search_path`` (then the starter templates)."""
    return _renderer(_normalize(search_path), inline_css).render(name, context)


def render_message(name: str, context: Mapping[str, Any] | None = None, *, to: AddressList,
                   category: str | None = None, search_path: SearchPath = (),
                   **message_fields: Any) -> Message:
    """Render template ``name`` into a :class:`~acumbamail_smtp.Message` ready to send.

    ``message_fields`` are the other Message fields (``from_email``, ``cc``, ``headers``...);
    subject, html and text come from the template.
    """
    return _renderer(_normalize(search_path), True).render_message(
        name, context, to=to, category=category, **message_fields)
