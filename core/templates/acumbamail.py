"""HTML exported from Acumbamail's editor, with ``*|TAG|*`` merge tags, as a template of our block
convention: :func:`import_acumbamail`, and a Jinja loader that converts such exports as they load."""

from __future__ import annotations

import html as html_lib
import keyword
import re
from collections.abc import Callable

import jinja2

from ..errors import TemplateError

_MERGE_TAG = re.compile(r"\*\|([^|\s*]{1,100})\|\*")
_BLOCK_TAG = re.compile(r"\{%-?\s*block\s")
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_JINJA_WORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not",
                          "in", "is", "if", "else", "loop", "self", "super", "caller", "varargs",
                          "kwargs"})


def _escape_jinja(text: str) -> str:
    """Make literal text safe inside a Jinja template: every ``{{``, ``{%``, ``{#`` is printed."""
    return _JINJA_OPEN.sub('{{ "{" }}', text)


def _convert_tags(text: str, where: str) -> str:
    parts: list[str] = []
    last = 0
    for match in _MERGE_TAG.finditer(text):
        tag = match.group(1)
        if not tag.isidentifier() or keyword.iskeyword(tag) or tag in _JINJA_WORDS:
            line = text.count("\n", 0, match.start()) + 1
            raise TemplateError(
                f"{where}, line {line}: merge tag *|{tag}|* cannot become a template variable "
                "(a variable name is letters, digits and underscores, not starting with a digit, and "
                "not a reserved word)"
            )
        parts.append(_escape_jinja(text[last:match.start()]))
        parts.append("{{ " + tag + " }}")
        last = match.end()
    parts.append(_escape_jinja(text[last:]))
    return "".join(parts)


def import_acumbamail(html: str, subject: str | None = None, *, source: str = "<html>") -> str:
    """Turn HTML exported from Acumbamail's editor into a template of our block convention.

    ``*|TAG|*`` merge tags become ``{{ TAG }}`` variables (``*|UNSUBSCRIBE_URL|*`` included), and
    any literal ``{{``, ``{%`` or ``{#`` is escaped so Jinja prints it as it is. The subject is
    ``subject`` when given, else the ``<title>``, else the ``subject`` context variable.
    """
    if subject is not None and subject.strip():
        subject_source = _convert_tags(" ".join(subject.split()), f"{source} (subject)")
    else:
        title = _TITLE.search(html)
        title_text = " ".join(html_lib.unescape(title.group(1)).split()) if title else ""
        subject_source = (_convert_tags(title_text, f"{source} (<title>)") if title_text
                          else "{{ subject }}")
    body = _convert_tags(html, source).strip()
    return (
        "{#- Imported from Acumbamail's editor: merge tags are template variables. -#}\n"
        f"{{% block subject %}}{subject_source}{{% endblock %}}\n"
        f"{{% block html %}}{body}{{% endblock %}}\n"
    )


def _is_acumbamail_export(name: str, source: str) -> bool:
    if name.endswith(".acumbamail.html"):
        return True
    return bool(_MERGE_TAG.search(source)) and not _BLOCK_TAG.search(source)


class ImportingLoader(jinja2.BaseLoader):
    """Wraps a loader and converts Acumbamail exports as they load: files named
    ``*.acumbamail.html``, or with merge tags and no ``{% block %}``."""

    def __init__(self, inner: jinja2.BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        if _is_acumbamail_export(template, source):
            source = import_acumbamail(source, source=template)
        return source, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.inner.list_templates()
