"""Flow Power / AEMO: wholesale $/MWh -> retail c/kWh -> 48 half-hours; Happy Hour export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tariffs.engine.flow_power import (
    AemoPayloadError,
    FlowPowerConfigError,
    FlowPowerPlan,
    ManualNetwork,
    build_flow_power_rates,
    check_plan,
    parse_aemo_prices,
)
from tariffs.engine.freshness import Built, Refused
from tariffs.engine.settings import LocalWindow
from tests.tariffs.engine.test_amber import built, index_of

NEM = timezone(timedelta(hours=10))
BRISBANE = ZoneInfo("Australia/Brisbane")
NOW = datetime(2025, 6, 28, 16, 25, tzinfo=BRISBANE)


def aemo_rows(
    *,
    region: str = "QLD1",
    now: datetime = NOW,
    rrp: Callable[[datetime], float] = lambda end: 100.0,
    forecast_until: datetime | None = None,
) -> list[dict[str, Any]]:
    """5-min ACTUALs from local midnight to ``now`` (floored), 30-min FORECASTs after it."""
    start = now.astimezone(NEM).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    end = start + timedelta(minutes=5)
    while end <= now:
        rows.append(
            {
                "SETTLEMENTDATE": end.strftime("%Y-%m-%dT%H:%M:%S"),
                "REGIONID": region,
                "RRP": rrp(end),
                "PERIODTYPE": "ACTUAL",
            }
        )
        end += timedelta(minutes=5)
    end = end.replace(minute=0 if end.minute <= 30 else 30) + timedelta(minutes=30)
    last = forecast_until or (start + timedelta(days=2))
    while end <= last:
        rows.append(
            {
                "SETTLEMENTDATE": end.strftime("%Y-%m-%dT%H:%M:%S"),
                "REGION": region,
                "RRP": rrp(end),
                "PERIODTYPE": "FORECAST",
            }
        )
        end += timedelta(minutes=30)
    return rows


FLAT = FlowPowerPlan(manual=ManualNetwork(off_peak_c_per_kwh=10.0), other_fees_c_per_kwh=2.0)


def build(rows: list[dict[str, Any]], plan: FlowPowerPlan = FLAT, **kwargs: Any) -> Built | Refused:
    return build_flow_power_rates(
        parse_aemo_prices(rows), plan=plan, zone=kwargs.pop("zone", BRISBANE), now=NOW, **kwargs
    )


def test_parses_the_real_5min_record() -> None:
    import json
    from pathlib import Path

    path = (
        Path(__file__).resolve().parents[2]
        / "fixtures/aemo/5min_record_excerpt_2026-02-27_nsw1.json"
    )
    [price] = parse_aemo_prices(json.loads(path.read_text()))
    # SETTLEMENTDATE 2026-02-27T18:40:00 NEM (+10:00) = 08:40Z, the interval END
    assert price.end_epoch_s == int(datetime(2026, 2, 27, 8, 40, tzinfo=UTC).timestamp())
    assert price.region == "NSW1"
    assert price.rrp_dollars_per_mwh == 73.23171
    assert price.duration_min == 5


def test_manual_flat_rate() -> None:
    # (100 $/MWh / 10 + 10 c network + 2 c fees) * 1.1 GST = 22 * 1.1 = 24.2 c -> $0.242
    result = built(build(aemo_rows()))
    assert set(result.rates.buy_dollars_per_kwh) == {Decimal("0.242")}


def test_manual_time_of_use_network_rates() -> None:
    plan = FlowPowerPlan(
        manual=ManualNetwork.from_json(
            {
                "off_peak_c_per_kwh": 5,
                "peak_c_per_kwh": 20,
                "peak_windows": [["16:00", "21:00"]],
                "shoulder_c_per_kwh": 8,
                "shoulder_windows": [["07:00", "16:00"]],
            }
        )
    )
    result = built(build(aemo_rows(), plan))
    buy = result.rates.buy_dollars_per_kwh
    assert buy[index_of("PERIOD_18_00")] == Decimal("0.33")  # (10 + 20) * 1.1 = 33 c
    assert buy[index_of("PERIOD_09_00")] == Decimal("0.198")  # (10 + 8) * 1.1 = 19.8 c
    assert buy[index_of("PERIOD_02_00")] == Decimal("0.165")  # (10 + 5) * 1.1 = 16.5 c
    assert buy[index_of("PERIOD_21_00")] == Decimal("0.165")  # 21:00 is past the peak window


def test_half_hour_is_the_duration_weighted_mean_of_5_minute_rrps() -> None:
    # PERIOD_16_00 (current): actuals ending 16:05..16:25 at 100, 130, 160, 190, 220 $/MWh and
    # the 30-min forecast ending 16:30 at 250 -> a forecast never overrides an actual in the same
    # half-hour, so the mean is (100+130+160+190+220)/5 = 160 $/MWh = 16 c
    # -> (16 + 10 + 2) * 1.1 = 30.8 c -> $0.308
    def rrp(end: datetime) -> float:
        if end.hour == 16 and end.minute <= 30 and end.day == 28:
            return 100.0 + 30 * (end.minute // 5 - 1)
        return 100.0

    result = built(build(aemo_rows(rrp=rrp)))
    assert result.rates.buy_dollars_per_kwh[index_of("PERIOD_16_00")] == Decimal("0.308")


def test_automatic_mode_uses_aemo_to_tariff() -> None:
    # energex 6900 (2025-26 tables), PERIOD_17_30 ends 18:00 -> library looks at 17:55, "Evening"
    # 16:00-21:00 at 19.367 c ex-GST. Library: rrp * 1.05905 * 1.0154 * 1.0154 = 109.1920904 $/MWh
    # -> 10.91920904 c + 19.367 * 1.1 (= 21.3037) = 32.22290904 c -> $0.3222
    plan = FlowPowerPlan(network="energex", tariff_code="6900")
    result = built(build(aemo_rows(), plan))
    assert result.rates.buy_dollars_per_kwh[index_of("PERIOD_17_30")] == Decimal("0.3222")


def test_citipower_is_the_library_victoria_tables() -> None:
    check_plan(FlowPowerPlan(network="citipower", tariff_code="VICR_TOU"), NOW)


@pytest.mark.parametrize(
    ("network", "code", "message"),
    [
        ("origin", "6900", "unknown network 'origin'"),
        ("ausgrid", "EA999", "tariff code 'EA999' is not known for network 'ausgrid'"),
        ("energex", "NTC6900", "not known for network 'energex'"),
        ("sapn", "", "needs a network and a tariff code"),
    ],
)
def test_unknown_network_or_tariff_is_an_error_not_a_guess(
    network: str, code: str, message: str
) -> None:
    with pytest.raises(FlowPowerConfigError, match=message):
        build(aemo_rows(), FlowPowerPlan(network=network, tariff_code=code))


@pytest.mark.parametrize(
    ("network", "code"),
    [
        ("energex", "6900X"),  # suffixed code, looked up by its first four digits
        ("ergon", "ERTOUET1"),
        ("ausgrid", "EA025"),
        ("endeavour", "N71"),
        ("essential", "BLNT3AL"),
        ("sapn", "RTOU"),
        ("powercor", "PRTOU"),
        ("victoria", "VICR_SINGLE"),
        ("ausnet", "NEE11S"),  # the 2025-26 tables (NOW is June 2025)
        ("jemena", "PRTOU"),
        ("united", "URTOU"),
        ("tasnetworks", "TAS93"),
        ("evoenergy", "017"),
    ],
)
def test_every_spec_network_prices_a_known_code(network: str, code: str) -> None:
    result = built(build(aemo_rows(), FlowPowerPlan(network=network, tariff_code=code)))
    assert all(value > 0 for value in result.rates.buy_dollars_per_kwh)


@pytest.mark.parametrize(
    ("region", "happy_dollars"),
    [("QLD1", "0.45"), ("NSW1", "0.45"), ("SA1", "0.45"), ("VIC1", "0.35"), ("TAS1", "0")],
)
def test_happy_hour_export(region: str, happy_dollars: str) -> None:
    result = built(build(aemo_rows(region=region)))
    sell = result.rates.sell_dollars_per_kwh
    happy = [index_of(p) for p in ("PERIOD_17_30", "PERIOD_18_00", "PERIOD_18_30", "PERIOD_19_00")]
    assert [sell[i] for i in happy] == [Decimal(happy_dollars)] * 4
    assert all(sell[i] == 0 for i in range(48) if i not in happy)


def test_happy_hour_is_configurable() -> None:
    plan = FlowPowerPlan(
        manual=ManualNetwork(off_peak_c_per_kwh=10.0),
        happy_hour_c_per_kwh={"QLD1": 50.0},
        happy_hour=LocalWindow(17 * 60, 18 * 60),
    )
    result = built(build(aemo_rows(), plan))
    assert result.rates.sell_dollars_per_kwh[index_of("PERIOD_17_00")] == Decimal("0.5")
    assert result.rates.sell_dollars_per_kwh[index_of("PERIOD_18_00")] == 0


def test_periods_beyond_the_forecast_take_todays_price_and_say_so() -> None:
    # Forecasts end 04:00 tomorrow (predispatch). Today's actuals: 100 $/MWh before noon, 300 after.
    # PERIOD_10_00 is past at 16:25 and has no forecast for tomorrow -> today's 10:00-10:30
    # actual (100 $/MWh): (10 + 10 + 2) * 1.1 -> 0.242. PERIOD_02_00 has a forecast (100 $/MWh).
    # PERIOD_13_00 -> today's 300 $/MWh: (30 + 10 + 2) * 1.1 = 46.2 c -> 0.462
    def rrp(end: datetime) -> float:
        return 300.0 if end.day == 28 and end.hour >= 12 else 100.0

    rows = aemo_rows(rrp=rrp, forecast_until=datetime(2025, 6, 29, 4, 0, tzinfo=NEM))
    result = built(build(rows))
    buy = result.rates.buy_dollars_per_kwh
    assert buy[index_of("PERIOD_10_00")] == Decimal("0.242")
    assert buy[index_of("PERIOD_13_00")] == Decimal("0.462")
    assert "PERIOD_10_00: no AEMO forecast, today's price used" in result.notes
    assert not any(n.startswith("PERIOD_02_00") for n in result.notes)


def test_stale_dispatch_prices_are_refused() -> None:
    rows = aemo_rows(now=NOW - timedelta(hours=1))
    result = build(rows)
    assert isinstance(result, Refused)
    assert result.reason.startswith("stale prices")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"SETTLEMENTDATE": "2025-06-28T16:25:00", "REGIONID": "WA1", "RRP": 1}, "unknown region"),
        ({"SETTLEMENTDATE": "soon", "REGIONID": "SA1", "RRP": 1}, "not ISO 8601"),
        ({"SETTLEMENTDATE": "2025-06-28T16:25:00", "REGIONID": "SA1", "RRP": "1"}, "RRP"),
        ({"SETTLEMENTDATE": "2025-06-28T16:26:00", "REGIONID": "SA1", "RRP": 1}, "boundary"),
        (
            {
                "SETTLEMENTDATE": "2025-06-28T16:25:00",
                "REGIONID": "SA1",
                "RRP": 1,
                "PERIODTYPE": "X",
            },
            "PERIODTYPE",
        ),
    ],
)
def test_malformed_aemo_rows(row: dict[str, Any], message: str) -> None:
    with pytest.raises(AemoPayloadError, match=message):
        parse_aemo_prices([row])


def test_mixed_regions_are_rejected() -> None:
    rows = aemo_rows() + aemo_rows(region="NSW1")
    with pytest.raises(AemoPayloadError, match="several regions"):
        build(rows)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"flat_c_per_kwh": 5, "peak_c_per_kwh": 9}, "excludes"),
        ({"peak_c_per_kwh": 9}, "flat_c_per_kwh or off_peak_c_per_kwh"),
        ({"off_peak_c_per_kwh": "5"}, "finite number"),
        ({"off_peak_c_per_kwh": 5, "peak_windows": [["16:00"]]}, "expected"),
        ({"off_peak_c_per_kwh": 5, "peak_windows": [["16:15", "21:00"]]}, "half-hour"),
        ({"flat": 5}, "unknown manual network key"),
    ],
)
def test_manual_network_validation(data: dict[str, Any], message: str) -> None:
    with pytest.raises(FlowPowerConfigError, match=message):
        ManualNetwork.from_json(data)
