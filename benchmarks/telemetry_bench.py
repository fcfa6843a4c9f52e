"""Send throughput with OpenTelemetry absent, with the API only (no SDK: no-op spans), and with
the SDK recording every span and metric into a no-op exporter; the ratio to "absent" is printed.

Each mode runs the existing ``ours_sync`` scenario (``Mailer.send_many``, one connection) in its
own interpreter against the lean sink. ``python benchmarks/telemetry_bench.py [--seconds N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import sink  # noqa: E402

SETUP = {
    "absent": """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name, name=name)
sys.meta_path.insert(0, Hide())
""",
    "api only": "",
    "SDK, no-op exporter": """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

class Nothing(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS

class NoMetrics(MetricExporter):
    def __init__(self):
        super().__init__()
    def export(self, data, timeout_millis=10_000, **kwargs):
        from opentelemetry.sdk.metrics.export import MetricExportResult
        return MetricExportResult.SUCCESS
    def force_flush(self, timeout_millis=10_000):
        return True
    def shutdown(self, timeout_millis=30_000, **kwargs):
        pass

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(Nothing()))
trace.set_tracer_provider(provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[PeriodicExportingMetricReader(NoMetrics())]))
""",
}

RUN = """
import json, time
from benchmarks.clients import ours_sync
from acumbamail_smtp import telemetry
ours_sync(PORT, 200, SECONDS)  # warm-up: the first send imports opentelemetry, once per process
start, cpu = time.perf_counter(), time.process_time()
sent = ours_sync(PORT, COUNT, SECONDS)
print(json.dumps({"sent": sent, "wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "on": telemetry.enabled()}))
"""


def measure(seconds: float, count: int = 50_000, rounds: int = 3) -> dict[str, dict[str, float]]:
    """Messages per second and the client's CPU microseconds per message (its threads included:
    the SDK's export thread counts) in each mode; one sink, the modes interleaved, the best of
    ``rounds`` of each (the machine is shared: CPU per message is the steadier of the two)."""
    rows: dict[str, dict[str, float]] = {}
    with sink("lean") as (port, _pid, _description):
        for _ in range(rounds):
            for mode, setup in SETUP.items():
                code = setup + RUN.replace("PORT", str(port)).replace("COUNT", str(count)).replace(
                    "SECONDS", str(seconds))
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     timeout=seconds + 120, check=True, cwd=HERE.parent)
                data = json.loads(out.stdout.strip().splitlines()[-1])
                rate = data["sent"] / data["wall"]
                cpu_us = data["cpu"] / data["sent"] * 1e6 if data["sent"] else float("inf")
                best = rows.get(mode, {"per_second": 0.0, "cpu_us": float("inf")})
                rows[mode] = {"per_second": max(rate, best["per_second"]),
                              "cpu_us": min(cpu_us, best["cpu_us"]), "instrumented": data["on"]}
                time.sleep(0.2)
    base, base_cpu = rows["absent"]["per_second"], rows["absent"]["cpu_us"]
    for data in rows.values():
        data["ratio"] = data["per_second"] / base if base else 0.0
        data["cpu_ratio"] = base_cpu / data["cpu_us"] if data["cpu_us"] else 0.0
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    rows = measure(args.seconds)
    print(f"{'mode':<24} {'msg/s':>10} {'vs absent':>10} {'CPU us/msg':>11} {'vs absent':>10}")
    for mode, data in rows.items():
        print(f"{mode:<24} {data['per_second']:>10.0f} {data['ratio']:>9.2f}x {data['cpu_us']:>11.1f}"
              f" {data['cpu_ratio']:>9.2f}x")
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "telemetry.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
