"""Connection setup (connect, banner, EHLO, [STARTTLS, EHLO], TLS, AUTH, QUIT) with and without
TLS session resumption, for both mailers' connections and both security modes.

Four ways per row: ``resumed`` (one context per mailer, the session of the last connection
offered: what the mailers do now), ``full`` (the same context, its session forgotten before each
connection: a full handshake), and a context built per connection as each open did before this
change: ``new ctx, ca_file`` (``config.create_ssl_context()``, loading the one CA file) and ``new
ctx, system`` (the system CA store too, as a configuration without ``ca_file`` loads it). The fake
relay runs in its own process: the client's CPU and the relay's are shown apart.
``python benchmarks/tls_bench.py [--count N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from acumbamail_smtp import RelayConfig  # noqa: E402
from acumbamail_smtp.smtp.aio import AsyncSMTPConnection  # noqa: E402
from acumbamail_smtp.smtp.sync import SMTPConnection  # noqa: E402
from acumbamail_smtp.smtp.tls import ResumingContext  # noqa: E402

from benchmarks.run import cpu_seconds, cpus  # noqa: E402

RELAY = """
import json, sys
from acumbamail_smtp.testserver import FakeRelay
with FakeRelay(http=False) as relay:
    print(json.dumps({"port": relay.port, "tls_port": relay.tls_port, "ca_file": relay.ca_file,
                      "username": relay.username, "password": relay.password}), flush=True)
    sys.stdin.read()
"""

WAYS = ("resumed", "full", "new ctx, ca_file", "new ctx, system")


def start_relay() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The fake relay in a child process (pinned to the second CPU when there is one)."""
    _, relay_cpus = cpus()
    proc = subprocess.Popen([sys.executable, "-c", RELAY], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=HERE.parent,
                            preexec_fn=(lambda: os.sched_setaffinity(0, relay_cpus)) if relay_cpus else None)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def configs(info: dict[str, Any]) -> dict[str, RelayConfig]:
    common = {"host": "127.0.0.1", "username": info["username"], "password": info["password"],
              "ca_file": info["ca_file"], "timeout": 10.0}
    return {"starttls": RelayConfig(port=info["port"], security="starttls", **common),
            "tls": RelayConfig(port=info["tls_port"], security="tls", **common)}


def context_for(config: RelayConfig, way: str, kept: ResumingContext) -> ResumingContext:
    """The context the next connection uses: the kept one (its session dropped for ``full``), or
    for ``new context`` one built as before: the system CA store plus the fake relay's CA."""
    if way == "new ctx, ca_file":
        return ResumingContext.of(config)
    if way == "new ctx, system":
        inner = ssl.create_default_context()
        inner.load_verify_locations(cafile=config.ca_file)
        return ResumingContext(inner)
    if way == "full":
        kept.forget()
    return kept


def sync_setup(config: RelayConfig, way: str, count: int) -> list[bool | None]:
    kept = ResumingContext.of(config)
    resumed = []
    for _ in range(count):
        conn = SMTPConnection(config, tls=context_for(config, way, kept))
        conn.open()
        resumed.append(conn.tls_resumed)
        conn.close()
    return resumed


def async_setup(config: RelayConfig, way: str, count: int) -> list[bool | None]:
    async def run() -> list[bool | None]:
        kept = ResumingContext.of(config)
        resumed = []
        for _ in range(count):
            conn = AsyncSMTPConnection(config, tls=context_for(config, way, kept))
            await conn.open()
            resumed.append(conn.tls_resumed)
            await conn.close()
        return resumed

    return asyncio.run(run())


CLIENTS: dict[str, Callable[[RelayConfig, str, int], list[bool | None]]] = {
    "Mailer": sync_setup, "AsyncMailer": async_setup,
}


def measure(count: int, rounds: int) -> list[dict[str, Any]]:
    """Per connection setup: best-of-``rounds`` wall and client CPU milliseconds for each way."""
    client_cpus, _ = cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    proc, info = start_relay()
    rows = []
    try:
        for mode, config in configs(info).items():
            for client, setup in CLIENTS.items():
                setup(config, "resumed", 5)  # warm-up: imports, the relay's first connections
                row: dict[str, Any] = {"mode": mode, "client": client}
                for _ in range(rounds):
                    for way in WAYS:  # interleaved: the machine is shared
                        start, cpu = time.perf_counter(), time.process_time()
                        relay_cpu = cpu_seconds(proc.pid)
                        resumed = setup(config, way, count)
                        wall_ms = (time.perf_counter() - start) / count * 1e3
                        cpu_ms = (time.process_time() - cpu) / count * 1e3
                        relay_ms = (cpu_seconds(proc.pid) - relay_cpu) / count * 1e3
                        expected = [False] + [True] * (count - 1) if way == "resumed" else [False] * count
                        if resumed != expected:
                            raise RuntimeError(f"{mode} {client} {way}: resumed {resumed}")
                        best = row.get(way, {"wall_ms": float("inf"), "cpu_ms": float("inf"),
                                             "relay_cpu_ms": float("inf")})
                        row[way] = {"wall_ms": min(wall_ms, best["wall_ms"]),
                                    "cpu_ms": min(cpu_ms, best["cpu_ms"]),
                                    "relay_cpu_ms": min(relay_ms, best["relay_cpu_ms"])}
                rows.append(row)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="connections per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = measure(args.count, args.rounds)
    print("connection setup, per connection; ratios are to 'resumed' (>1: that way costs more)")
    print(f"{'mode':<9} {'client':<12} {'way':<16} {'wall ms':>8} {'x':>6} {'client CPU ms':>14} {'x':>6}"
          f" {'relay CPU ms':>13} {'x':>6}")
    for row in rows:
        base = row["resumed"]
        for way in WAYS:
            data = row[way]
            for key in ("wall_ms", "cpu_ms", "relay_cpu_ms"):
                data[key.replace("_ms", "_ratio")] = data[key] / base[key] if base[key] else 0.0
            print(f"{row['mode']:<9} {row['client']:<12} {way:<16} {data['wall_ms']:>8.2f}"
                  f" {data['wall_ratio']:>5.2f}x {data['cpu_ms']:>14.2f} {data['cpu_ratio']:>5.2f}x"
                  f" {data['relay_cpu_ms']:>13.2f} {data['relay_cpu_ratio']:>5.2f}x")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "tls.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
