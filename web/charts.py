"""Server-rendered SVG charts: time-series lines, a 48-half-hour bar chart, heat-map colours.

Pure functions returning SVG markup (safe: every label is escaped here). The SVG has a fixed
viewBox sized for a card about 520 px wide and scales with it. Label sizes come from the
stylesheet (classes tick-x, tick-y, unit, now-label), which enlarges them on a phone, where a card
is ~330 px and the SVG is drawn at 0.63 scale; there the "minor" time labels are hidden so the
larger ones never touch. Times on the x axis are drawn in the site's time zone.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 520
HEIGHT = 250
PAD_LEFT = 58  # room for a five-digit tick label at the phone's larger font
PAD_RIGHT = 12
PAD_TOP = 24
PAD_BOTTOM = 30


@dataclass(frozen=True)
class Series:
    """One line: label, colour (CSS), points (aware datetime, value) in time order."""

    label: str
    color: str
    points: Sequence[tuple[dt.datetime, float]]
    dashed: bool = False
    step: bool = False  # draw as steps (interval prices) rather than straight segments


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 x 10^k."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high - low < 1e-9:
        high, low = high + 1, low - 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float) -> str:
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _time_ticks(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> list[dt.datetime]:
    """Local whole hours every 3 h (or 6 h over a long span) between start and end."""
    span_h = (end - start).total_seconds() / 3600
    every = 3 if span_h <= 26 else 6 if span_h <= 50 else 24
    local = start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    ticks: list[dt.datetime] = []
    moment = local
    while moment <= end:
        local_moment = moment.astimezone(zone)
        if moment >= start and local_moment.hour % every == 0:
            ticks.append(moment)
        moment = (moment.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(zone)
    return ticks


def time_chart(
    series: Sequence[Series],
    *,
    start: dt.datetime,
    end: dt.datetime,
    zone: ZoneInfo,
    unit: str,
    now: dt.datetime | None = None,
    title: str = "",
    chart_id: str = "",
) -> SafeString:
    """A line chart over [start, end] with y ticks, local-time x ticks, a zero line and "now"."""
    values = [v for s in series for _, v in s.points]
    if not values:
        return mark_safe('<p class="muted">No data for this period yet.</p>')
    ticks = nice_ticks(min(min(values), 0.0), max(max(values), 0.0))
    y_low, y_high = ticks[0], ticks[-1]
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    total_s = max((end - start).total_seconds(), 1.0)

    def x_of(moment: dt.datetime) -> float:
        return PAD_LEFT + plot_w * (moment - start).total_seconds() / total_s

    def y_of(value: float) -> float:
        return PAD_TOP + plot_h * (1 - (value - y_low) / (y_high - y_low))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title or "chart")}"'
        + (f' id="{escape(chart_id)}"' if chart_id else "")
        + ">"
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for tick in ticks:
        y = y_of(tick)
        css = "zero" if tick == 0 else "gridline"
        parts.append(
            f'<line class="{css}" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick-y" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(tick))}</text>"
        )
    parts.append(f'<text class="unit" x="{PAD_LEFT + 6}" y="14">{escape(unit)}</text>')
    for moment in _time_ticks(start, end, zone):
        x = x_of(moment)
        local_moment = moment.astimezone(zone)
        label = local_moment.strftime("%H:%M")
        # Labels between the 6-hourly ones are hidden on a phone (CSS), where they would touch.
        minor = " minor" if local_moment.hour % 6 else ""
        parts.append(
            f'<line class="gridline" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_TOP}" '
            f'y2="{HEIGHT - PAD_BOTTOM}"/>'
        )
        # A label at the right edge ends there instead of being cut in half.
        at_edge = x > WIDTH - PAD_RIGHT - 24
        anchor, label_x = ("end", WIDTH - 1.0) if at_edge else ("middle", x)
        parts.append(
            f'<text class="tick-x{minor}" x="{label_x:.1f}" y="{HEIGHT - PAD_BOTTOM + 18}" '
            f'text-anchor="{anchor}">{label}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{PAD_LEFT}" x2="{PAD_LEFT}" y1="{PAD_TOP}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>'
    )
    if now is not None and start <= now <= end:
        x = x_of(now)
        parts.append(
            f'<line class="now" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_TOP}" '
            f'y2="{HEIGHT - PAD_BOTTOM}"/>'
        )
        parts.append(  # above the plot, where no line can cross it
            f'<text class="now-label" x="{x:.1f}" y="{PAD_TOP - 6}" text-anchor="middle">now</text>'
        )
    for line in series:
        path = _path(line, x_of, y_of)
        if not path:
            continue
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        parts.append(
            f'<path d="{path}" fill="none" stroke="{escape(line.color)}" stroke-width="2"'
            f'{dash} stroke-linejoin="round"><title>{escape(line.label)}</title></path>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every dynamic value above is escaped


def _path(line: Series, x_of: object, y_of: object) -> str:
    """SVG path data; a gap longer than 3x the usual spacing starts a new segment."""
    assert callable(x_of)
    assert callable(y_of)
    points = list(line.points)
    if not points:
        return ""
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(points)]
    usual = sorted(gaps)[len(gaps) // 2] if gaps else 0
    commands: list[str] = []
    previous: tuple[dt.datetime, float] | None = None
    for moment, value in points:
        x, y = x_of(moment), y_of(value)
        if previous is None or (usual and (moment - previous[0]).total_seconds() > 3 * usual):
            commands.append(f"M{x:.1f},{y:.1f}")
        elif line.step:
            commands.append(f"H{x:.1f}V{y:.1f}")
        else:
            commands.append(f"L{x:.1f},{y:.1f}")
        previous = (moment, value)
    return "".join(commands)


def half_hour_bars(
    buy: Sequence[Decimal],
    sell: Sequence[Decimal],
    *,
    unit: str = "$/kWh",
    current_index: int | None = None,
    title: str = "",
) -> SafeString:
    """48 half-hours: buy (blue) and sell (green) bars side by side, x labels every 3 hours."""
    values = [float(v) for v in (*buy, *sell)]
    ticks = nice_ticks(min(min(values, default=0.0), 0.0), max(max(values, default=0.0), 0.01))
    y_low, y_high = ticks[0], ticks[-1]
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    slot = plot_w / 48
    bar = slot * 0.42

    def y_of(value: float) -> float:
        return PAD_TOP + plot_h * (1 - (value - y_low) / (y_high - y_low))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title or "tariff")}">'
    ]
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="{"zero" if tick == 0 else "gridline"}" x1="{PAD_LEFT}" '
            f'x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick-y" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_fmt(tick))}</text>"
        )
    parts.append(f'<text class="unit" x="{PAD_LEFT + 6}" y="14">{escape(unit)}</text>')
    if current_index is not None:
        x = PAD_LEFT + slot * current_index
        parts.append(
            f'<rect x="{x:.1f}" y="{PAD_TOP}" width="{slot:.1f}" height="{plot_h}" '
            'fill="#fdeceb"><title>now</title></rect>'
        )
    zero_y = y_of(0.0)
    for index in range(min(len(buy), len(sell), 48)):
        x0 = PAD_LEFT + slot * index + slot * 0.08
        label = f"{index // 2:02d}:{(index % 2) * 30:02d}"
        for offset, value, color, side in (
            (0.0, float(buy[index]), "var(--buy)", "buy"),
            (bar, float(sell[index]), "var(--sell)", "sell"),
        ):
            top = min(y_of(value), zero_y)
            height = max(abs(zero_y - y_of(value)), 0.5)
            parts.append(
                f'<rect x="{x0 + offset:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{label} {side} '
                f"${value:.4f}/kWh</title></rect>"
            )
    for hour in range(0, 24, 3):
        x = PAD_LEFT + slot * hour * 2
        minor = " minor" if hour % 6 else ""
        parts.append(
            f'<text class="tick-x{minor}" x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 18}" '
            f'text-anchor="middle">{hour:02d}:00</text>'
        )
    parts.append(
        f'<line class="axis" x1="{PAD_LEFT}" x2="{PAD_LEFT}" y1="{PAD_TOP}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every dynamic value above is escaped


def heat_color(value: float, low: float, high: float) -> str:
    """Green (cheap) → amber → red (dear) for ``value`` within [low, high], as an HSL colour."""
    fraction = 0.0 if high - low < 1e-12 else min(max((value - low) / (high - low), 0.0), 1.0)
    hue = 140 - 140 * fraction  # 140 green → 0 red
    lightness = 78 - 22 * fraction
    return f"hsl({hue:.0f}, 65%, {lightness:.0f}%)"
