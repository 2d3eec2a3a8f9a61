"""The ``calibrated`` forecast: Amber's ``predicted`` forecast, moved toward its raw ``perKwh``
forecast by as much as this site's own settled prices say.

Amber sends two forecasts for every future interval: ``perKwh`` (built on AEMO's pre-dispatch) and
``advancedPrice.predicted`` (Amber's own). They can disagree by 10-40 % for hours: in the fixture
day at 16:30, general 64.4 against 56.6 c/kWh and feed-in -27.4 against -20.3. Which one settles
closer is an empirical question whose answer changes with the market, so this forecast learns it
per site and per channel:

    price = predicted + w * (perKwh - predicted)

``w`` is the least-squares fit, clamped to [0, 1], over the settled 5-minute intervals that ended
within ``WINDOW`` before now, each paired with both forecasts as captured at least ``LEAD`` before
the interval ended (``ForecastSample``). ``w = 0`` is plain ``predicted``; it is also the answer
with fewer than ``MIN_SAMPLES`` samples or when the two forecasts hardly disagreed (nothing to
learn from). The correction applies to forecast intervals starting within ``HORIZON`` of now;
later ones keep plain ``predicted``, because the fit is measured at 30-60 minutes' lead only.

Why it matters: the current half-hour's price is the mean of its settled intervals and the
forecasts for the rest, so a forecast that is biased against what settles moves the current
half-hour at every 5-minute settlement, and every such move past the sync tolerance is a Tesla
write. Everything here is pure; the store keeps the captured forecasts (``pricing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

LEAD_S = 30 * 60  # a forecast is captured for calibration while at least this far ahead
WINDOW_S = 2 * 3600  # settled intervals that ended this recently are the samples
HORIZON_S = 2 * 3600  # forecast intervals starting this soon are corrected
MIN_SAMPLES = 6
# Below this total squared disagreement (c/kWh^2) the two forecasts say the same thing.
MIN_DISAGREEMENT = 1.0

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
    """Least-squares ``w`` in ``settled - predicted = w * (perKwh - predicted)``, in [0, 1]."""
    if len(samples) < MIN_SAMPLES:
        return 0.0
    covariance = 0.0
    disagreement = 0.0
    for sample in samples:
        gap = sample.per_kwh_c_per_kwh - sample.predicted_c_per_kwh
        covariance += (sample.settled_c_per_kwh - sample.predicted_c_per_kwh) * gap
        disagreement += gap * gap
    if disagreement < MIN_DISAGREEMENT:
        return 0.0
    return min(1.0, max(0.0, covariance / disagreement))


@dataclass(frozen=True, slots=True)
class ForecastCalibration:
    """The blend weights of one site at one moment, and where the correction stops."""

    general_weight: float
    feed_in_weight: float
    until_epoch_s: int
    samples: int

    def price(self, channel: str, start_epoch_s: int, predicted: float, per_kwh: float) -> float:
        """The calibrated price of one forecast interval."""
        if start_epoch_s >= self.until_epoch_s:
            return predicted
        weight = self.general_weight if channel == GENERAL else self.feed_in_weight
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
    """The calibration for ``now`` from samples of the last ``WINDOW_S``."""
    by_channel: dict[str, list[ForecastSample]] = {GENERAL: [], FEED_IN: []}
    for sample in samples:
        if sample.channel in by_channel:
            by_channel[sample.channel].append(sample)
    return ForecastCalibration(
        general_weight=blend_weight(by_channel[GENERAL]),
        feed_in_weight=blend_weight(by_channel[FEED_IN]),
        until_epoch_s=int(now.timestamp()) + HORIZON_S,
        samples=len(by_channel[GENERAL]) + len(by_channel[FEED_IN]),
    )
