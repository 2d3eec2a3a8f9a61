"""Benchmark: one Amber tariff from the real full-day capture (532 intervals, both channels).

    .venv/bin/python -m bench.bench_tariff [--repeats N]

Cases (each timed N times after a warm-up; median and p90 in ms):

* ``build``: ``build_amber_rates`` on intervals parsed once (what a sync worker does after its
  fetch) — the case with the <= 1 ms target.
* ``build_cold_localtime``: the same with the local-day cache cleared before every run.
* ``parse_and_build``: JSON-decoded dicts -> ``parse_amber_intervals`` -> ``build_amber_rates``.
* ``parse_build_render``: the above plus ``render_half_hour_tariff`` (tariff_content_v2).

Results go to ``bench/results/tariff.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tariffs.engine.amber import build_amber_rates, parse_amber_intervals
from tariffs.engine.freshness import Built
from tariffs.engine.localtime import half_hour_starts_epoch_s
from tariffs.engine.tesla_format import render_half_hour_tariff

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/amber/prices_2025-06-28_resolution5.json"
RESULTS = ROOT / "bench/results/tariff.json"
ZONE = ZoneInfo("Australia/Sydney")
NOW = datetime(2025, 6, 28, 16, 25, tzinfo=ZONE)
TARGET_MEDIAN_MS = 1.0


def _time(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    for _ in range(min(200, repeats)):
        fn()
    samples_ns = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        samples_ns.append(time.perf_counter_ns() - start)
    samples_ms = sorted(ns / 1e6 for ns in samples_ns)
    return {
        "median_ms": round(statistics.median(samples_ms), 4),
        "p90_ms": round(samples_ms[int(0.9 * (len(samples_ms) - 1))], 4),
        "min_ms": round(samples_ms[0], 4),
        "repeats": repeats,
    }


def run(repeats: int) -> dict[str, Any]:
    payload = json.loads(FIXTURE.read_text())
    intervals = parse_amber_intervals(payload)
    result = build_amber_rates(intervals, zone=ZONE, now=NOW)
    if not isinstance(result, Built):
        raise SystemExit(f"the fixture did not build: {result}")

    def build() -> object:
        return build_amber_rates(intervals, zone=ZONE, now=NOW)

    def build_cold() -> object:
        half_hour_starts_epoch_s.cache_clear()
        return build_amber_rates(intervals, zone=ZONE, now=NOW)

    def parse_and_build() -> object:
        return build_amber_rates(parse_amber_intervals(payload), zone=ZONE, now=NOW)

    cases: dict[str, dict[str, float]] = {
        "build": _time(build, repeats),
        "build_cold_localtime": _time(build_cold, repeats),
        "parse_and_build": _time(parse_and_build, repeats),
    }

    def parse_build_render() -> object:
        built = build_amber_rates(parse_amber_intervals(payload), zone=ZONE, now=NOW)
        assert isinstance(built, Built)
        return render_half_hour_tariff(built.rates, plan_name="bench", utility="bench")

    cases["parse_build_render"] = _time(parse_build_render, repeats)

    return {
        "benchmark": "amber tariff from the full fixture day",
        "fixture": str(FIXTURE.relative_to(ROOT)),
        "intervals": len(payload),
        "zone": ZONE.key,
        "now": NOW.isoformat(),
        "target_median_ms": TARGET_MEDIAN_MS,
        "target_met": cases["build"]["median_ms"] <= TARGET_MEDIAN_MS,
        "cases": cases,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "measured_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = run(args.repeats)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name, stats in results["cases"].items():
        print(f"{name:<22} median {stats['median_ms']:.3f} ms  p90 {stats['p90_ms']:.3f} ms")
    print(f"target median <= {TARGET_MEDIAN_MS} ms for 'build': {results['target_met']}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
