"""Mail from templates: the core's Jinja renderer (folders in ``ACUMBAMAIL["TEMPLATES"]``, then
the starter templates) or Django's own template engines, so existing e-mail templates keep working.

With ``engine="django"``, template ``NAME`` is three files found by Django's loaders:
``NAME.subject.txt``, ``NAME.html`` and, optionally, ``NAME.txt`` (else the text is derived from
the HTML). Only the HTML is autoescaped. Either way the subject is made one line and the CSS is
inlined by the core.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from acumbamail_smtp.errors import InvalidMessage, TemplateError
from acumbamail_smtp.templates.renderer import Rendered, Renderer
from django.template import Context, TemplateDoesNotExist
from django.template import Template as DjangoTemplate
from django.template.loader import get_template, render_to_string

from . import conf

ENGINES = ("acumbamail", "django")


@functools.lru_cache(maxsize=8)
def _renderer(folders: tuple[str, ...]) -> Renderer:
    return Renderer(folders)


def render_template(name: str, context: Mapping[str, Any] | None = None, *,
                    engine: str = "acumbamail") -> Rendered:
    """Render template ``name`` into a subject, HTML and text with ``engine``."""
    if engine == "acumbamail":
        return _renderer(conf.template_folders()).render(name, context)
    if engine != "django":
        raise InvalidMessage(f"engine: must be one of {', '.join(ENGINES)}, got {engine!r}")
    values = dict(context or {})
    try:
        subject = _render_plain(f"{name}.subject.txt", values)
        html = render_to_string(f"{name}.html", values)
    except TemplateDoesNotExist as exc:
        raise TemplateError(f"Django template {exc} not found (template {name!r} needs "
                            f"{name}.subject.txt and {name}.html)") from exc
    try:
        text: str | None = _render_plain(f"{name}.txt", values)
    except TemplateDoesNotExist:
        text = None
    return _renderer(()).finish(subject, html, text)


def _render_plain(name: str, values: dict[str, Any]) -> str:
    """A subject or text template of Django's engine rendered without HTML autoescaping
    (``Tom & Jerry`` stays as it is); other engines render as they are configured."""
    template = get_template(name)
    inner = getattr(template, "template", None)
    if isinstance(inner, DjangoTemplate):
        return inner.render(Context(values, autoescape=False))
    return template.render(values)
