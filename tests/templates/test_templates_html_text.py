"""The text alternative derived from HTML when a template has no text block."""

from __future__ import annotations

import re

import pytest
from acumbamail_smtp.templates.html_text import html_to_text

PAGE = """<!DOCTYPE html>
<html lang="en"><head><title>Not in the text</title>
<style>.x { color: red }</style><script>var secret = 1;</script></head>
<body>
<div style="display:none">Hidden preheader&zwnj;&nbsp;&zwnj;</div>
<h1>Your   order &amp; invoice</h1>
<p>Hello&nbsp;Ana,<br>thanks for <em>shopping</em> at <a href="https://shop.example/?a=1&amp;b=2">our
shop</a>.</p>
<h2>Items</h2>
<ul><li>Blue mug</li><li>Tea <strong>sampler</strong>
  <ul><li>green</li></ul></li></ul>
<ol><li>Pay</li><li>Wait</li></ol>
<table><tr><th>Item</th><th>Price</th></tr><tr><td>Mug &lt;L&gt;</td><td>&euro;18.00</td></tr></table>
<table role="presentation"><tr><td><p>Layout A</p></td><td><p>Layout B</p></td></tr></table>
<p><a href="mailto:help@shop.example">help@shop.example</a> &middot;
<a href="https://shop.example/">https://shop.example</a> &middot;
<a href="#top">Top</a> <img src="logo.png" alt="Shop logo"></p>
<pre>  keep
    this</pre>
<hr>
<p aria-hidden="true">decoration</p><p hidden>gone</p>
</body></html>"""


@pytest.fixture(scope="module")
def text() -> str:
    return html_to_text(PAGE)


def test_no_tags_entities_or_head_content(text: str) -> None:
    assert not re.search(r"<[a-zA-Z/!]", text.replace("Mug <L>", ""))
    assert not re.search(r"&[a-zA-Z#0-9]+;", text)
    for dropped in ("Not in the text", "color: red", "secret", "Hidden preheader", "decoration",
                    "gone"):
        assert dropped not in text
    assert "\u200c" not in text and "\xa0" not in text


def test_headings_paragraphs_and_line_breaks(text: str) -> None:
    assert text.startswith("Your order & invoice\n====================\n\nHello Ana,\nthanks for")
    assert "\n\nItems\n-----\n\n" in text


def test_links_keep_their_url(text: str) -> None:
    assert "at our shop (https://shop.example/?a=1&b=2)." in text
    assert "help@shop.example ·" in text  # mailto: shown once, not "x (mailto:x)"
    assert "https://shop.example ·" in text  # text equal to the URL is not repeated
    assert "Top" in text and "#top" not in text


def test_lists(text: str) -> None:
    assert "- Blue mug\n- Tea sampler\n  - green" in text
    assert "1. Pay\n2. Wait" in text


def test_tables_and_images_and_pre(text: str) -> None:
    assert "Item | Price\nMug <L> | €18.00" in text
    assert "Layout A\n\nLayout B" in text
    assert "Shop logo" in text
    assert "  keep\n    this" in text
    assert text.endswith("this\n\n" + "-" * 40)


def test_whitespace_is_tidy(text: str) -> None:
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert text == text.strip()


def test_unclosed_and_odd_markup_does_not_lose_text() -> None:
    assert html_to_text("<p>one<p>two<li>three") == "one\n\ntwo\n- three"
    assert html_to_text("<style>a{}<p>not closed") == ""
    assert html_to_text("plain & simple") == "plain & simple"
    assert html_to_text("") == ""
