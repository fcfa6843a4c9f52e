"""Where the client's CPU goes per message: ``prepare()`` alone, then ``Mailer.send_many`` and
``AsyncMailer(8).send_many`` over loopback against the benchmark sink (``sink.py``, in its own process).

Each scenario is run twice: plain, to measure CPU microseconds per message (``time.process_time``,
the same typical message as ``clients.py``: one recipient, text+HTML, a category), then under
pyinstrument sampling this thread's CPU time, to list the functions by own time and the CPU by the
library module nearest the leaf (``acumbamail_smtp.smtp.*`` is the SMTP layer, ``.message.*`` the
message layer). ``--py-spy`` also samples each scenario with py-spy in a child process (needs ptrace).
Not a test and not part of the table: ``python benchmarks/profile_send.py [--count N] [--py-spy]``,
or ``nox -s bench -- --profile``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.clients import ours_config, ours_message  # noqa: E402
from benchmarks.run import cpus, sink  # noqa: E402

SCENARIOS = ("prepare", "sync", "async")
SYNC_BATCH, ASYNC_BATCH = 200, 400  # as clients.py sends them
#: Profiler samples: the stack as (function, file) pairs, leaf last, and the seconds it stood for.
Samples = list[tuple[list[tuple[str, str]], float]]


def run_scenario(name: str, port: int, count: int) -> int:
    """Run one scenario for about ``count`` messages; returns how many were handled."""
    from acumbamail_smtp import AsyncMailer, Mailer
    from acumbamail_smtp.message import prepare

    config = ours_config(port)
    if name == "prepare":
        messages = [ours_message() for _ in range(count)]
        for message in messages:
            prepare(message, config)
        return count
    if name == "sync":
        sent = 0
        with Mailer(config) as mailer:
            while sent < count:
                sent += sum(r.ok for r in mailer.send_many(ours_message() for _ in range(SYNC_BATCH)))
        return sent

    async def many() -> int:
        sent = 0
        async with AsyncMailer(config, pool_size=8) as mailer:
            while sent < count:
                batch = [ours_message() for _ in range(ASYNC_BATCH)]
                sent += sum(r.ok for r in await mailer.send_many(batch))
        return sent

    return asyncio.run(many())


def cpu_per_message(name: str, port: int, count: int) -> float:
    """CPU microseconds per message of one scenario, best of three runs after a warm-up."""
    run_scenario(name, port, min(count, 400))
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        handled = run_scenario(name, port, count)
        best = min(best, (time.process_time() - start) / handled * 1e6)
    return best


# -- reading the samples ---------------------------------------------------------------------

def _library_root() -> str:
    import acumbamail_smtp

    return str(Path(acumbamail_smtp.__file__).resolve().parent) + os.sep


def short(path: str) -> str:
    """A readable name for a source file: the module path inside the library, else the file's tail."""
    root = _library_root()
    if path.startswith(root):
        return "acumbamail_smtp/" + path[len(root):]
    for marker in ("site-packages" + os.sep, "python3." + str(sys.version_info.minor) + os.sep):
        if marker in path:
            return path.split(marker, 1)[1]
    return Path(path).name


def layer(stack: Iterable[tuple[str, str]]) -> str:
    """The library module nearest the leaf of ``stack`` (leaf last): who the CPU was spent for."""
    for _, path in reversed(list(stack)):
        if path.startswith("acumbamail_smtp/"):
            module = path.removeprefix("acumbamail_smtp/").removesuffix(".py").replace("/", ".")
            return "acumbamail_smtp." + module.removesuffix(".__init__")
    return "(outside the library: event loop, benchmark)"


def report(title: str, samples: Samples, measured: float, top: int) -> None:
    """Print the top functions by own time and the CPU by library module. A profiler slows what it
    watches, so each share is scaled to ``measured``, the CPU us/msg of the run without one."""
    own: Counter[tuple[str, str]] = Counter()
    by_layer: Counter[str] = Counter()
    total = 0.0
    for stack, seconds in samples:
        if not stack or any(path.startswith("<frozen importlib") for _, path in stack):
            continue  # imports done on first use are start-up, not per-message work
        own[stack[-1]] += seconds
        by_layer[layer(stack)] += seconds
        total += seconds
    if not total:
        print(f"\n== {title}: no samples")
        return
    print(f"\n== {title}: shares of {measured:.1f} us/msg")
    print(f"{'us/msg':>8}  {'share':>6}  function (own time)")
    for (function, path), seconds in own.most_common(top):
        print(f"{seconds / total * measured:8.2f}  {seconds / total:6.1%}  {function} ({path})")
    print(f"\n{'us/msg':>8}  {'share':>6}  nearest library module on the stack")
    for name, seconds in by_layer.most_common():
        print(f"{seconds / total * measured:8.2f}  {seconds / total:6.1%}  {name}")


def pyinstrument_samples(name: str, port: int, count: int) -> Samples:
    """Run a scenario under pyinstrument, timing this thread's CPU rather than the wall clock."""
    from pyinstrument import Profiler
    from pyinstrument.stack_sampler import get_stack_sampler

    get_stack_sampler().timer_func = time.thread_time
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    profiler.start()
    try:
        run_scenario(name, port, count)
    finally:
        session = profiler.stop()
        get_stack_sampler().timer_func = None
    samples = []
    for frames, seconds in session.frame_records:
        stack = []
        for frame in frames:
            function, path, *_ = frame.split("\x01", 1)[0].split("\x00")
            stack.append((function, short(path)))
        samples.append((stack, seconds))
    return samples


def py_spy_samples(name: str, port: int, count: int) -> Samples:
    """Run a scenario in a child under ``py-spy record --format raw`` (samples of on-CPU stacks)."""
    rate = 1000
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [exe, "record", "--rate", str(rate), "--format", "raw", "--output", str(out), "--",
                   sys.executable, __file__, "--child", name, "--port", str(port), "--count", str(count)]
        subprocess.run(command, check=True, capture_output=True)
        lines = out.read_text().splitlines()
    samples = []
    for line in lines:
        frames, _, hits = line.rpartition(" ")
        stack = []
        for frame in frames.split(";"):
            function, _, where = frame.partition(" (")
            path = where.rsplit(":", 1)[0]
            stack.append((function, short(str(Path(path).resolve())) if os.sep in path else path))
        if any(f == "run_scenario" for f, _ in stack):  # leave out the interpreter's start-up
            samples.append((stack, int(hits) / rate))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4000, help="messages per scenario")
    parser.add_argument("--top", type=int, default=25, help="functions listed per scenario")
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="run just these scenarios")
    parser.add_argument("--py-spy", action="store_true", help="also sample with py-spy (needs ptrace)")
    parser.add_argument("--measure-only", action="store_true", help="print the CPU us/msg, profile nothing")
    parser.add_argument("--child", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_scenario(args.child, args.port, args.count)
        return
    client_cpus, _ = cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    scenarios = args.only or list(SCENARIOS)
    labels = {"prepare": "prepare() alone", "sync": "Mailer.send_many, one connection",
              "async": "AsyncMailer(pool_size=8).send_many"}
    with sink("lean") as (port, _, description):
        print(f"Sink: {description}; client pinned: {client_cpus is not None}; {args.count:,} messages each")
        measured = {name: cpu_per_message(name, port, args.count) for name in scenarios}
        print("\nCPU per message, no profiler (best of 3):")
        for name in scenarios:
            print(f"  {labels[name]:<40} {measured[name]:7.1f} us/msg")
        profilers: list[tuple[str, Callable[[str, int, int], Samples]]] = [] if args.measure_only else [
            ("pyinstrument", pyinstrument_samples)]
        if args.py_spy and not args.measure_only:
            profilers.append(("py-spy", py_spy_samples))
        for tool, profile in profilers:
            for name in scenarios:
                try:
                    samples = profile(name, port, args.count)
                except (subprocess.CalledProcessError, FileNotFoundError):
                    print(f"\n== {tool}: {labels[name]}: could not run (py-spy missing or no ptrace?)")
                    continue
                report(f"{tool}: {labels[name]}", samples, measured[name], args.top)


if __name__ == "__main__":
    main()
