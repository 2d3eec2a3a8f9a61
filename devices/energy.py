"""Energy monitoring: samples of a site's power flows, their cadence, hourly roll-ups, retention.

Sampling
    ``energy_sample_record`` reads Tesla ``live_status`` and stores one EnergySample keyed by
    Tesla's own timestamp, so reading the same reading twice (a retried or duplicated task) stores
    one row: the unique (site, sampled_at) constraint decides, not a prior read.

Cadence ("someone is watching")
    The web marks a site as watched for ``seconds`` (``site_watch_mark``) while a page shows its
    live flows. Watched sites are sampled every ENERGY_WATCHED_INTERVAL_SECONDS (30 s), the others
    every ENERGY_IDLE_INTERVAL_SECONDS (5 min). A site is due when its newest sample is at least
    (interval - DUE_GRACE) old, the grace absorbing Tesla latency so a 30-s beat does not slip to
    60 s. The fan-out also claims a per-site, per-cadence Redis key for (interval - DUE_GRACE): a
    site whose gateway keeps answering with an old timestamp, or whose sample is still queued, is
    not asked again before its interval (Tesla calls are billed).

    The watched flag lives in Redis (a sorted set: member = site id, score = expiry as a Unix
    time), not in Django's cache: the configured cache is per-process LocMem, so the worker and
    beat would never see a mark the web process set, and the fan-out needs "every watched site"
    in one cheap call (ZRANGEBYSCORE), which a cache cannot list.

Roll-up (``site_energy_history``, ``energy_hours_rollup``)
    Energy is integrated from samples with the trapezoid rule on each pair of consecutive samples
    not more than MAX_GAP apart (a longer gap is missing data, not a straight line). Signed flows
    are split exactly where the straight line crosses zero: grid import/export, battery
    discharge/charge; solar and home count their positive part only (Tesla reports small negative
    solar at night). Buckets are site-local hours or days (a DST day has 23 or 25 hours).
    Complete hours are stored once in EnergyHour by an hourly task; the history selector reads
    those rows and integrates raw samples only for the hours not rolled up yet, so a month chart
    reads about 744 hour rows whatever the sampling rate was.

Retention (``energy_samples_prune``)
    Raw samples older than ENERGY_RAW_RETENTION_DAYS (35) are deleted after their hours were rolled
    up. 35 days keeps a whole billing month of raw data for demand recomputation.

All datetimes are aware; stored ones are UTC. Powers are W, energies kWh.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max, OuterRef, Q, Subquery
from django.utils import timezone

from devices.clients import tesla_client_for
from devices.models import EnergyHour, EnergySample, Site
from devices.providers.tesla import LiveStatus
from ops.locks import redis_client, redis_key

logger = logging.getLogger(__name__)

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
# Consecutive samples further apart than this are a hole in the data, not a straight line.
MAX_GAP = dt.timedelta(minutes=15)
# A sample is due when the newest one is at least (interval - DUE_GRACE) old.
DUE_GRACE = dt.timedelta(seconds=10)
# A Tesla timestamp further ahead of our clock than this is refused (it would look "fresh" to the
# due-check for as long as it stays in the future).
MAX_CLOCK_AHEAD = dt.timedelta(minutes=5)
# The last rolled-up hour is recomputed (late samples) only while its raw samples surely exist.
RECOMPUTE_LAST_HOUR_WITHIN = dt.timedelta(days=1)


def watched_key() -> str:
    return redis_key("energy", "watched")


def claim_key(kind: str, site_id: int) -> str:
    return redis_key("energy", "claim", kind, site_id)


_KWH_QUANTUM = Decimal("0.001")
_WS_PER_KWH = 3_600_000.0


def energy_setting(name: str) -> int:
    """The integer setting ``name`` (ENERGY_* and DEMAND_INTERVAL_MINUTES in settings)."""
    return int(getattr(settings, name))


# --- sampling -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedSample:
    sample: EnergySample
    created: bool


def _battery_percent(status: LiveStatus) -> Decimal | None:
    percent = status.battery_percent
    if percent is None and status.energy_left_wh is not None and status.total_pack_energy_wh:
        percent = 100 * status.energy_left_wh / status.total_pack_energy_wh
    if percent is None:
        return None
    clamped = min(max(percent, 0.0), 100.0)
    return Decimal(str(clamped)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def energy_sample_record(*, site_id: int, now: dt.datetime | None = None) -> RecordedSample | None:
    """Read the site's live_status and store it as an EnergySample keyed by Tesla's timestamp.

    Returns None when there is nothing to sample (site gone, no Tesla site chosen, paused for
    re-authorisation, no battery level, or a timestamp from the future); otherwise the stored
    row and whether this call created it (False: the same reading was already stored).

    Raises the Tesla client's errors (``Unavailable``, ``RateLimited``, ``AuthError``…) and
    ``devices.clients.MissingCredentials`` for the caller to handle.
    """
    site = Site.objects.filter(pk=site_id).first()
    if site is None or not site.tesla_energy_site_id or site.needs_reauthorisation:
        return None
    status = tesla_client_for(site).live_status(int(site.tesla_energy_site_id))
    moment = now or timezone.now()
    if status.timestamp > moment + MAX_CLOCK_AHEAD:
        logger.warning(
            "site %s: live_status timestamp %s is ahead of %s; not stored",
            site_id,
            status.timestamp.isoformat(),
            moment.isoformat(),
        )
        return None
    battery_percent = _battery_percent(status)
    if battery_percent is None:
        logger.warning("site %s: live_status has no battery level; not stored", site_id)
        return None
    # get_or_create inserts first and falls back to a read on IntegrityError, so two concurrent
    # copies of one reading still leave one row (the unique constraint decides).
    sample, created = EnergySample.objects.get_or_create(
        site_id=site_id,
        sampled_at=status.timestamp.astimezone(UTC),
        defaults={
            "solar_power_w": round(status.solar_power_w),
            "battery_power_w": round(status.battery_power_w),
            "grid_power_w": round(status.grid_power_w),
            "load_power_w": round(status.load_power_w),
            "battery_percent": battery_percent,
        },
    )
    return RecordedSample(sample=sample, created=created)


# --- "someone is watching" and cadence --------------------------------------------------------


def site_watch_mark(*, site_id: int, seconds: int = 120, now: dt.datetime | None = None) -> None:
    """Sample the site at the watched cadence for the next ``seconds`` (the web calls this while
    a page shows live flows; calling again extends, never shortens)."""
    expires_at = (now or timezone.now()).timestamp() + seconds
    redis_client().zadd(watched_key(), {str(site_id): expires_at}, gt=True)


def site_is_watched(site_id: int, *, now: dt.datetime | None = None) -> bool:
    expires_at = redis_client().zscore(watched_key(), str(site_id))
    return expires_at is not None and expires_at > (now or timezone.now()).timestamp()


def watched_site_ids(*, now: dt.datetime) -> set[int]:
    """Every site whose watch mark has not expired at ``now`` (one Redis call)."""
    members = redis_client().zrangebyscore(watched_key(), f"({now.timestamp()}", "+inf")
    return {int(member) for member in members if isinstance(member, bytes | str)}


def sample_interval(*, watched: bool) -> dt.timedelta:
    name = "ENERGY_WATCHED_INTERVAL_SECONDS" if watched else "ENERGY_IDLE_INTERVAL_SECONDS"
    return dt.timedelta(seconds=energy_setting(name))


def sites_due_for_sample(*, now: dt.datetime, watched: Iterable[int] = ()) -> list[int]:
    """Sites to sample at ``now``: never sampled, or newest sample at least (interval - grace) old,
    the interval being the watched one for ``watched`` site ids and the idle one otherwise.

    One query; the newest sample of each site is found through the (site, sampled_at) unique
    index.
    """
    newest = (
        EnergySample.objects.filter(site=OuterRef("pk"))
        .order_by("-sampled_at")
        .values("sampled_at")[:1]
    )
    idle_before = now - sample_interval(watched=False) + DUE_GRACE
    watched_before = now - sample_interval(watched=True) + DUE_GRACE
    due = Q(last_sampled_at__isnull=True) | Q(last_sampled_at__lte=idle_before)
    watched_ids = sorted(set(watched))
    if watched_ids:
        due |= Q(pk__in=watched_ids, last_sampled_at__lte=watched_before)
    rows = (
        Site.objects.filter(needs_reauthorisation=False)
        .exclude(tesla_energy_site_id="")
        .annotate(last_sampled_at=Subquery(newest))
        .filter(due)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(rows)


def sample_slots_claim(*, site_ids: Sequence[int], watched: Iterable[int]) -> list[int]:
    """Claim one sampling slot per site for (interval - grace); return the sites claimed.

    The key names the cadence, so a site that just became watched is claimable at once even
    though its idle slot is still held.
    """
    watched_set = set(watched)
    pipe = redis_client().pipeline(transaction=False)
    for site_id in site_ids:
        is_watched = site_id in watched_set
        kind = "watched" if is_watched else "idle"
        ttl = sample_interval(watched=is_watched) - DUE_GRACE
        pipe.set(
            claim_key(kind, site_id),
            "1",
            nx=True,
            px=max(1000, int(ttl.total_seconds() * 1000)),
        )
    results = pipe.execute()
    return [site_id for site_id, claimed in zip(site_ids, results, strict=True) if claimed]


def sites_to_sample(*, now: dt.datetime) -> list[int]:
    """The beat fan-out's list: due sites (selector above) whose slot this caller claimed.

    Forgets expired watch marks on the way (the sorted set would otherwise keep every site
    ever watched).
    """
    redis_client().zremrangebyscore(watched_key(), "-inf", now.timestamp())
    watched = watched_site_ids(now=now)
    due = sites_due_for_sample(now=now, watched=watched)
    return sample_slots_claim(site_ids=due, watched=watched) if due else []


# --- integration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowPoint:
    """One sample's power flows (W, Tesla signs: battery > 0 discharging, grid > 0 importing)."""

    at: dt.datetime
    solar_w: float
    battery_w: float
    grid_w: float
    load_w: float


@dataclass
class EnergyTotals:
    """Energy over one bucket, kWh, every value >= 0."""

    start: dt.datetime
    solar_kwh: float = 0.0
    home_kwh: float = 0.0
    grid_import_kwh: float = 0.0
    grid_export_kwh: float = 0.0
    battery_charge_kwh: float = 0.0
    battery_discharge_kwh: float = 0.0
    covered_seconds: float = 0.0

    def add(self, other: EnergyTotals) -> None:
        for name in ENERGY_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.covered_seconds += other.covered_seconds


ENERGY_FIELDS = tuple(
    f.name for f in fields(EnergyTotals) if f.name.endswith("_kwh")
)  # solar_kwh, home_kwh, grid_import_kwh, grid_export_kwh, battery_charge/discharge_kwh


def positive_area(start_w: float, end_w: float, seconds: float) -> float:
    """W·s under max(p, 0) where p goes in a straight line from ``start_w`` to ``end_w``."""
    if start_w >= 0 and end_w >= 0:
        return (start_w + end_w) / 2 * seconds
    if start_w <= 0 and end_w <= 0:
        return 0.0
    # The line crosses zero: only the triangle on the positive side counts.
    high = max(start_w, end_w)
    return high * high / (high - min(start_w, end_w)) * seconds / 2


def _add_piece(totals: EnergyTotals, a: FlowPoint, b: FlowPoint, seconds: float) -> None:
    totals.solar_kwh += positive_area(a.solar_w, b.solar_w, seconds) / _WS_PER_KWH
    totals.home_kwh += positive_area(a.load_w, b.load_w, seconds) / _WS_PER_KWH
    totals.grid_import_kwh += positive_area(a.grid_w, b.grid_w, seconds) / _WS_PER_KWH
    totals.grid_export_kwh += positive_area(-a.grid_w, -b.grid_w, seconds) / _WS_PER_KWH
    totals.battery_discharge_kwh += positive_area(a.battery_w, b.battery_w, seconds) / _WS_PER_KWH
    totals.battery_charge_kwh += positive_area(-a.battery_w, -b.battery_w, seconds) / _WS_PER_KWH
    totals.covered_seconds += seconds


def _at(a: FlowPoint, b: FlowPoint, moment: dt.datetime) -> FlowPoint:
    """The straight line between two samples, read at ``moment``."""
    span = (b.at - a.at).total_seconds()
    share = (moment - a.at).total_seconds() / span
    return FlowPoint(
        at=moment,
        solar_w=a.solar_w + (b.solar_w - a.solar_w) * share,
        battery_w=a.battery_w + (b.battery_w - a.battery_w) * share,
        grid_w=a.grid_w + (b.grid_w - a.grid_w) * share,
        load_w=a.load_w + (b.load_w - a.load_w) * share,
    )


def integrate(points: Sequence[FlowPoint], boundaries: Sequence[dt.datetime]) -> list[EnergyTotals]:
    """Energy per bucket [boundaries[i], boundaries[i+1]) from ``points`` sorted by time.

    Trapezoid on each consecutive pair at most MAX_GAP apart, cut at bucket boundaries by
    reading the straight line there. One pass: O(points + buckets).
    """
    buckets = [EnergyTotals(start=start) for start in boundaries[:-1]]
    if not buckets:
        return buckets
    index = 0
    for a, b in pairwise(points):
        if b.at <= a.at or b.at - a.at > MAX_GAP:
            continue
        while index < len(buckets) and boundaries[index + 1] <= a.at:
            index += 1
        bucket = index
        while bucket < len(buckets) and boundaries[bucket] < b.at:
            low = max(a.at, boundaries[bucket])
            high = min(b.at, boundaries[bucket + 1])
            if high > low:
                start = a if low == a.at else _at(a, b, low)
                end = b if high == b.at else _at(a, b, high)
                _add_piece(buckets[bucket], start, end, (high - low).total_seconds())
            bucket += 1
    return buckets


def flow_points(*, site_id: int, since: dt.datetime, until: dt.datetime) -> list[FlowPoint]:
    """Samples with since <= sampled_at <= until, oldest first."""
    rows = (
        EnergySample.objects.filter(site_id=site_id, sampled_at__gte=since, sampled_at__lte=until)
        .order_by("sampled_at")
        .values_list(
            "sampled_at", "solar_power_w", "battery_power_w", "grid_power_w", "load_power_w"
        )
    )
    return [
        FlowPoint(at=at, solar_w=solar, battery_w=battery, grid_w=grid, load_w=load)
        for at, solar, battery, grid, load in rows.iterator(chunk_size=5000)
    ]


# --- local buckets --------------------------------------------------------------------------


def local_floor(moment: dt.datetime, zone: ZoneInfo, *, minutes: int) -> dt.datetime:
    """The UTC instant where the local clock last showed a multiple of ``minutes`` (<= 60).

    ``astimezone`` sets ``fold`` on the repeated hour after DST ends and ``replace`` keeps it, so
    the second 02:00 floors to the second 02:00.
    """
    local = moment.astimezone(zone)
    floored = local.replace(minute=local.minute - local.minute % minutes, second=0, microsecond=0)
    return floored.astimezone(UTC)


def step_boundaries(
    start: dt.datetime, end: dt.datetime, zone: ZoneInfo, *, minutes: int
) -> list[dt.datetime]:
    """Local-clock-aligned boundaries covering [start, end): floor(start), then every
    ``minutes`` of real time (DST moves Australian clocks by whole hours, so each later boundary
    is aligned too), up to the first one >= ``end``."""
    boundary = local_floor(start, zone, minutes=minutes)
    step = dt.timedelta(minutes=minutes)
    result = [boundary]
    while boundary < end:
        boundary += step
        result.append(boundary)
    return result


def local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """Midnight starting ``day`` on the local clock, in UTC (Australian DST moves at 2-3 am, so
    midnight always exists exactly once)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC)


# --- roll-ups ---------------------------------------------------------------------------------


def _kwh(value: float) -> Decimal:
    return Decimal(str(value)).quantize(_KWH_QUANTUM, rounding=ROUND_HALF_UP)


def _totals_from_row(row: EnergyHour) -> EnergyTotals:
    totals = EnergyTotals(start=row.hour_start, covered_seconds=float(row.covered_seconds))
    for name in ENERGY_FIELDS:
        setattr(totals, name, float(getattr(row, name)))
    return totals


def _rolled_until(site_id: int) -> dt.datetime | None:
    """End of the newest rolled-up hour of the site."""
    newest = EnergyHour.objects.filter(site_id=site_id).aggregate(newest=Max("hour_start"))[
        "newest"
    ]
    return newest + HOUR if newest is not None else None


def energy_hours_rollup(*, site_id: int, now: dt.datetime | None = None) -> int:
    """Store EnergyHour rows for every complete local hour not rolled up yet; return how many.

    An hour is complete once its end is MAX_GAP in the past (a later sample can no longer change
    it). The newest stored hour is recomputed while its samples surely exist, to take in a late
    sample; hours without any covered second get no row. Idempotent (upsert on (site, hour)).
    """
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return 0
    moment = now or timezone.now()
    until = local_floor(moment - MAX_GAP, site.zone, minutes=60)
    rolled_until = _rolled_until(site_id)
    if rolled_until is None:
        first = (
            EnergySample.objects.filter(site_id=site_id)
            .order_by("sampled_at")
            .values_list("sampled_at", flat=True)
            .first()
        )
        if first is None:
            return 0
        start = local_floor(first, site.zone, minutes=60)
    elif moment - rolled_until < RECOMPUTE_LAST_HOUR_WITHIN:
        start = rolled_until - HOUR
    else:
        start = rolled_until
    if start >= until:
        return 0
    boundaries = step_boundaries(start, until, site.zone, minutes=60)
    points = flow_points(site_id=site_id, since=start - MAX_GAP, until=until + MAX_GAP)
    rows = [
        EnergyHour(
            site_id=site_id,
            hour_start=totals.start,
            covered_seconds=round(totals.covered_seconds),
            **{name: _kwh(getattr(totals, name)) for name in ENERGY_FIELDS},
        )
        for totals in integrate(points, boundaries)
        if totals.covered_seconds > 0
    ]
    EnergyHour.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["site", "hour_start"],
        update_fields=[*ENERGY_FIELDS, "covered_seconds", "updated_at"],
    )
    return len(rows)


Bucket = Literal["hour", "day"]


def site_energy_history(
    *, site: Site, start: dt.datetime, end: dt.datetime, bucket: Bucket = "hour"
) -> list[EnergyTotals]:
    """Energy per site-local hour or day over [start, end), oldest first.

    Buckets start at local hour (or midnight) boundaries, the first one at or before ``start``;
    every bucket is listed, an empty one with ``covered_seconds`` 0. Rolled-up hours come from
    EnergyHour; hours after the newest rolled-up one are integrated from raw samples.
    """
    zone = site.zone
    if bucket == "day":
        # Whole local days: from the midnight starting start's day to the one ending end's day.
        start = local_midnight(start.astimezone(zone).date(), zone)
        last_day = (end - dt.timedelta(microseconds=1)).astimezone(zone).date()
        end = max(start, local_midnight(last_day + dt.timedelta(days=1), zone))
    hours = step_boundaries(start, end, zone, minutes=60)
    by_hour = {
        row.hour_start: _totals_from_row(row)
        for row in EnergyHour.objects.filter(
            site=site, hour_start__gte=hours[0], hour_start__lt=hours[-1]
        )
    }
    rolled_until = _rolled_until(site.pk)
    raw_from = hours[0] if rolled_until is None else max(hours[0], rolled_until)
    if raw_from < hours[-1]:
        raw_hours = [boundary for boundary in hours if boundary >= raw_from]
        points = flow_points(site_id=site.pk, since=raw_from - MAX_GAP, until=hours[-1] + MAX_GAP)
        for totals in integrate(points, raw_hours):
            by_hour[totals.start] = totals
    hourly = [by_hour.get(boundary) or EnergyTotals(start=boundary) for boundary in hours[:-1]]
    if bucket == "hour":
        return hourly
    days: dict[dt.date, EnergyTotals] = {}
    for totals in hourly:
        day = totals.start.astimezone(zone).date()
        if day not in days:
            days[day] = EnergyTotals(start=local_midnight(day, zone))
        days[day].add(totals)
    return list(days.values())


# --- retention --------------------------------------------------------------------------------


def energy_samples_prune(*, site_id: int, now: dt.datetime | None = None) -> int:
    """Roll up the site's complete hours, then delete raw samples older than the retention;
    return how many samples were deleted."""
    moment = now or timezone.now()
    energy_hours_rollup(site_id=site_id, now=moment)
    # Never below what a later roll-up may still recompute (the newest hour, for a day).
    cutoff = min(
        moment - dt.timedelta(days=energy_setting("ENERGY_RAW_RETENTION_DAYS")),
        moment - RECOMPUTE_LAST_HOUR_WITHIN - HOUR - MAX_GAP,
    )
    deleted, _ = EnergySample.objects.filter(site_id=site_id, sampled_at__lt=cutoff).delete()
    return deleted


def sites_with_energy() -> list[int]:
    """Sites that may hold samples (a Tesla site chosen), paused ones included: the roll-up and
    prune fan-outs. A site without samples costs one indexed query there."""
    return list(
        Site.objects.exclude(tesla_energy_site_id="").order_by("pk").values_list("pk", flat=True)
    )
