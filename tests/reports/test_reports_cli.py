"""``acumbamail-smtp report`` over the scripted store."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from acumbamail_smtp import Reply, SendResult, SQLiteEventStore
from acumbamail_smtp.cli.main import main
from acumbamail_smtp.cli.reports import format_table

from tests.reports.conftest import BY_STATUS, EXPECTED, addr


def lines_after(text: str, title: str) -> list[str]:
    block = text.split(f"\n{title}\n", 1)[1]
    return block.split("\n\n", 1)[0].splitlines()


def test_tables_in_the_terminal(scenario_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--store", str(scenario_path), "--status", "hard_bounce"]) == 0
    out = capsys.readouterr().out
    summary = {line.split("  ")[0]: line.split() for line in lines_after(out, "Summary")[2:]}
    assert summary["sent"][-1] == str(EXPECTED[None]["sent"])
    assert summary["delivered"][1:] == ["7", "77.8%"]
    assert summary["opened (unique)"][2:] == ["4", "57.1%"]
    assert summary["unopened"][1:] == ["3", "42.9%"]
    assert summary["hard bounces"][2:] == ["1", "11.1%"]
    categories = lines_after(out, "By category")
    assert categories[0].split() == ["category", "sent", "delivered", "opened", "open%", "clicked", "click%",
                                     "hard", "soft", "complaints"]
    order = next(line for line in categories if line.startswith("ORDER"))
    assert order.split() == ["ORDER", "4", "2", "1", "50.0%", "1", "50.0%", "1", "1", "1"]
    widths = {len(line) for line in categories[2:]}
    assert len(widths) == 1  # aligned: every row as wide as the numbers' right edge
    links = lines_after(out, "Top links")
    assert links[2].split() == ["https://shop.example.com/welcome?utm=mail", "3", "2"]
    recipients = lines_after(out, "Recipients: hard_bounce")
    assert len(recipients) == 3 and recipients[2].startswith(addr("f"))


def test_csv_html_and_summary_exports(scenario_path: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out_csv, out_html, out_sum = tmp_path / "r.csv", tmp_path / "r.html", tmp_path / "s.csv"
    assert main(["report", "--store", str(scenario_path), "--status", "not_opened", "--csv", str(out_csv),
                 "--html", str(out_html), "--summary-csv", str(out_sum), "--category", "ORDER"]) == 0
    err = capsys.readouterr().err
    assert f"wrote 1 recipient row(s) to {out_csv}" in err and "\r" not in err  # small: no bar
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert [r["recipient"] for r in rows] == [addr("e")]
    assert "<svg" in out_html.read_text(encoding="utf-8")
    totals = next(csv.DictReader(out_sum.open(encoding="utf-8")))
    assert int(totals["sent"]) == EXPECTED["ORDER"]["sent"]


def test_csv_to_stdout_keeps_the_tables_off_it(scenario_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--store", str(scenario_path), "--status", "opened", "--csv", "-"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(captured.out.splitlines()))
    assert {r["recipient"] for r in rows} == {addr(n) for n in BY_STATUS["opened"]}
    assert "Summary" in captured.err


def test_a_large_export_shows_a_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    with SQLiteEventStore(tmp_path / "big.sqlite3") as store:
        store.record_sends([SendResult(f"<m{n}@example.com>", "sent", accepted=[f"u{n}@example.org"],
                                       reply=Reply(250, f"ok queued as Q{n}"),
                                       sent_at=start + timedelta(seconds=n)) for n in range(6000)])
    out = tmp_path / "all.csv"
    assert main(["report", "--store", str(tmp_path / "big.sqlite3"), "--csv", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\r[") >= 10 and "100% 6000/6000\n" in err
    assert sum(1 for _ in out.open(encoding="utf-8")) == 6001
    assert main(["report", "--store", str(tmp_path / "big.sqlite3"), "--csv", str(out), "--no-progress"]) == 0
    assert "\r" not in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--store", "missing.sqlite3"], "no event store at 'missing.sqlite3'"),
    (["--since", "soon"], "since: 'soon' is not a date"),
    (["--since", "2024-06-01", "--until", "2024-05-01"], "until: must be after since"),
    (["--store", "x.sqlite3", "--db-url", "sqlite://"], "give either --store or --db-url"),
])
def test_bad_arguments_are_reported(scenario_path: Path, args: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    if "--store" not in args:
        args = [*args, "--store", str(scenario_path)]
    assert main(["report", *args]) == 1
    assert message in capsys.readouterr().err


def test_format_table_aligns_numbers_right() -> None:
    assert format_table(("name", "n"), [("a", 5), ("bbb", 120)]).splitlines() == [
        "name    n", "----  ---", "a       5", "bbb   120"]
