"""What every framework's report views must answer, whatever the test client."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from tests.reports.conftest import BY_STATUS, EXPECTED, addr

#: get(path) -> (status, headers (lower-case names), body bytes)
Get = Callable[[str], tuple[int, dict[str, str], bytes]]


def check_views(get: Get, base: str) -> None:
    """``base`` is the page's URL (ending with ``/``)."""
    status, headers, body = get(base)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "no-store" in headers["cache-control"] and headers["x-robots-tag"] == "noindex"
    html = body.decode()
    assert '<form class="filters" method="get" action="./">' in html
    # every link of the page works, relative to the page
    for name in ("link-summary-json", "link-recipients-json", "link-recipients-csv"):
        href = re.search(rf'href="([^"]+)" id="{name}"', html)
        assert href is not None, name
        assert get(urljoin(base, href.group(1).replace("&amp;", "&")))[0] == 200, name

    # the period form asks the server again: its fields come back filled in, the numbers filtered
    status, _, body = get(base + "?since=2000-01-01&until=2999-12-31&category=ORDER")
    html = body.decode()
    assert status == 200 and 'name="category" value="ORDER"' in html
    assert 'name="since" value="2000-01-01T00:00:00+00:00"' in html
    sent = re.search(r'data-metric="sent">\s*<div class="label">Sent</div>\s*<div class="value">(\d+)<', html)
    assert sent is not None and int(sent.group(1)) == EXPECTED["ORDER"]["sent"]
    assert 'href="recipients.csv?since=2000-01-01T00%3A00%3A00%2B00%3A00' in html

    status, headers, body = get(base + "summary.json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    document = _json(body)
    assert {k: document["summary"][k] for k in EXPECTED[None]} == EXPECTED[None]
    assert [c["key"] for c in document["by_category"]] == [None, "ORDER", "RESET", "SIGNUP"]
    assert document["urls"][0]["clicks"] == 3

    status, _, body = get(base + "summary.json?category=ORDER&since=2000-01-01")
    assert _json(body)["summary"]["sent"] == EXPECTED["ORDER"]["sent"]
    assert _json(body)["filter"] == {"category": "ORDER", "since": "2000-01-01T00:00:00+00:00"}

    page1 = _json(get(base + "recipients.json?limit=5")[2])
    page2 = _json(get(base + f"recipients.json?limit=5&after={page1['next']}")[2])
    assert page2["next"] is None
    assert {r["recipient"] for r in page1["rows"] + page2["rows"]} == {addr(n) for n in BY_STATUS["all"]}
    bounced = _json(get(base + "recipients.json?status=hard_bounce")[2])["rows"]
    assert [(r["recipient"], r["status"]) for r in bounced] == [(addr("f"), "hard_bounce")]

    status, headers, body = get(base + "recipients.csv?status=not_opened")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert headers["content-disposition"] == 'attachment; filename="recipients-not_opened.csv"'
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert {r["recipient"] for r in rows} == {addr(n) for n in BY_STATUS["not_opened"]}

    for bad, field in (("recipients.json?status=lost", "status"), ("summary.json?since=tomorrow", "since"),
                       ("recipients.json?limit=abc", "limit"), ("recipients.json?after=zz", "after"),
                       ("recipients.csv?status=lost", "status"),
                       ("?until=nope", "until")):
        status, headers, body = get(base + bad)
        assert status == 400, bad
        assert _json(body)["field"] == field, bad


def _json(body: bytes) -> Any:
    import json

    return json.loads(body)
