"""The ``calibrated`` forecast: Amber's ``predicted`` forecast, moved toward its raw ``perKwh``
forecast by as much as this site's own settled prices say.

Amber sends two forecasts for every future interval: ``perKwh`` (built on AEMO's pre-dispatch) and
``advancedPrice.predicted`` (Amber's own). They can disagree by 10-40 % for hours: in the fixture
day at 16:30, general 64.4 against 56.6 c/kWh and feed-in -27.4 against -20.3. Which one settles
closer is an empirical question whose answer changes with the market, so this forecast learns it
per site and per channel:

    price = predicted + w * (perKwh - predicted)

``w`` is, per channel, the median of where each recent settled price fell between the two
forecasts, ``(settled - predicted) / (perKwh - predicted)`` clipped to [0, 1] (``blend_weight``),
over the settled 5-minute intervals that ended within ``WINDOW`` before now, each paired with both
forecasts as captured at least ``LEAD`` before the interval ended (``ForecastSample``). A median,
so that one spike interval cannot swing it. ``w = 0`` is plain ``predicted``; it is also the
answer with fewer than ``MIN_SAMPLES`` samples whose forecasts disagree by ``MIN_GAP_C`` or more
(nothing to learn from). Forecast intervals starting within ``FULL`` (1 h) of now take the whole
correction, which then fades linearly to none at ``HORIZON`` (3 h): the fit is measured at 30-60
minutes' lead only, and a fade lets each half-hour drift into the correction instead of jumping
when it enters it (a jump past the sync tolerance would be a Tesla write every half-hour).

Why it matters: the current half-hour's price is the mean of its settled intervals and the
forecasts for the rest, so a forecast that is biased against what settles moves the current
half-hour at every 5-minute settlement, and every such move past the sync tolerance is a Tesla
write. Everything here is pure; the store keeps the captured forecasts (``pricing``).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

LEAD_S = 30 * 60  # a forecast is captured for calibration while at least this far ahead
WINDOW_S = 2 * 3600  # settled intervals that ended this recently are the samples
# Forecast intervals starting within FULL_S of now take the whole correction; it then fades
# linearly to none at HORIZON_S, so a half-hour drifts into it instead of jumping.
FULL_S = 1 * 3600
HORIZON_S = 3 * 3600
MIN_SAMPLES = 6
FIVE_MINUTES_S = 300
# Forecasts closer than this (c/kWh) say the same thing: such a sample teaches nothing.
MIN_GAP_C = 0.5

GENERAL = "general"
FEED_IN = "feedIn"


class ForecastSample(NamedTuple):
    """One settled 5-minute interval and the two forecasts captured for it (c/kWh incl. GST)."""

    channel: str  # general | feedIn
    settled_c_per_kwh: float
    per_kwh_c_per_kwh: float
    predicted_c_per_kwh: float


class CapturedForecast(NamedTuple):
    """Both forecasts of one forecast interval as captured at ``LEAD_S`` or more."""

    channel: str
    start_epoch_s: int
    end_epoch_s: int
    per_kwh_c_per_kwh: float
    predicted_c_per_kwh: float


class SettledPrice(NamedTuple):
    channel: str
    start_epoch_s: int
    end_epoch_s: int
    settled_c_per_kwh: float


def captured_for_calibration(end_epoch_s: int, fetched_epoch_s: int) -> bool:
    """Is a forecast interval ending at ``end_epoch_s`` far enough ahead to be captured?"""
    return end_epoch_s - fetched_epoch_s >= LEAD_S


def sample_window(now: datetime) -> tuple[int, int]:
    """(after, until), epoch seconds: a calibration at ``now`` learns from the settled intervals
    that end in (after, until]. ``until`` is the start of the current 5-minute interval, so the
    forecast sync and the settled syncs of one interval see the same samples and the same weights
    (which lets a sync reuse the weights its interval already learned)."""
    until = int(now.timestamp()) // FIVE_MINUTES_S * FIVE_MINUTES_S
    return until - WINDOW_S, until


def forecast_samples(
    settled: Iterable[SettledPrice], captured: Iterable[CapturedForecast]
) -> list[ForecastSample]:
    """Pair each settled interval with the captured forecast that covers it (the finest one when
    a 5- and a 30-minute forecast both do). Settled intervals without one are left out."""
    covering: dict[str, list[CapturedForecast]] = {}
    for forecast in captured:
        covering.setdefault(forecast.channel, []).append(forecast)
    for forecasts in covering.values():
        forecasts.sort(key=lambda f: f.end_epoch_s - f.start_epoch_s)
    samples = []
    for price in settled:
        for forecast in covering.get(price.channel, ()):
            if forecast.start_epoch_s <= price.start_epoch_s and price.end_epoch_s <= (
                forecast.end_epoch_s
            ):
                samples.append(
                    ForecastSample(
                        price.channel,
                        price.settled_c_per_kwh,
                        forecast.per_kwh_c_per_kwh,
                        forecast.predicted_c_per_kwh,
                    )
                )
                break
    return samples


def blend_weight(samples: Sequence[ForecastSample]) -> float:
    """The median, over samples whose two forecasts disagree by at least ``MIN_GAP_C``, of where
    the settled price fell between them: ``(settled - predicted) / (perKwh - predicted)``,
    each clipped to [0, 1]. A median, not a least-squares fit, so that one spike interval
    (settled far beyond both forecasts) cannot swing the blend by itself."""
    positions = []
    for sample in samples:
        gap = sample.per_kwh_c_per_kwh - sample.predicted_c_per_kwh
        if abs(gap) >= MIN_GAP_C:
            position = (sample.settled_c_per_kwh - sample.predicted_c_per_kwh) / gap
            positions.append(min(1.0, max(0.0, position)))
    if len(positions) < MIN_SAMPLES:
        return 0.0
    return statistics.median(positions)


@dataclass(frozen=True, slots=True)
class ForecastCalibration:
    """The blend weights of one site at one moment, and where the correction stops."""

    general_weight: float
    feed_in_weight: float
    now_epoch_s: int
    samples: int

    def price(self, channel: str, start_epoch_s: int, predicted: float, per_kwh: float) -> float:
        """The calibrated price of one forecast interval."""
        lead_s = start_epoch_s - self.now_epoch_s
        if lead_s >= HORIZON_S:
            return predicted
        weight = self.general_weight if channel == GENERAL else self.feed_in_weight
        if lead_s > FULL_S:
            weight *= (HORIZON_S - lead_s) / (HORIZON_S - FULL_S)
        return predicted + weight * (per_kwh - predicted)

    @property
    def learned(self) -> bool:
        """Whether either channel had enough samples to leave plain ``predicted``."""
        return bool(self.general_weight or self.feed_in_weight)

    @property
    def general_percent(self) -> int:
        return round(self.general_weight * 100)

    @property
    def feed_in_percent(self) -> int:
        return round(self.feed_in_weight * 100)

    def describe(self) -> str:
        return (
            f"calibrated forecast: {self.general_percent}% of the way from predicted to perKwh "
            f"for buy, {self.feed_in_percent}% for sell ({self.samples} settled intervals)"
        )


def forecast_calibration(
    samples: Sequence[ForecastSample], *, now: datetime
) -> ForecastCalibration:
    """The calibration for ``now`` from the samples of ``sample_window(now)``."""
    by_channel: dict[str, list[ForecastSample]] = {GENERAL: [], FEED_IN: []}
    for sample in samples:
        if sample.channel in by_channel:
            by_channel[sample.channel].append(sample)
    return ForecastCalibration(
        general_weight=blend_weight(by_channel[GENERAL]),
        feed_in_weight=blend_weight(by_channel[FEED_IN]),
        now_epoch_s=int(now.timestamp()),
        samples=len(by_channel[GENERAL]) + len(by_channel[FEED_IN]),
    )
