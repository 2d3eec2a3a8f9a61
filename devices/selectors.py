"""Reads about one site: prices now and over time, energy, demand, automation state, connections.

Callers first reach the site through ``households.selectors.sites_for_user`` (household
scoping); these functions then read that site's own data. Prices are read here, per site, because a
site decides which price rows are its own (its Amber site id or its NEM region).

Units are in names. Amber sign convention is turned into household words at this boundary:
``export_earn_c_per_kwh`` is what the household EARNS per kWh exported (Amber's feed-in
``perKwh`` negated), so a negative value means exporting costs money.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from automations.models import AutomationState
from credentials.models import SiteCredentials
from devices.models import DemandPeak, EnergySample, Site
from pricing.models import AemoRegionalPrice, AmberPriceInterval

# A stored "current" price older than this is shown as stale rather than as the price now.
PRICE_STALE_AFTER = dt.timedelta(minutes=15)
_FIVE_MIN = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class PriceNow:
    """The price in force at ``at`` (interval end ``interval_end_at``), or the latest known.

    Amber sites: ``buy_c_per_kwh`` and ``export_earn_c_per_kwh`` (c/kWh incl. GST). AEMO sites:
    ``rrp_dollars_per_mwh`` (wholesale, ex-GST). ``is_spike`` is Amber's spike status
    (potential/spike) or, for AEMO, RRP at or above the site's spike threshold.
    """

    source: str
    interval_end_at: dt.datetime
    is_stale: bool
    spike_status: str
    is_spike: bool
    buy_c_per_kwh: Decimal | None = None
    export_earn_c_per_kwh: Decimal | None = None
    rrp_dollars_per_mwh: Decimal | None = None
    descriptor: str = ""


@dataclass(frozen=True)
class PricePoint:
    """One interval of price history: its end, its value, and whether it is a forecast."""

    end_at: dt.datetime
    value: Decimal
    is_forecast: bool


@dataclass(frozen=True)
class PriceHistory:
    """Price series for a chart. Amber: buy and export-earn in c/kWh; AEMO: RRP in $/MWh."""

    unit: str
    buy: list[PricePoint]
    export_earn: list[PricePoint]


@dataclass(frozen=True)
class ConnectionStatus:
    """Which connections of a site are in place. Booleans only: no secret leaves this function."""

    price_source_ok: bool
    amber_token_stored: bool
    tesla_credentials_stored: bool
    energy_site_chosen: bool
    needs_reauthorisation: bool

    @property
    def tesla_ok(self) -> bool:
        return (
            self.tesla_credentials_stored
            and self.energy_site_chosen
            and not self.needs_reauthorisation
        )


def _amber_rows(site: Site, channel: str) -> Q:
    return Q(amber_site_id=site.amber_site_id, channel=channel)


def site_price_now(*, site: Site, now: dt.datetime) -> PriceNow | None:
    """The price of the interval containing ``now`` (else the latest one before it), or None."""
    if site.price_source == Site.PriceSource.AMBER and site.amber_site_id:
        rows = AmberPriceInterval.objects.filter(start_at__lte=now).order_by(
            "-end_at", "duration_minutes"
        )
        general = rows.filter(_amber_rows(site, AmberPriceInterval.Channel.GENERAL)).first()
        if general is None:
            return None
        feed_in = (
            rows.filter(_amber_rows(site, AmberPriceInterval.Channel.FEED_IN))
            .filter(end_at=general.end_at)
            .first()
        )
        return PriceNow(
            source=Site.PriceSource.AMBER,
            interval_end_at=general.end_at,
            is_stale=general.end_at < now - PRICE_STALE_AFTER,
            spike_status=general.spike_status,
            is_spike=general.spike_status != AmberPriceInterval.SpikeStatus.NONE,
            buy_c_per_kwh=general.price_c_per_kwh,
            export_earn_c_per_kwh=-feed_in.price_c_per_kwh if feed_in else None,
            descriptor=general.descriptor,
        )
    if site.aemo_region:
        price = (
            AemoRegionalPrice.objects.filter(
                region=site.aemo_region, is_forecast=False, interval_end_at__lte=now + _FIVE_MIN
            )
            .order_by("-interval_end_at")
            .first()
        )
        if price is None:
            return None
        is_spike = price.rrp_dollars_per_mwh >= site.spike_threshold_dollars_per_mwh
        return PriceNow(
            source=Site.PriceSource.AEMO,
            interval_end_at=price.interval_end_at,
            is_stale=price.interval_end_at < now - PRICE_STALE_AFTER,
            spike_status="spike" if is_spike else "none",
            is_spike=is_spike,
            rrp_dollars_per_mwh=price.rrp_dollars_per_mwh,
        )
    return None


def _half_hour_end(moment: dt.datetime) -> dt.datetime:
    """The end of the (UTC-aligned) half-hour an interval ending at ``moment`` belongs to."""
    seconds = int(moment.timestamp())
    return dt.datetime.fromtimestamp(-(-seconds // 1800) * 1800, tz=dt.UTC)


def _half_hours_preferred(rows: list[AmberPriceInterval]) -> list[AmberPriceInterval]:
    """``rows`` (in time order) without the short rows whose half-hour a 30-minute row of the
    same channel and kind (forecast or not) covers."""
    forecast = AmberPriceInterval.IntervalType.FORECAST

    def kind(row: AmberPriceInterval) -> tuple[str, bool]:
        return row.channel, row.interval_type == forecast

    covered = {
        (*kind(row), _half_hour_end(row.end_at)) for row in rows if row.duration_minutes >= 30
    }
    return [
        row
        for row in rows
        if row.duration_minutes >= 30 or (*kind(row), _half_hour_end(row.end_at)) not in covered
    ]


def site_price_history(*, site: Site, since: dt.datetime, until: dt.datetime) -> PriceHistory:
    """Prices with interval ends in (since, until], oldest first, actual and forecast apart.

    Amber: a 30-minute row is preferred to the 5-minute rows of its half-hour, separately for
    actuals (actual and current) and forecasts of each channel; 5-minute rows fill the half-hours
    no 30-minute row covers. The sync fetches 5-minute actuals and a forecast that turns
    30-minute after about an hour, so both lines stay complete. Where an actual and a forecast
    exist for the same interval, both are returned (the chart draws both lines).
    """
    if site.price_source == Site.PriceSource.AMBER and site.amber_site_id:
        amber_rows = (
            AmberPriceInterval.objects.filter(
                amber_site_id=site.amber_site_id,
                channel__in=["general", "feedIn"],
                end_at__gt=since,
                end_at__lte=until,
            )
            .order_by("end_at")
            .only("channel", "end_at", "duration_minutes", "price_c_per_kwh", "interval_type")
        )
        kept = _half_hours_preferred(list(amber_rows))
        series: dict[str, list[PricePoint]] = {"general": [], "feedIn": []}
        for row in kept:
            value = row.price_c_per_kwh if row.channel == "general" else -row.price_c_per_kwh
            series[row.channel].append(
                PricePoint(
                    end_at=row.end_at,
                    value=value,
                    is_forecast=row.interval_type == AmberPriceInterval.IntervalType.FORECAST,
                )
            )
        return PriceHistory(unit="c/kWh", buy=series["general"], export_earn=series["feedIn"])
    if site.aemo_region:
        rows = AemoRegionalPrice.objects.filter(
            region=site.aemo_region, interval_end_at__gt=since, interval_end_at__lte=until
        ).order_by("interval_end_at")
        points = [
            PricePoint(
                end_at=row.interval_end_at,
                value=row.rrp_dollars_per_mwh,
                is_forecast=row.is_forecast,
            )
            for row in rows
        ]
        return PriceHistory(unit="$/MWh", buy=points, export_earn=[])
    return PriceHistory(unit="c/kWh", buy=[], export_earn=[])


def site_energy_latest(*, site: Site) -> EnergySample | None:
    """The most recent energy sample of the site (power in W, Tesla sign conventions)."""
    return EnergySample.objects.filter(site=site).order_by("-sampled_at").first()


def site_power_samples(*, site: Site, since: dt.datetime) -> list[EnergySample]:
    """Energy samples since ``since``, oldest first (at most 2 000: a chart needs no more)."""
    rows = EnergySample.objects.filter(site=site, sampled_at__gte=since).order_by("-sampled_at")
    return list(reversed(rows[:2000]))


def site_demand_peak_for_month(*, site: Site, month_start: dt.date) -> DemandPeak | None:
    """The site's demand peak of the billing month starting ``month_start``."""
    return DemandPeak.objects.filter(site=site, billing_month=month_start).first()


def site_automation_state(*, site: Site) -> AutomationState | None:
    """The site's automation state, or None before any automation ran."""
    return AutomationState.objects.filter(site=site).first()


def site_connection_status(*, site: Site) -> ConnectionStatus:
    """Which connections exist. Reads credentials only to test presence; returns booleans."""
    credentials = SiteCredentials.objects.filter(site=site).first()
    amber_token = bool(credentials and credentials.amber_token)
    if site.tesla_access == Site.TeslaAccess.TESLEMETRY:
        tesla_stored = bool(credentials and credentials.teslemetry_api_key)
    else:
        tesla_stored = bool(credentials and credentials.tesla_access_token)
    if site.price_source == Site.PriceSource.AMBER:
        price_ok = bool(site.amber_site_id) and amber_token
    elif site.price_source == Site.PriceSource.AEMO:
        price_ok = bool(site.aemo_region)
    else:
        price_ok = site.custom_schedule_id is not None
    return ConnectionStatus(
        price_source_ok=price_ok,
        amber_token_stored=amber_token,
        tesla_credentials_stored=tesla_stored,
        energy_site_chosen=bool(site.tesla_energy_site_id),
        needs_reauthorisation=site.needs_reauthorisation,
    )
