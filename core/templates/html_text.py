"""Plain text from HTML, for the ``text/plain`` alternative of a mail whose template has none.

Written on the standard library's :class:`html.parser.HTMLParser` (html2text is GPL-licensed, and
this library is MIT). The output is what a person would type: paragraphs and headings separated
by blank lines, ``<br>`` as a line break, links as ``text (url)``, list items as ``- item`` or
``1. item``, table rows on one line with cells joined by ``" | "`` (layout tables marked
``role="presentation"`` are read as plain blocks), images as their alt text. ``<head>``, ``<style>``,
``<script>`` and hidden elements (``hidden``, ``aria-hidden="true"``, ``display:none``) are
dropped; entities are decoded and no tag survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["html_to_text"]

#: Elements whose content never reaches the text.
_DROPPED = frozenset({"head", "style", "script", "noscript", "template", "title", "svg", "object",
                      "iframe", "canvas", "video", "audio", "map", "select", "button"})
#: Elements that stand on their own lines, separated from their neighbours by a blank line.
_PARAGRAPHS = frozenset({"p", "blockquote", "pre", "table", "ul", "ol", "dl", "form", "fieldset",
                         "figure", "address", "center"})
#: Elements that start a new line (no blank line).
_LINES = frozenset({"div", "section", "article", "header", "footer", "main", "aside", "nav",
                    "tr", "li", "dt", "dd", "figcaption", "caption", "tbody", "thead", "tfoot"})
_HEADINGS = {"h1": "=", "h2": "-", "h3": "", "h4": "", "h5": "", "h6": ""}
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})
#: Invisible characters mail HTML uses for preheader padding; they have no place in text.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u034f\u00ad"), None)
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0]+")
_HIDDEN_STYLE = re.compile(r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden)", re.I)


@dataclass
class _List:
    ordered: bool
    counter: int = 0


@dataclass
class _Link:
    href: str
    start: int  # index into the output pieces where the link text starts


@dataclass
class _Table:
    layout: bool
    cells_in_row: int = 0


@dataclass
class _State:
    pieces: list[str] = field(default_factory=list)
    newlines: int = 0  # line breaks owed before the next text
    space: bool = False  # a space owed before the next text
    started: bool = False  # any text written yet


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _State()
        self.skip: list[str] = []  # stack of tags being dropped, with their content
        self.pre = 0
        self.lists: list[_List] = []
        self.links: list[_Link] = []
        self.tables: list[_Table] = []
        self.heading: tuple[str, int] | None = None  # (underline char, start piece)

    # -- output primitives -------------------------------------------------------------------

    def _break(self, lines: int) -> None:
        if self.out.started:
            self.out.newlines = max(self.out.newlines, lines)
        self.out.space = False

    def _write(self, text: str) -> None:
        if not text:
            return
        out = self.out
        if out.newlines:
            out.pieces.append("\n" * out.newlines + self._indent())
            out.newlines = 0
        elif out.space and out.pieces and not out.pieces[-1].endswith((" ", "\n")):
            out.pieces.append(" ")
        out.space = False
        out.started = True
        out.pieces.append(text)

    def _indent(self) -> str:
        return "  " * max(len(self.lists) - 1, 0) + ("  " if self.lists else "")

    # -- parser callbacks --------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            if tag not in _VOID:
                self.skip.append(tag)
            return
        attributes = {name: value or "" for name, value in attrs}
        hidden = ("hidden" in attributes or attributes.get("aria-hidden", "").lower() == "true"
                  or _HIDDEN_STYLE.search(attributes.get("style", "")))
        if tag in _DROPPED or hidden:
            if tag not in _VOID:
                self.skip.append(tag)
            return
        if tag == "br":
            self._line_break()
        elif tag == "hr":
            self._break(2)
            self._write("-" * 40)
            self._break(2)
        elif tag == "img":
            alt = _SPACES.sub(" ", attributes.get("alt", "").translate(_INVISIBLE)).strip()
            if alt:
                self.out.space = True
                self._write(alt)
                self.out.space = True
        elif tag == "a":
            self.links.append(_Link(attributes.get("href", "").strip(), len(self.out.pieces)))
        elif tag in _HEADINGS:
            self._break(2)
            self.heading = (_HEADINGS[tag], len(self.out.pieces))
        elif tag in ("ul", "ol"):
            self._break(1 if self.lists else 2)
            self.lists.append(_List(ordered=tag == "ol"))
        elif tag == "li":
            self._break(1)
            current = self.lists[-1] if self.lists else None
            if current is not None and current.ordered:
                current.counter += 1
                marker = f"{current.counter}. "
            else:
                marker = "- "
            self._write_marker(marker)
        elif tag == "table":
            self.tables.append(_Table(layout=attributes.get("role", "").lower() in
                                      ("presentation", "none")))
            self._break(1 if self.tables[-1].layout else 2)
        elif tag in ("td", "th"):
            table = self.tables[-1] if self.tables else None
            if table is not None and not table.layout:
                if table.cells_in_row:
                    self._write_raw(" | ")
                table.cells_in_row += 1
            else:
                self._break(1)
        elif tag == "tr":
            if self.tables:
                self.tables[-1].cells_in_row = 0
            self._break(1)
        elif tag == "pre":
            self._break(2)
            self.pre += 1
        elif tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag in self.skip:  # tolerate unclosed children of the dropped element
                while self.skip and self.skip.pop() != tag:
                    pass
            return
        if tag == "a" and self.links:
            self._end_link(self.links.pop())
        elif tag in _HEADINGS and self.heading is not None:
            underline, start = self.heading
            self.heading = None
            title = "".join(self.out.pieces[start:]).strip()
            if underline and title:
                self._break(1)
                self._write(underline * min(len(title.splitlines()[-1]), 78))
            self._break(2)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._break(1 if self.lists else 2)
        elif tag == "table" and self.tables:
            table = self.tables.pop()
            self._break(1 if table.layout else 2)
        elif tag == "pre" and self.pre:
            self.pre -= 1
            self._break(2)
        elif tag in _PARAGRAPHS:
            self._break(2)
        elif tag in _LINES:
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = data.translate(_INVISIBLE)
        if self.pre:
            lines = data.replace("\r\n", "\n").split("\n")
            for number, line in enumerate(lines):
                if number:
                    self._line_break()
                self._write(line.replace("\u00a0", " "))
            return
        if not data:
            return
        leading = data[0] in " \t\n\r\f\v\u00a0"
        trailing = data[-1] in " \t\n\r\f\v\u00a0"
        text = _SPACES.sub(" ", data).strip()
        if leading:
            self.out.space = True
        if text:
            self._write(text)
            self.out.space = trailing

    # -- helpers -----------------------------------------------------------------------------

    def _line_break(self) -> None:
        out = self.out
        if out.newlines:
            out.newlines += 1
        else:
            out.pieces.append("\n" + self._indent())
        out.started = True
        out.space = False

    def _write_marker(self, marker: str) -> None:
        out = self.out
        indent = "  " * (len(self.lists) - 1)
        if out.newlines or out.started:
            out.pieces.append("\n" * max(out.newlines, 1) + indent + marker)
        else:
            out.pieces.append(indent + marker)
        out.newlines = 0
        out.space = False
        out.started = True

    def _write_raw(self, text: str) -> None:
        self.out.newlines = 0
        self.out.space = False
        self.out.pieces.append(text)

    def _end_link(self, link: _Link) -> None:
        href = link.href
        if not href or href.startswith("#") or href.lower().startswith(("javascript:", "data:")):
            return
        label = " ".join("".join(self.out.pieces[link.start:]).split())
        shown = href[len("mailto:"):] if href.lower().startswith("mailto:") else href
        if not label:
            self._write(shown)
        elif label.rstrip("/") != shown.rstrip("/") and label != href:
            self._write_raw_inline(f" ({shown})")

    def _write_raw_inline(self, text: str) -> None:
        self.out.pieces.append(text)
        self.out.space = False


_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING = re.compile(r"[ \t]+\n")


def html_to_text(html: str) -> str:
    """Return the readable plain text of ``html`` (no tags, no entities, no head/style/script)."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    text = "".join(writer.out.pieces)
    text = _TRAILING.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()
