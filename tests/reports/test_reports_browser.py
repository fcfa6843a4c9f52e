"""The HTML report in headless Chromium: it renders every number, its filters and links work,
it makes no request and logs no console error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore, reports
from acumbamail_smtp.reports.html import render_report
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from tests.reports.conftest import BY_STATUS, EXPECTED, addr

pytestmark = pytest.mark.browser


def visible(browser: Any) -> set[str]:
    return set(browser.run(
        "return Array.from(document.querySelectorAll('#recipients-table tbody tr'))"
        ".filter(r => !r.hidden && r.offsetParent !== null).map(r => r.cells[0].textContent.split('@')[0]);"))


@pytest.fixture
def page(browser: Any, store: SQLiteEventStore, tmp_path: Path) -> Any:
    browser.open_html(render_report(store), tmp_path / "report.html", width=1000)
    return browser


def test_it_renders_every_number(page: Any, store: SQLiteEventStore) -> None:
    cards = page.run("return Object.fromEntries(Array.from(document.querySelectorAll('.card'))"
                     ".map(c => [c.dataset.metric, c.querySelector('.value').textContent.trim()]));")
    assert {k: int(v) for k, v in cards.items()} == EXPECTED[None]
    rate = page.driver.find_element(By.CSS_SELECTOR, '[data-metric="opened"] .rate').text
    assert rate == f"{reports.summary(store).open_rate * 100:.1f}%"
    bars = page.run("return Object.fromEntries(Array.from(document.querySelectorAll('svg g.bar'))"
                    ".map(g => [g.dataset.metric, g.lastChild.textContent]));")
    assert {k: int(v) for k, v in bars.items()} == {k: EXPECTED[None][k] for k in bars}
    assert page.run("return document.querySelectorAll('svg g.series').length;") == 4
    categories = page.run("return Array.from(document.querySelectorAll('#categories-table tbody tr'))"
                          ".map(r => Array.from(r.cells).map(c => c.textContent.trim()));")
    order = next(row for row in categories if row[0] == "ORDER")
    assert order == ["ORDER", "4", "2", "50.0%", "50.0%", "1", "1", "1"]
    urls = page.run("return Array.from(document.querySelectorAll('#urls-table tbody tr'))"
                    ".map(r => Array.from(r.cells).map(c => c.textContent.trim()));")
    assert urls[0] == ["https://shop.example.com/welcome?utm=mail", "3", "2"]
    assert visible(page) == BY_STATUS["all"]
    assert page.horizontal_overflow() == 0
    assert page.console_errors() == []


def test_the_filters_change_the_visible_rows(page: Any) -> None:
    status = Select(page.driver.find_element(By.ID, "status-filter"))
    for name in ("hard_bounce", "not_opened", "opened", "complaint"):
        status.select_by_value(name)
        assert visible(page) == BY_STATUS[name], name
        assert page.driver.find_element(By.ID, "shown-count").text == str(len(BY_STATUS[name]))
    status.select_by_value("all")
    text = page.driver.find_element(By.ID, "text-filter")
    text.send_keys(addr("j"))
    assert visible(page) == {"j"}
    text.clear()
    text.send_keys("SPAM")  # the reason of e's complaint, case-insensitively
    assert visible(page) == {"e"}
    text.clear()
    text.send_keys("nobody@")
    assert visible(page) == set()
    assert page.driver.find_element(By.ID, "no-match").is_displayed()
    text.clear()
    text.send_keys(" ")
    Select(page.driver.find_element(By.ID, "category-filter")).select_by_value("SIGNUP")
    assert visible(page) == {"a", "b", "c"}
    assert page.console_errors() == []


def test_category_links_filter_the_recipients(page: Any) -> None:
    page.driver.find_element(By.CSS_SELECTOR, 'a.category-link[data-category="ORDER"]').click()
    assert Select(page.driver.find_element(By.ID, "category-filter")).first_selected_option.text == "ORDER"
    assert visible(page) == {"d", "e", "f", "g"}
    assert page.run("return location.hash;") == "#recipients"
    page.driver.find_element(By.CSS_SELECTOR, 'a.category-link[data-category=""]').click()
    assert visible(page) == {"h"}
    for target in ("summary", "daily", "categories", "urls", "recipients"):
        assert page.run(f"return document.querySelector('nav a[href=\"#{target}\"]') !== null"
                        f" && document.getElementById('{target}') !== null;")
    page.screenshot("reports-html-report")
    assert page.console_errors() == []


def test_it_is_self_contained(page: Any) -> None:
    assert page.run("return performance.getEntriesByType('resource').length;") == 0
    external = page.run(
        "return Array.from(document.querySelectorAll('[src], [href], [action]'))"
        ".map(e => e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('action'))"
        ".filter(v => !v.startsWith('#') && !v.startsWith('data:'));")
    assert external == []


def test_untrusted_text_is_escaped(browser: Any, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from acumbamail_smtp import Event, EventType, Reply, SendResult

    hostile = "<img src=x onerror=alert(1)>"
    with SQLiteEventStore(tmp_path / "x.sqlite3") as store:
        store.record_sends([SendResult("<m@x>", "sent", accepted=["z@example.org"], category=hostile,
                                       reply=Reply(250, "queued as QX"), sent_at=datetime(2024, 5, 1, tzinfo=UTC))])
        store.store_events([Event(EventType.HARD_BOUNCE, "z@example.org", datetime(2024, 5, 1, 1, tzinfo=UTC),
                                  message_key="QX", raw={"reason": "</script><script>alert(2)</script>"})])
        browser.open_html(render_report(store), tmp_path / "x.html")
    assert browser.run("return document.querySelectorAll('img').length;") == 0
    assert hostile in browser.driver.find_element(By.ID, "categories-table").text
    assert "</script><script>alert(2)</script>" in browser.driver.find_element(By.ID, "recipients-table").text
    assert browser.console_errors() == []
