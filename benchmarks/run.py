"""The benchmark: our transports against the peers, same message, same sink, same run.

Every client runs in its own process pinned to CPU 0 and the sink to CPU 1 (when there are two).
Sink: our lean asyncio sink (``benchmarks/sink.py``) for every client, including Postfix's
``smtp-source``: Postfix's ``smtp-sink`` answers AUTH with 250 instead of 235, so every client that
authenticates fails against it. The sink's CPU load is measured and printed: it stays well under
one core, so it is not the limit. Prints one table (msg/s, client CPU per
message, peak RSS, sink CPU load) and the targets as ratios, and writes benchmarks/results/latest.json.
Not a test: nothing here asserts a time. Bounded: every scenario stops at a count or a deadline.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # run as a script (python benchmarks/run.py) or as a module (python -m benchmarks.run)
    from . import outbox_bench, queued_bench, webhooks_bench
except ImportError:
    import outbox_bench  # type: ignore[no-redef]
    import queued_bench  # type: ignore[no-redef]
    import webhooks_bench  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CLIENT_CPU, SINK_CPU = 0, 1
#: Seconds per scenario 20 ms from the sink: long enough that connecting (four round trips per
#: connection) and the interpreter's start weigh a few percent, as they do in a long-running app.
SLOW_SECONDS = 8.0


def cpus() -> tuple[set[int] | None, set[int] | None]:
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return {available[0]}, {available[1]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as conn:
            conn.recv(100)  # the greeting
            return
        time.sleep(0.05)
    raise RuntimeError(f"sink on port {port} did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sink(kind: str, delay: float = 0.0, *, chunking: bool = False) -> Iterator[tuple[int, int, str]]:
    """Start a sink process pinned to the sink CPU; yields (port, pid, description). ``chunking``
    makes the lean sink offer CHUNKING (BDAT)."""
    port = free_port()
    _, sink_cpus = cpus()
    if kind == "postfix":
        exe = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
        command = [exe, *(["-u", "nobody"] if os.geteuid() == 0 else []), f"127.0.0.1:{port}", "256"]
        description = "Postfix smtp-sink"
    else:
        command = [sys.executable, str(HERE / "sink.py"), str(port), "--delay", str(delay)]
        if chunking:
            command.append("--chunking")
        description = "lean asyncio sink" + (f", {delay * 1000:.0f} ms per reply" if delay else "")
        description += ", CHUNKING" if chunking else ""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, sink_cpus)) if sink_cpus else None,
    )
    try:
        wait_listening(port)
        yield port, proc.pid, description
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_client(scenario: str, port: int, sink_pid: int, count: int, seconds: float) -> dict[str, Any]:
    client_cpus, _ = cpus()
    before = cpu_seconds(sink_pid)
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(HERE / "clients.py"), scenario, str(port), str(count), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
        preexec_fn=(lambda: os.sched_setaffinity(0, client_cpus)) if client_cpus else None,
    )
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    data["sink_load"] = (cpu_seconds(sink_pid) - before) / elapsed
    return data


def run_smtp_source(port: int, sink_pid: int, count: int, sessions: int = 1) -> dict[str, Any]:
    exe = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not os.path.exists(exe):
        return {"error": "not available (install Debian's postfix package)"}
    client_cpus, _ = cpus()
    before = cpu_seconds(sink_pid)
    start = time.perf_counter()
    usage_before = os.times()
    subprocess.run(
        [
            exe,
            "-d",
            "-s",
            str(sessions),
            "-m",
            str(count),
            "-l",
            "900",
            "-f",
            "shop@example.com",
            "-t",
            "customer@example.org",
            f"127.0.0.1:{port}",
        ],
        check=True,
        timeout=120,
        capture_output=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, client_cpus)) if client_cpus else None,
    )
    wall = time.perf_counter() - start
    usage = os.times()
    cpu = (usage.children_user - usage_before.children_user) + (
        usage.children_system - usage_before.children_system
    )
    return {
        "sent": count,
        "wall": wall,
        "cpu": cpu,
        "rss_kb": None,
        "sink_load": (cpu_seconds(sink_pid) - before) / wall,
    }


def row(name: str, data: dict[str, Any]) -> dict[str, Any]:
    if "error" in data:
        return {"scenario": name, "error": data["error"]}
    rate = data["sent"] / data["wall"] if data["wall"] else 0.0
    return {
        "scenario": name,
        "msg_per_s": round(rate, 1),
        "sent": data["sent"],
        "cpu_us_per_msg": round(data["cpu"] / max(data["sent"], 1) * 1e6, 1),
        "peak_rss_mb": round(data["rss_kb"] / 1024, 1) if data.get("rss_kb") else None,
        "sink_load": round(data.get("sink_load", 0.0), 2),
    }


def micro_templates(seconds: float) -> dict[str, Any]:
    """The same Jinja template rendered by us (with CSS inlining) and by fastapi-mail."""
    import tempfile

    template = (
        "<html><head><style>p { color: #333; } .btn { background: #07c; color: #fff; }</style></head>"
        "<body><p>Hello {{ name }},</p>{% for item in items %}<p>{{ item }}</p>{% endfor %}"
        '<p><a class="btn" href="{{ url }}">Track</a></p></body></html>'
    )
    context = {"name": "Ana", "items": [f"Item {i}" for i in range(5)], "url": "https://shop.example.com/t/1"}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "order.html").write_text(template)
        try:
            from acumbamail_smtp.templates.renderer import Renderer

            renderer = Renderer(tmp)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                renderer.render_string("Order", template, None, context)
                n += 1
            out["ours_per_s"] = round(n / (time.perf_counter() - start), 1)
        except Exception as exc:
            out["ours_error"] = f"not available ({type(exc).__name__}: {exc})"
        try:
            import asyncio

            from fastapi_mail import ConnectionConfig, FastMail

            config = ConnectionConfig(
                MAIL_USERNAME="u",
                MAIL_PASSWORD="p",
                MAIL_FROM="shop@example.com",
                MAIL_PORT=25,
                MAIL_SERVER="127.0.0.1",
                MAIL_STARTTLS=False,
                MAIL_SSL_TLS=False,
                TEMPLATE_FOLDER=Path(tmp),
            )
            fm = FastMail(config)

            async def peer() -> int:
                n, start = 0, time.perf_counter()
                while time.perf_counter() - start < seconds:
                    tpl = await fm.get_mail_template(config.template_engine(), "order.html")
                    tpl.render(**context)
                    n += 1
                return n

            t0 = time.perf_counter()
            n = asyncio.run(peer())
            out["fastapi_mail_per_s"] = round(n / (time.perf_counter() - t0), 1)
        except Exception as exc:
            out["fastapi_mail_error"] = f"not available ({type(exc).__name__}: {exc})"
    return out


def ratio(rows: dict[str, dict[str, Any]], ours: str, peer: str) -> float | None:
    a, b = rows.get(ours, {}).get("msg_per_s"), rows.get(peer, {}).get("msg_per_s")
    return round(a / b, 2) if a and b else None


def pipelining(seconds: float) -> str:
    """Only issue #14's scenarios and targets: round trips at 20 ms, CHUNKING, loopback CPU."""
    fast: dict[str, dict[str, Any]] = {}
    with sink("lean") as (port, pid, _):
        fast["smtp-source, 8 sessions"] = row("smtp-source, 8 sessions",
                                              run_smtp_source(port, pid, int(8000 * seconds), sessions=8))
        for label, scenario in (("Mailer", "ours_sync"), ("AsyncMailer(8)", "ours_async_8")):
            fast[label] = row(label, run_client(scenario, port, pid, 50_000, seconds))
    slow: dict[str, dict[str, Any]] = {}
    for chunking in (False, True):
        with sink("lean", 0.02, chunking=chunking) as (port, pid, _):
            for label, scenario in (("Mailer", "ours_sync"), ("AsyncMailer(16)", "ours_async_16")):
                name = f"{label}{', CHUNKING' if chunking else ''}"
                slow[name] = row(name, run_client(scenario, port, pid, 20_000, SLOW_SECONDS))
    lines = ["| scenario | msg/s | client CPU us/msg |", "|---|---:|---:|"]
    for where, rows in (("loopback", fast), ("20 ms", slow)):
        lines += [f"| {where}: {k} | {v.get('msg_per_s', v.get('error'))} | {v.get('cpu_us_per_msg', '')} |"
                  for k, v in rows.items()]
    m, a = slow["Mailer"].get("msg_per_s"), slow["AsyncMailer(16)"].get("msg_per_s")
    c = slow["Mailer, CHUNKING"].get("msg_per_s")
    lines += ["", f"8a Mailer 20 ms / 50 per s: {_share(m, 50.0)} (goal 0.9)",
              f"8b AsyncMailer(16) 20 ms / 800 per s: {_share(a, 800.0)} (goal 0.85)",
              "9 CHUNKING, one connection, messages per round trip: "
              f"{round(c * 0.02, 2) if c else None} (goal 3)",
              f"10a AsyncMailer(8) us/msg: {fast['AsyncMailer(8)'].get('cpu_us_per_msg')} (goal <= 120)",
              f"10b Mailer us/msg: {fast['Mailer'].get('cpu_us_per_msg')} (goal <= 150)",
              "10c AsyncMailer(8) / smtp-source 8: "
              f"{ratio(fast, 'AsyncMailer(8)', 'smtp-source, 8 sessions')} (goal 0.5)"]
    return "\n".join(lines)


def _share(rate: float | None, limit: float) -> float | None:
    """``rate`` as a share of a physical ``limit`` (both msg/s)."""
    return round(rate / limit, 2) if rate else None


def main() -> None:
    parser = argparse.ArgumentParser(description="throughput against the peers on loopback")
    parser.add_argument("--seconds", type=float, default=4.0, help="time bound per scenario")
    parser.add_argument("--quick", action="store_true", help="shorter runs, 10k messages for memory")
    parser.add_argument("--only", choices=["webhooks", "outbox", "queued", "pipelining"],
                        help="run only this part (prints its table)")
    args = parser.parse_args()
    if args.only == "outbox":
        with sink("lean") as (port, _pid, _description):
            outbox_report = {"outbox": outbox_bench.measure(port, args.quick)}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "outbox.json").write_text(json.dumps(outbox_report, indent=2))
        print(json.dumps(outbox_report["outbox"], indent=2))
        return
    if args.only == "pipelining":
        print(pipelining(1.5 if args.quick else args.seconds))
        return
    if args.only == "queued":
        with sink("lean", 0.02) as (port, _pid, _description):
            queued = queued_bench.measure(port)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "queued.json").write_text(json.dumps(queued, indent=2))
        print(json.dumps(queued, indent=2))
        return
    if args.only == "webhooks":
        seconds = 1.5 if args.quick else args.seconds
        report = {"webhooks": webhooks_bench.measure(seconds)}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "webhooks.json").write_text(json.dumps(report, indent=2))
        print(render_webhooks(report["webhooks"]))
        return
    seconds = 1.5 if args.quick else args.seconds
    memory_big = 10_000 if args.quick else 100_000
    kind = "lean"
    rows: dict[str, dict[str, Any]] = {}
    sinks: dict[str, str] = {}

    with sink(kind) as (port, pid, description):
        sinks["fast link"] = description
        rows["smtp-source, one session"] = row(
            "smtp-source, one session", run_smtp_source(port, pid, int(3000 * seconds))
        )
        rows["smtp-source, 8 sessions"] = row(
            "smtp-source, 8 sessions", run_smtp_source(port, pid, int(8000 * seconds), sessions=8)
        )
        for label, scenario, count in [
            ("smtplib, bytes built in advance", "smtplib_prebuilt", 50_000),
            ("Django SMTP backend, reused connection", "django_reused", 50_000),
            ("Flask-Mail mail.connect(), reused", "flask_mail_reused", 50_000),
            ("aiosmtplib, 8 connections", "aiosmtplib_8", 50_000),
            ("fastapi-mail, gather of 8 sends", "fastapi_mail_8", 50_000),
            ("ours: Mailer.send_many, one connection", "ours_sync", 50_000),
            ("ours: AsyncMailer(pool_size=8)", "ours_async_8", 50_000),
        ]:
            print(f"  {label} ...", file=sys.stderr, flush=True)
            rows[label] = row(label, run_client(scenario, port, pid, count, seconds))
        print("  memory: Mailer.iter_send ...", file=sys.stderr, flush=True)
        small = run_client("ours_iter", port, pid, 1000, 120)
        big = run_client("ours_iter", port, pid, memory_big, 240)

    slow: dict[str, dict[str, Any]] = {}
    with sink("lean", 0.02) as (port, pid, description):
        sinks["20 ms per reply"] = description
        for label, scenario in [
            ("Django SMTP backend, reused connection", "django_reused"),
            ("fastapi-mail, gather of 8 sends", "fastapi_mail_8"),
            ("ours: AsyncMailer(pool_size=16)", "ours_async_16"),
            ("ours: Mailer.send_many, one connection", "ours_sync"),
        ]:
            print(f"  20 ms: {label} ...", file=sys.stderr, flush=True)
            slow[label] = row(label, run_client(scenario, port, pid, 20_000, SLOW_SECONDS))
        print("  20 ms: send_mail() in a Django request, queued vs SMTP ...", file=sys.stderr, flush=True)
        queued = queued_bench.measure(port)
    chunked: dict[str, dict[str, Any]] = {}
    with sink("lean", 0.02, chunking=True) as (port, pid, description):
        sinks["20 ms per reply, CHUNKING"] = description
        label = "ours: Mailer.send_many, one connection"
        print(f"  20 ms, CHUNKING: {label} ...", file=sys.stderr, flush=True)
        chunked[label] = row(label, run_client("ours_sync", port, pid, 20_000, SLOW_SECONDS))

    print("  webhooks, templates ...", file=sys.stderr, flush=True)
    webhooks = webhooks_bench.measure(seconds)
    templates = micro_templates(seconds)

    mem_ratio = round(big["rss_kb"] / small["rss_kb"], 3) if "rss_kb" in big and "rss_kb" in small else None
    o_sync, o_async = "ours: Mailer.send_many, one connection", "ours: AsyncMailer(pool_size=8)"
    dj, fm = "Django SMTP backend, reused connection", "fastapi-mail, gather of 8 sends"
    t_ours, t_peer = templates.get("ours_per_s"), templates.get("fastapi_mail_per_s")
    slow_sync, slow_async = slow.get(o_sync, {}), slow.get("ours: AsyncMailer(pool_size=16)", {})
    chunked_rate = chunked.get(o_sync, {}).get("msg_per_s")
    targets = [
        ("1a Mailer.send_many vs Django reused", ratio(rows, o_sync, dj), 2.5),
        (
            "1b Mailer.send_many vs smtplib prebuilt bytes",
            ratio(rows, o_sync, "smtplib, bytes built in advance"),
            0.8,
        ),
        ("2a AsyncMailer(8) vs fastapi-mail 8 concurrent", ratio(rows, o_async, fm), 3.0),
        (
            "2b AsyncMailer(8) vs aiosmtplib 8 connections",
            ratio(rows, o_async, "aiosmtplib, 8 connections"),
            2.0,
        ),
        (
            "3a 20 ms: AsyncMailer(16) vs Django reused",
            ratio(slow, "ours: AsyncMailer(pool_size=16)", dj),
            10.0,
        ),
        (
            "3b 20 ms: AsyncMailer(16) vs fastapi-mail 8",
            ratio(slow, "ours: AsyncMailer(pool_size=16)", fm),
            5.0,
        ),
        (f"4 peak RSS iter_send {memory_big:,} / 1,000 (at most)", mem_ratio, 1.1),
        ("7 20 ms: send_mail p99, Django SMTP backend / QueuedEmailBackend",
         queued.get("django_smtp_over_queued_p99"), 50.0),
        *((f"5 webhooks, events/s: {r['scenario']}", r.get("events_per_s"), r["goal"]) for r in webhooks),
        ("8a 20 ms, PIPELINING: Mailer one connection / one round trip per message (50/s)",
         _share(slow_sync.get("msg_per_s"), 50.0), 0.9),
        ("8b 20 ms, PIPELINING: AsyncMailer(16) / 16 connections' limit (800/s)",
         _share(slow_async.get("msg_per_s"), 800.0), 0.85),
        ("9 20 ms, CHUNKING: Mailer one connection, messages per round trip",
         round(chunked_rate * 0.02, 2) if chunked_rate else None, 3.0),
        ("10a loopback: AsyncMailer(8) client CPU us/msg (at most)",
         rows.get(o_async, {}).get("cpu_us_per_msg"), 120.0),
        ("10b loopback: Mailer client CPU us/msg (at most)",
         rows.get(o_sync, {}).get("cpu_us_per_msg"), 150.0),
        ("10c loopback: AsyncMailer(8) vs smtp-source 8 sessions",
         ratio(rows, o_async, "smtp-source, 8 sessions"), 0.5),
        (
            "6 template render+inline vs fastapi-mail render",
            round(t_ours / t_peer, 2) if t_ours and t_peer else None,
            5.0,
        ),
    ]
    report = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "pinned": cpus()[0] is not None,
        },
        "sinks": sinks,
        "fast_link": list(rows.values()),
        "latency_20ms": list(slow.values()),
        "latency_20ms_chunking": list(chunked.values()),
        "memory": {"small": row("ours_iter", small), "big": row("ours_iter", big)},
        "webhooks": webhooks,
        "templates": templates,
        "queued_send_mail": queued,
        "targets": [
            {
                "target": name,
                "value": value,
                "goal": goal,
                "met": None if value is None else (value <= goal if "(at most)" in name else value >= goal),
            }
            for name, value, goal in targets
        ],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    print(render(report))


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Sinks: {', '.join(f'{k}: {v}' for k, v in report['sinks'].items())}; client and sink pinned "
        f"to separate CPUs: {report['machine']['pinned']}",
        "",
    ]
    header = "| scenario | msg/s | client CPU us/msg | peak RSS MB | sink load |"
    for title, rows in (
        ("Fast link (loopback)", report["fast_link"]),
        ("20 ms added to every reply", report["latency_20ms"]),
        ("20 ms added to every reply, the sink offers CHUNKING", report.get("latency_20ms_chunking", [])),
    ):
        lines += [f"**{title}**", "", header, "|---|---:|---:|---:|---:|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['scenario']} | {r['error']} | | | |")
            else:
                lines.append(
                    f"| {r['label'] if 'label' in r else r['scenario']} | {r['msg_per_s']:,.0f} | "
                    f"{r['cpu_us_per_msg']:,.0f} | {r['peak_rss_mb'] or '-'} | {r['sink_load']:.2f} |"
                )
        lines.append("")
    lines += ["| target | value | goal | met |", "|---|---:|---:|---|"]
    for t in report["targets"]:
        met = "not measured" if t["met"] is None else ("yes" if t["met"] else "NO")
        lines.append(
            f"| {t['target']} | {t['value'] if t['value'] is not None else 'n/a'} | {t['goal']} | {met} |"
        )
    lines += ["", render_webhooks(report["webhooks"])]
    for key in ("ours_error", "fastapi_mail_error"):
        if key in report["templates"]:
            lines.append(f"Templates: {report['templates'][key]}")
    return "\n".join(lines)


def render_webhooks(rows: list[dict[str, Any]]) -> str:
    """Target 5's table: events/s and server CPU per event of the core and each endpoint."""
    lines = ["**Webhook ingestion, batches of 100 events (target 5)**", "",
             "| path | events/s | CPU us/event | goal | met |", "|---|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['scenario']} | {r['error']} | | {r['goal']:,} | not measured |")
        else:
            met = "yes" if r["events_per_s"] >= r["goal"] else "NO"
            lines.append(f"| {r['scenario']} | {r['events_per_s']:,.0f} | {r['cpu_us_per_event']:,.0f} |"
                         f" {r['goal']:,} | {met} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
