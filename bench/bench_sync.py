"""Benchmark: the automations at scale, against the simulator (Amber 150 ms, Tesla 400 ms latency).

    .venv/bin/python -m bench.bench_sync [--households 1000 5000 10000] [--spike-sites 1000]
                                         [--workers 2] [--concurrency 40] [--skip-replay]

Everything runs on this machine: the simulator in its own process, PostgreSQL (database
``powersync_bench``, recreated), Redis db 14, and real Celery worker processes (threads pool).

* ``sync_cycle`` per N: one full 5-minute cycle for N households, each with its own Amber site and
  Teslemetry key: the forecast sync at t0 (every site pushes: nothing was pushed before) and the
  settled syncs at t0+35 s and t0+60 s. Reports the time until every push is confirmed by
  read-back, p50/p99 per household, worker CPU ms per household sync, peak worker RSS, and
  Amber/Tesla calls per household in the cycle.
* ``spike_fanout``: S sites in one region holding a tariff; the AEMO spike scenario starts; one
  regional check fans out; time from the spike price being visible to every spike tariff
  confirmed (p50/p99/max), run ``--spike-runs`` times (p99 of each run and their median).
* ``write_budget``: the real Amber day (the fixture, replayed by the simulator's clock) through the
  sync decision at every interval start and twice after (settled): Tesla writes per household
  per day, and the largest gap (c/kWh) between what Tesla held and the fresh tariff over the
  current and next half-hours.

Results go to ``bench/results/sync.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sync.json"
BENCH_DB = "powersync_bench"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/14"
LATENCY = {"amber_ms": 150, "tesla_ms": 400, "aemo_ms": 0}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pool_size(threads: int) -> int:
    """PostgreSQL connections pooled per worker: one per thread up to 45, so two workers stay
    under PostgreSQL's default max_connections of 100 (threads past that share, see ops.http)."""
    return min(threads, 45)


def bench_env(sim_base: str, *, threads: int = 0) -> dict[str, str]:
    """Environment for worker processes with ``threads`` threads each; 0 (this process) = no
    pool: the benchmark drops and recreates its database, which a pooled connection would not
    survive."""
    from ops.devrun import simulator_environment

    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DATA_DIR"}
    }
    env.update(simulator_environment(sim_base))
    env.update(
        DATABASE_URL=f"{PG}/{BENCH_DB}",
        REDIS_URL=REDIS_URL,
        DJANGO_SETTINGS_MODULE="powersync_site.settings",
        DATA_DIR=str(ROOT / "data-bench"),
        # A fixed key so worker processes and this process decrypt the same credentials.
        CREDENTIALS_ENCRYPTION_KEYS="YmVuY2gtb25seS1rZXktbm90LWEtc2VjcmV0LTAxMjM=",
        LOG_LEVEL="WARNING",
        # As in production: with DEBUG on, Django keeps the last 9,000 queries of every
        # connection (one per worker thread), which is most of a worker's memory at 10,000 sites.
        DEBUG="false",
        TESLA_WRITES_PER_HOUR="1000",
        TESLA_WRITES_PER_DAY="10000",
        DATABASE_POOL_MAX_SIZE=str(pool_size(threads)),
    )
    return env


SIMULATOR_PIDS: list[int] = []


@contextmanager
def simulator(households: int) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", str(port), "--households", str(households)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    SIMULATOR_PIDS[:] = [proc.pid]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/control/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        control(base, "/latency", LATENCY)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def control(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{base}/control{path}"
    reply = (
        requests.post(url, json=body, timeout=30)
        if body is not None
        else requests.get(url, timeout=30)
    )
    reply.raise_for_status()
    return reply.json()


def recreate_database(env: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )


def seed_sites(base: str, households: int, *, region: str | None = None) -> list[int]:
    """One site per simulated household (optionally only those of ``region``)."""
    from automations.intents import ROUTINE_WHY
    from automations.models import AutomationState, IntentKind, SiteIntent
    from credentials.models import SiteCredentials
    from devices.models import Site
    from households.models import Household

    rows: list[dict[str, Any]] = []
    offset = 0
    while offset < households:
        page = control(base, f"/households?offset={offset}&limit=1000")
        rows += page["households"]
        offset += 1000
    if region:
        rows = [row for row in rows if row["region"] == region]
    homes = Household.objects.bulk_create(
        [Household(name=f"Bench {row['index']}") for row in rows], batch_size=1000
    )
    sites = Site.objects.bulk_create(
        [
            Site(
                household=home,
                name=row["site_name"],
                amber_site_id=row["amber_site_id"],
                tesla_energy_site_id=str(row["energy_site_id"]),
                tesla_access=Site.TeslaAccess.TESLEMETRY,
                # Onboarding stores the Teslemetry region (the simulator serves every region).
                teslemetry_region="na",
                time_zone=row["time_zone"],
                aemo_region=row["region"],
                spike_detection_enabled=bool(region),
            )
            for home, row in zip(homes, rows, strict=True)
        ],
        batch_size=1000,
    )
    SiteCredentials.objects.bulk_create(
        [
            SiteCredentials(
                site=site, amber_token=row["amber_token"], teslemetry_api_key=row["teslemetry_key"]
            )
            for site, row in zip(sites, rows, strict=True)
        ],
        batch_size=1000,
    )
    # As if each site had synced a minute ago: the cycle then stores prices as in steady state
    # (everything only at a half-hour's first sync), not as a new site's first sync does.
    synced_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    # Live price sync is on (its intent switched on when the household turned it on).
    AutomationState.objects.bulk_create(
        [
            AutomationState(site=site, last_sync_at=synced_at, intent_kinds=IntentKind.ROUTINE)
            for site in sites
        ],
        batch_size=1000,
    )
    SiteIntent.objects.bulk_create(
        [
            SiteIntent(
                site=site,
                kind=IntentKind.ROUTINE,
                active=True,
                since=synced_at,
                why=ROUTINE_WHY,
            )
            for site in sites
        ],
        batch_size=1000,
    )
    return [site.pk for site in sites]


@contextmanager
def workers(
    env: dict[str, str], *, count: int, concurrency: int, queues: str
) -> Iterator[list[psutil.Process]]:
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "powersync_site",
                "worker",
                "--queues",
                queues,
                "--pool",
                "threads",
                "--concurrency",
                str(concurrency),
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"bench{i}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(count)
    ]
    time.sleep(6)  # let every worker connect before the clock starts
    try:
        yield [psutil.Process(p.pid) for p in procs]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def purge(env: dict[str, str]) -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def run_sync_cycle(households: int, args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    with simulator(households) as base:
        env = bench_env(base, threads=args.concurrency)
        connection.close()
        recreate_database(env)
        purge(env)
        site_ids = seed_sites(base, households)
        if args.forecast == "calibrated":
            seed_calibration_history()
        from tariffs.models import TariffPush
        from tasks.sync import SETTLED_DELAYS_SECONDS, sync_all

        with workers(env, count=args.workers, concurrency=args.concurrency, queues="sync") as procs:
            wait_for_interval_start()
            simulator_process = psutil.Process(SIMULATOR_PIDS[0])
            sim_cpu_before = cpu_seconds([simulator_process])
            cpu_before = cpu_seconds(procs)
            requests_before = control(base, "/stats")["requests"]
            t0 = dt.datetime.now(dt.UTC)
            sync_all.apply()  # the beat's fan-out at the interval start, run here
            peak_rss = 0
            confirmed = 0
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline:
                peak_rss = max(peak_rss, *(p.memory_info().rss for p in procs))
                confirmed = sites_confirmed()
                if confirmed >= len(site_ids):
                    break
                time.sleep(1.0)
            all_confirmed_s = (dt.datetime.now(dt.UTC) - t0).total_seconds()
            # Let the settled syncs (t0+35 s, t0+60 s) finish too: the rest of the cycle.
            while time.monotonic() < deadline:
                peak_rss = max(peak_rss, *(p.memory_info().rss for p in procs))
                elapsed = (dt.datetime.now(dt.UTC) - t0).total_seconds()
                if elapsed > max(SETTLED_DELAYS_SECONDS) + 5 and queue_empty():
                    break
                time.sleep(0.5)
            time.sleep(3)
            cpu_used = cpu_seconds(procs) - cpu_before
            sim_cpu_used = cpu_seconds([simulator_process]) - sim_cpu_before
            requests_after = control(base, "/stats")["requests"]

        from django.db.models import Min

        first_confirmed = (
            TariffPush.objects.filter(status=TariffPush.Status.CONFIRMED)
            .values("site_id")
            .annotate(first=Min("verified_at"))
            .values_list("first", flat=True)
        )
        latencies = [(verified - t0).total_seconds() for verified in first_confirmed if verified]
        pushes = TariffPush.objects.filter(status=TariffPush.Status.CONFIRMED).count()
        syncs_run = 3 * len(site_ids)
        calls = {
            service: requests_after.get(service, 0) - requests_before.get(service, 0)
            for service in requests_after
        }
        result = {
            "households": households,
            "forecast": args.forecast,
            "workers": args.workers,
            "threads_per_worker": args.concurrency,
            "confirmed": len(latencies),
            "pushes_in_cycle": pushes,
            "all_confirmed_within_s": round(all_confirmed_s, 1)
            if confirmed >= len(site_ids)
            else None,
            "latency_s": {
                "p50": round(percentile(latencies, 0.5), 2),
                "p99": round(percentile(latencies, 0.99), 2),
                "max": round(max(latencies), 2),
            }
            if latencies
            else None,
            "cpu_ms_per_household_sync": round(cpu_used * 1000 / syncs_run, 2),
            "cpu_ms_per_household_cycle": round(cpu_used * 1000 / len(site_ids), 2),
            "simulator_cpu_ms_per_household_cycle": round(sim_cpu_used * 1000 / len(site_ids), 2),
            "peak_worker_rss_mb": round(peak_rss / 2**20, 1),
            "amber_calls_per_household_per_5min": round(calls.get("amber", 0) / len(site_ids), 2),
            # Pushes + read-backs (+ one Teslemetry metadata call per site, the first time only).
            "tesla_calls_per_household_in_cycle": round(calls.get("tesla", 0) / len(site_ids), 2),
        }
        connection.close()
        return result


def seed_calibration_history() -> None:
    """Switch every site to the calibrated forecast and give it the price history a site has in
    steady state: two hours (and an interval either side) of settled 5-minute prices on both
    channels, each with the forecasts captured for it, settling 70 % of the way from
    ``predicted`` to ``perKwh``. Each site's first sync in the cycle then learns its weights from
    ~48 samples, as in production."""
    from devices.models import Site
    from pricing.models import AmberPriceInterval

    Site.objects.update(forecast_type=Site.ForecastType.CALIBRATED)
    boundary = dt.datetime.fromtimestamp(time.time() // 300 * 300, tz=dt.UTC)
    ends = [boundary + dt.timedelta(minutes=5 * k) for k in range(-25, 3)]
    fetched = dt.datetime.now(dt.UTC)
    channels = {"general": (Decimal("30"), Decimal("24")), "feedIn": (Decimal("-8"), Decimal("-5"))}
    rows = [
        AmberPriceInterval(
            amber_site_id=amber_site_id,
            channel=channel,
            start_at=end - dt.timedelta(minutes=5),
            end_at=end,
            duration_minutes=5,
            interval_type=AmberPriceInterval.IntervalType.ACTUAL,
            price_c_per_kwh=predicted + (per_kwh - predicted) * Decimal("0.7"),
            spot_c_per_kwh=Decimal("10"),
            fetched_at=fetched,
            captured_per_kwh_c_per_kwh=per_kwh,
            captured_predicted_c_per_kwh=predicted,
        )
        for amber_site_id in Site.objects.values_list("amber_site_id", flat=True)
        for end in ends
        for channel, (predicted, per_kwh) in channels.items()
    ]
    AmberPriceInterval.objects.bulk_create(rows, batch_size=5000)


def wait_for_interval_start() -> None:
    """Sleep (this benchmark process, not a worker) until the next 5-minute interval starts,
    when Beat runs the fan-out. A cycle started mid-interval would cross into the next one,
    whose new prices push again: that is the next cycle's work, not this one's."""
    time.sleep(300 - time.time() % 300 + 0.5)


def sites_confirmed(**filters: Any) -> int:
    """How many sites hold a push confirmed by read-back (optionally of one ``reason``)."""
    from tariffs.models import TariffPush

    confirmed = TariffPush.objects.filter(status=TariffPush.Status.CONFIRMED, **filters)
    return confirmed.values("site_id").distinct().count()


def queue_empty() -> bool:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    unacked = client.hlen("unacked")
    return client.llen("sync") == 0 and client.llen("spike") == 0 and unacked == 0


def run_spike_fanout(sites: int, args: argparse.Namespace) -> dict[str, Any]:
    """S sites in one region (the simulator's households are spread over regions, so ask for
    enough households that the region holds S of them)."""
    from django.db import connection

    region = "NSW1"
    households = int(sites * 2.6)  # NSW1 holds ~40 % of simulated households
    with simulator(households) as base:
        env = bench_env(base, threads=args.spike_concurrency)
        connection.close()
        recreate_database(env)
        purge(env)
        site_ids = seed_sites(base, households, region=region)[:sites]
        from devices.models import Site

        Site.objects.exclude(pk__in=site_ids).delete()
        from tariffs.models import TariffPush
        from tasks.spike import check_regions

        synced = sync_each_once(env, site_ids, args)
        with workers(
            env, count=args.workers, concurrency=args.spike_concurrency, queues="spike"
        ) as procs:
            control(base, "/scenario", {"name": "aemo_spike", "params": {"region": region}})
            simulator_process = psutil.Process(SIMULATOR_PIDS[0])
            cpu_before = cpu_seconds(procs)
            sim_cpu_before = cpu_seconds([simulator_process])
            t0 = dt.datetime.now(dt.UTC)
            check_regions.apply_async(queue="spike")  # beat's one regional read, on a worker
            deadline = time.monotonic() + args.timeout
            peak_rss = 0
            while time.monotonic() < deadline:
                peak_rss = max(peak_rss, *(p.memory_info().rss for p in procs))
                done = sites_confirmed(reason=TariffPush.Reason.SPIKE)
                if done >= len(site_ids):
                    break
                time.sleep(0.25)
            cpu_used = cpu_seconds(procs) - cpu_before
            sim_cpu_used = cpu_seconds([simulator_process]) - sim_cpu_before
        latencies = [
            (verified - t0).total_seconds()
            for verified in TariffPush.objects.filter(
                reason=TariffPush.Reason.SPIKE, status=TariffPush.Status.CONFIRMED
            ).values_list("verified_at", flat=True)
            if verified
        ]
        connection.close()
        return {
            "sites": len(site_ids),
            "region": region,
            "sites_holding_a_synced_tariff": synced,
            "confirmed": len(latencies),
            "latency_s": {
                "p50": round(percentile(latencies, 0.5), 2),
                "p99": round(percentile(latencies, 0.99), 2),
                "max": round(max(latencies), 2),
            }
            if latencies
            else None,
            "peak_worker_rss_mb": round(peak_rss / 2**20, 1),
            "worker_cpu_ms_per_site": round(cpu_used * 1000 / len(site_ids), 2),
            "simulator_cpu_ms_per_site": round(sim_cpu_used * 1000 / len(site_ids), 2),
            "threads_per_worker": args.spike_concurrency,
            "database_pool_per_worker": pool_size(args.spike_concurrency),
        }


def sync_each_once(env: dict[str, str], site_ids: list[int], args: argparse.Namespace) -> int:
    """One forecast sync per site before the spike, as Beat would have run minutes earlier:
    each site then holds a tariff PowerSync pushed, and the spike builds on its stored
    half-hours, the path a syncing site takes. Returns how many sites hold one."""
    from tariffs.models import TariffPush
    from tasks.sync import sync_site

    with workers(env, count=args.workers, concurrency=args.concurrency, queues="sync"):
        for site_id in site_ids:
            sync_site.apply_async((site_id, TariffPush.Reason.FORECAST.value), queue="sync")
        deadline = time.monotonic() + args.timeout
        while sites_confirmed() < len(site_ids) and time.monotonic() < deadline:
            time.sleep(0.5)  # this benchmark process polls; the workers never wait
    return sites_confirmed()


def run_write_budget() -> dict[str, Any]:
    """Replay the fixture day through the sync decision (no database: engine + decision only),
    once per forecast choice: ``predicted`` (the default), ``per_kwh`` and ``calibrated``."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from pricing.providers.amber import AmberClient
    from simulator import SimulatorThread
    from tariffs.engine.settings import ForecastType, TariffSettings
    from tariffs.site_tariff import engine_intervals
    from tasks.sync import SETTLED_DELAYS_SECONDS

    start = dt.datetime.fromisoformat("2025-06-28T00:00:00+10:00")
    zone = ZoneInfo("Australia/Brisbane")
    fetched: list[tuple[dt.datetime, list[Any]]] = []
    with SimulatorThread(households=1, speed=0.0, seed=1) as sim:
        control_base = sim.base_urls["control"].removesuffix("/control")
        requests.post(
            f"{control_base}/control/rate-limits", json={"amber": {"enabled": False}}, timeout=5
        )
        household = control(control_base, "/households?limit=1")["households"][0]
        client = AmberClient(household["amber_token"], base_url=sim.base_urls["amber"])
        # Beat's moments (the interval start, then the settled syncs) and the sync's own fetch.
        for step in range(288):
            for offset_s in (0, *SETTLED_DELAYS_SECONDS):
                now = start + dt.timedelta(minutes=5 * step, seconds=offset_s)
                control(control_base, "/clock", {"now": now.isoformat(), "speed": 0})
                intervals = client.get_current_prices(
                    household["amber_site_id"],
                    next_intervals=settings.AMBER_NEXT_INTERVALS,
                    previous_intervals=settings.AMBER_PREVIOUS_INTERVALS,
                    resolution_min=5,
                )
                fetched.append((now, engine_intervals(intervals)))
    result: dict[str, Any] = {
        "day": "2025-06-28 (Amber fixture replayed by the simulator), Australia/Brisbane",
        "syncs": len(fetched),
    }
    forecast_types = (ForecastType.PREDICTED, ForecastType.PER_KWH, ForecastType.CALIBRATED)
    for forecast_type in forecast_types:
        replay = _replay_decisions(fetched, zone, TariffSettings(forecast_type=forecast_type))
        result[f"forecast_{forecast_type.value}"] = replay
    # What a wider tolerance would buy with the default forecast, instead of another forecast.
    from django.test import override_settings

    wider: dict[str, Any] = {}
    for tolerance in ("1.5", "2", "3"):
        with override_settings(SYNC_TOLERANCE_C_PER_KWH=tolerance):
            wider[f"{tolerance}_c_per_kwh"] = _replay_decisions(
                fetched, zone, TariffSettings(forecast_type=ForecastType.PREDICTED)
            )
    result["forecast_predicted_with_a_wider_tolerance"] = wider
    # The same day in a mirror world where prices settle near ``predicted`` instead: the
    # calibrated forecast must not be tuned to the simulator's choice.
    mirrored = _settled_near_predicted(fetched)
    result["if_prices_settled_near_predicted"] = {
        f"forecast_{forecast_type.value}": _replay_decisions(
            mirrored, zone, TariffSettings(forecast_type=forecast_type)
        )
        for forecast_type in forecast_types
    }
    return result


def _settled_near_predicted(
    fetched: list[tuple[dt.datetime, list[Any]]],
) -> list[tuple[dt.datetime, list[Any]]]:
    """Each settled price scaled by the simulator's predicted/perKwh ratio for its slot, so
    that ``predicted`` becomes the unbiased forecast and ``perKwh`` the biased one."""
    from simulator.prices import load_profile, slot_of_end
    from tariffs.engine.amber import ACTUAL, GENERAL

    profile = load_profile()

    def settled(iv: Any) -> Any:
        if iv.kind != ACTUAL and iv.advanced_c_per_kwh is not None:
            return iv  # a forecast, or a current interval not yet settled
        slot = profile[slot_of_end(iv.end_epoch_s)]
        ratio = (slot.adv_general if iv.channel == GENERAL else slot.adv_feed)[1]
        return iv._replace(per_kwh_c_per_kwh=iv.per_kwh_c_per_kwh * ratio)

    return [(now, [settled(iv) for iv in intervals]) for now, intervals in fetched]


def _replay_decisions(
    fetched: list[tuple[dt.datetime, list[Any]]], zone: Any, settings: Any
) -> dict[str, Any]:
    from tariffs.change_rule import push_needed
    from tariffs.engine.amber import build_amber_rates
    from tariffs.engine.freshness import Built
    from tariffs.engine.model import PERIODS_PER_DAY, HalfHourRates
    from tariffs.engine.settings import ForecastType
    from tariffs.site_tariff import current_half_hour_index

    writes = 0
    refused = 0
    worst_gap_c = Decimal(0)
    held: HalfHourRates | None = None
    near: list[tuple[int, HalfHourRates]] = []
    history = _CalibrationHistory()
    calibration = None
    for now, intervals in fetched:
        if settings.forecast_type is ForecastType.CALIBRATED:
            history.record(now, intervals)
            calibration = history.calibration(now)
        built = build_amber_rates(
            intervals, zone=zone, now=now, settings=settings, calibration=calibration
        )
        if not isinstance(built, Built):
            refused += 1
            continue
        index = current_half_hour_index(now.astimezone(zone))
        near.append((index, built.rates))
        matters, _why = push_needed(held, built.rates, index)
        if matters:
            writes += 1
            held = built.rates
        assert held is not None
        for k in (index, (index + 1) % PERIODS_PER_DAY):
            for old, new in (
                (held.buy_dollars_per_kwh[k], built.rates.buy_dollars_per_kwh[k]),
                (held.sell_dollars_per_kwh[k], built.rates.sell_dollars_per_kwh[k]),
            ):
                worst_gap_c = max(worst_gap_c, abs(old - new) * 100)
    outcome: dict[str, Any] = {
        "refused": refused,
        "tesla_writes_per_household_per_day": writes,
        "tesla_tou_calls_per_household_per_day": writes * 2,  # push + read-back
        "largest_gap_current_and_next_c_per_kwh": float(worst_gap_c),
        "fewest_writes_any_rule": _fewest_writes_any_rule(near),
    }
    if calibration is not None:
        outcome["weights_at_day_end"] = {
            "general": round(calibration.general_weight, 3),
            "feed_in": round(calibration.feed_in_weight, 3),
        }
    return outcome


def _fewest_writes_any_rule(near: list[tuple[int, Any]]) -> int:
    """A lower bound on writes for these fresh tariffs: the fewest any change rule could make,
    even one that knew the whole day ahead and wrote whatever rates suited it, while keeping the
    current and next half-hour within the sync tolerance at every sync.

    Tesla holds one value per half-hour and channel between writes. Keeping it within the
    tolerance of every fresh value it is compared with (at syncs where that half-hour is current
    or next) is possible exactly when those fresh values span at most twice the tolerance. A
    stretch that is possible stays possible when shortened, so extending each stretch as far as
    it goes and writing only where it must break gives the fewest writes.
    """
    from django.conf import settings

    from tariffs.engine.model import PERIODS_PER_DAY

    widest = Decimal(str(settings.SYNC_TOLERANCE_C_PER_KWH)) * 2 / 100  # $/kWh
    writes = 0
    spans: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    for index, rates in near:
        seen = {}
        for k in (index, (index + 1) % PERIODS_PER_DAY):
            seen[(0, k)] = rates.buy_dollars_per_kwh[k]
            seen[(1, k)] = rates.sell_dollars_per_kwh[k]
        widened = {}
        for key, value in seen.items():
            low, high = spans.get(key, (value, value))
            widened[key] = (min(low, value), max(high, value))
        if not spans or any(high - low > widest for low, high in widened.values()):
            writes += 1  # a new stretch starts here
            spans = {key: (value, value) for key, value in seen.items()}
        else:
            spans.update(widened)
    return writes


class _CalibrationHistory:
    """What the price store would hold for the calibrated forecast, kept in memory: every settled
    5-minute price, and the forecasts captured by the first forecast sync of each half-hour (the
    one sync that stores forecasts, ``automations.routine._intervals_to_store``)."""

    def __init__(self) -> None:
        self.settled: dict[tuple[str, int], Any] = {}
        self.captured: dict[tuple[str, int, int], Any] = {}

    def record(self, now: dt.datetime, intervals: list[Any]) -> None:
        from tariffs.engine.amber import ACTUAL, FORECAST
        from tariffs.engine.calibration import (
            CapturedForecast,
            SettledPrice,
            captured_for_calibration,
        )

        fetched_s = int(now.timestamp())
        full_store = now.minute % 30 == 0 and now.second < 30  # the forecast sync of :00/:30
        for iv in intervals:
            if iv.kind == ACTUAL and iv.duration_min == 5:
                self.settled[(iv.channel, iv.start_epoch_s)] = SettledPrice(
                    iv.channel, iv.start_epoch_s, iv.end_epoch_s, iv.per_kwh_c_per_kwh
                )
            elif (
                full_store
                and iv.kind == FORECAST
                and iv.advanced_c_per_kwh is not None
                and captured_for_calibration(iv.end_epoch_s, fetched_s)
            ):
                self.captured[(iv.channel, iv.start_epoch_s, iv.duration_min)] = CapturedForecast(
                    iv.channel,
                    iv.start_epoch_s,
                    iv.end_epoch_s,
                    iv.per_kwh_c_per_kwh,
                    iv.advanced_c_per_kwh[1],
                )

    def calibration(self, now: dt.datetime) -> Any:
        from tariffs.engine.calibration import (
            forecast_calibration,
            forecast_samples,
            sample_window,
        )

        after, until = sample_window(now)
        settled = [p for p in self.settled.values() if after < p.end_epoch_s <= until]
        captured = [
            f for f in self.captured.values() if f.start_epoch_s < until and f.end_epoch_s > after
        ]
        return forecast_calibration(forecast_samples(settled, captured), now=now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, nargs="*", default=[1000, 5000, 10000])
    parser.add_argument("--spike-sites", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--spike-concurrency", type=int, default=100)
    parser.add_argument("--spike-runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--forecast",
        choices=("predicted", "calibrated"),
        default="predicted",
        help="the sync cycle's sites' forecast type (calibrated: with two hours of history)",
    )
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.update(bench_env("http://127.0.0.1:9"))  # this process only needs DB + broker
    import django

    django.setup()

    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "latency_ms": LATENCY,
        "pool": (
            f"{args.workers} worker processes x {args.concurrency} threads (sync), "
            f"x {args.spike_concurrency} threads (spike); PostgreSQL pool per worker "
            f"{pool_size(args.concurrency)} / {pool_size(args.spike_concurrency)}, DEBUG off"
        ),
    }
    if not args.skip_replay:
        results["write_budget"] = run_write_budget()
        print(json.dumps(results["write_budget"]), flush=True)
    cycle_key = "sync_cycle" if args.forecast == "predicted" else f"sync_cycle_{args.forecast}"
    if args.households:
        results[cycle_key] = []
    for households in args.households:
        outcome = run_sync_cycle(households, args)
        results[cycle_key].append(outcome)
        print(json.dumps(outcome), flush=True)
    if args.spike_sites:
        # Repeated: one run's p99 moves by seconds on a 2-core machine; the median is reported.
        runs = []
        for _ in range(args.spike_runs):
            runs.append(run_spike_fanout(args.spike_sites, args))
            print(json.dumps(runs[-1]), flush=True)
        p99s = [run["latency_s"]["p99"] for run in runs if run["latency_s"]]
        results["spike_fanout"] = {
            "runs": runs,
            "p99_s_per_run": p99s,
            "p99_s_median": statistics.median(p99s) if p99s else None,
        }
    # A partial run (say --households 10000 --spike-sites 0) replaces only what it measured.
    earlier = json.loads(args.output.read_text()) if args.output.exists() else {}
    if cycle_key in results:
        cycles = {run["households"]: run for run in earlier.get(cycle_key, [])}
        cycles.update((run["households"], run) for run in results[cycle_key])
        results[cycle_key] = [cycles[n] for n in sorted(cycles)]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({**earlier, **results}, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
