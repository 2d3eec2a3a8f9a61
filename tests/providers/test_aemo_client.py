"""AemoClient against hand-written reports in the documented shape and the recorded 5MIN record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from pricing.providers.aemo import (
    AemoClient,
    BadRequest,
    InvalidResponse,
    PeriodType,
    RateLimited,
    Region,
    Unavailable,
    UnknownRegion,
    normalise_regions,
    parse_nem_time,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "aemo"
BASE = "https://aemo.test"
SUMMARY_URL = f"{BASE}/aemo/apps/api/report/ELEC_NEM_SUMMARY"
SERIES_URL = f"{BASE}/aemo/apps/api/report/5MIN"
NOW = datetime(2025, 6, 28, 6, 26, tzinfo=UTC)


def summary_row(region: str, price: object, settlement: str = "2025-06-28T16:25:00") -> dict:
    return {
        "SETTLEMENTDATE": settlement,
        "REGIONID": region,
        "PRICE": price,
        "PRICE_STATUS": "FIRM",
        "APCFLAG": 0,
        "MARKETSUSPENDEDFLAG": 0,
        "TOTALDEMAND": 7012.5,
        "NETINTERCHANGE": -120.3,
        "SCHEDULEDGENERATION": 6000.1,
        "SEMISCHEDULEDGENERATION": 1100.2,
        "INTERCONNECTORFLOWS": '[{"name":"N-Q-MNSP1","value":-30}]',
    }


def summary(*rows: object, prices: list[dict] | None = None) -> dict:
    return {
        "ELEC_NEM_SUMMARY": list(rows),
        "ELEC_NEM_SUMMARY_PRICES": prices or [],
        "ELEC_NEM_SUMMARY_MARKET_NOTICE": [],
    }


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client() -> AemoClient:
    return AemoClient(base_url=BASE, timeout_s=(1.0, 2.0), clock=lambda: NOW)


# --- current prices --------------------------------------------------------------------------


def test_current_prices_for_all_regions(rsps, client):
    rsps.get(
        SUMMARY_URL,
        json=summary(
            summary_row("NSW1", 91.89),
            summary_row("QLD1", -5.4939),
            summary_row("VIC1", 20300),
            summary_row("SA1", 120.0),
            summary_row("TAS1", 45.1),
        ),
        match=[
            matchers.header_matcher(
                {"Referer": "https://visualisations.aemo.com.au/aemo/apps/visualisation/index.html"}
            )
        ],
    )

    result = client.get_current_prices()

    assert result.missing_regions == ()
    assert list(result.prices) == [Region.NSW1, Region.QLD1, Region.VIC1, Region.SA1, Region.TAS1]
    nsw = result.prices[Region.NSW1]
    # 16:25 NEM time (UTC+10) is the interval END: 06:20-06:25 UTC.
    assert nsw.interval_end_utc == datetime(2025, 6, 28, 6, 25, tzinfo=UTC)
    assert nsw.interval_start_utc == datetime(2025, 6, 28, 6, 20, tzinfo=UTC)
    assert nsw.rrp_dollars_per_mwh == Decimal("91.89")
    assert nsw.rrp_c_per_kwh_ex_gst == Decimal("9.189")
    assert nsw.price_status == "FIRM"
    assert nsw.total_demand_mw == Decimal("7012.5")
    assert nsw.administered_price_cap is False
    assert nsw.market_suspended is False
    assert result.prices[Region.QLD1].rrp_dollars_per_mwh == Decimal("-5.4939")
    assert result.prices[Region.VIC1].rrp_dollars_per_mwh == Decimal(20300)
    assert result.fetched_at == NOW


def test_missing_regions_are_reported_not_fatal(rsps, client, caplog):
    rsps.get(
        SUMMARY_URL,
        json=summary(summary_row("NSW1", 80), summary_row("SA1", None), summary_row("WEM", 1)),
    )

    result = client.get_current_prices(["nsw1", "SA1", "TAS1"])

    assert list(result.prices) == [Region.NSW1]
    assert result.missing_regions == (Region.SA1, Region.TAS1)
    assert "SA1, TAS1" in caplog.text


def test_price_falls_back_to_summary_prices_and_latest_row_wins(rsps, client):
    rsps.get(
        SUMMARY_URL,
        json=summary(
            summary_row("VIC1", 50, settlement="2025-06-28T16:20:00"),
            {"SETTLEMENTDATE": "2025/06/28 16:25:00", "REGIONID": "VIC1"},
            prices=[{"REGIONID": "VIC1", "RRP": 77.7, "RAISEREGRRP": 1.0}],
        ),
    )

    vic = client.get_current_prices(["VIC1"]).prices[Region.VIC1]

    assert vic.rrp_dollars_per_mwh == Decimal("77.7")
    assert vic.interval_end_utc == datetime(2025, 6, 28, 6, 25, tzinfo=UTC)
    assert vic.price_status is None


def test_unknown_region_is_rejected_before_any_call(rsps, client):
    with pytest.raises(UnknownRegion, match="WA1"):
        client.get_current_prices(["NSW1", "WA1"])
    with pytest.raises(ValueError, match="at least one"):
        client.get_current_prices([])
    assert len(rsps.calls) == 0


def test_normalise_regions_dedupes_and_accepts_a_single_string():
    assert normalise_regions(["qld1", "QLD1", " sa1 "]) == (Region.QLD1, Region.SA1)
    assert normalise_regions("tas1") == (Region.TAS1,)


def test_nem_time_is_utc_plus_10_all_year():
    # 1 January is AEDT (UTC+11) in Sydney, but NEM time stays UTC+10.
    assert parse_nem_time("2025-01-01T00:05:00") == datetime(2024, 12, 31, 14, 5, tzinfo=UTC)
    assert parse_nem_time("2025/07/01 00:00:00") == datetime(2025, 6, 30, 14, 0, tzinfo=UTC)
    assert parse_nem_time("2025-07-01T00:00:00+10:00") == datetime(2025, 6, 30, 14, 0, tzinfo=UTC)


# --- price series (actuals + predispatch forecast) ------------------------------------------


def test_price_series_from_the_recorded_5min_record(rsps, client):
    rows = json.loads((FIXTURES / "5min_record_excerpt_2026-02-27_nsw1.json").read_text())
    rsps.post(
        SERIES_URL,
        json={"5MIN": rows},
        match=[matchers.json_params_matcher({"timeScale": ["30MIN"]})],
    )

    series = client.get_price_series(["NSW1"])

    (point,) = series.points
    assert point.region is Region.NSW1  # the capture names the key REGION, not REGIONID
    assert point.period_type is PeriodType.ACTUAL
    assert point.rrp_dollars_per_mwh == Decimal("73.23171")
    assert point.total_demand_mw == Decimal("8968.00000")
    assert point.interval_end_utc == datetime(2026, 2, 27, 8, 40, tzinfo=UTC)
    assert point.interval_start_utc == datetime(2026, 2, 27, 8, 35, tzinfo=UTC)
    assert point.duration_min == 5
    assert series.missing_regions == ()


def test_price_series_actuals_and_forecasts(rsps, client):
    def row(region: str, when: str, rrp: float, period: str) -> dict:
        return {"SETTLEMENTDATE": when, "REGIONID": region, "RRP": rrp, "PERIODTYPE": period}

    rsps.post(
        SERIES_URL,
        json={
            "5MIN": [
                row("SA1", "2025-06-28T16:20:00", 300.5, "ACTUAL"),
                row("SA1", "2025-06-28T16:25:00", 14500, "ACTUAL"),
                row("SA1", "2025-06-28T17:00:00", 800, "FORECAST"),
                row("SA1", "2025-06-28T17:30:00", 200, "FORECAST"),
                row("QLD1", "2025-06-28T17:00:00", 60, "FORECAST"),
                row("NSW1", "2025-06-28T16:25:00", 91, "ACTUAL"),  # not requested
            ]
        },
    )

    series = client.get_price_series(["SA1", "QLD1", "VIC1"])

    assert series.missing_regions == (Region.VIC1,)
    assert [
        (p.interval_end_utc.hour, p.interval_end_utc.minute) for p in series.actuals("SA1")
    ] == [
        (6, 20),
        (6, 25),
    ]
    forecasts = series.forecasts("sa1")
    assert [p.rrp_dollars_per_mwh for p in forecasts] == [Decimal(800), Decimal(200)]
    assert {p.duration_min for p in forecasts} == {30}
    assert forecasts[0].interval_start_utc == datetime(2025, 6, 28, 6, 30, tzinfo=UTC)
    (qld,) = series.forecasts("QLD1")
    assert qld.duration_min == 30  # a lone forecast row defaults to predispatch's 30 min
    assert [p.region for p in series.points] == [Region.SA1] * 4 + [Region.QLD1]


def test_price_series_204_means_nothing_new(rsps, client):
    rsps.post(SERIES_URL, status=204)
    series = client.get_price_series(["NSW1", "VIC1"])
    assert series.points == ()
    assert series.missing_regions == (Region.NSW1, Region.VIC1)


def test_price_series_rejects_unknown_time_scale(rsps, client):
    with pytest.raises(ValueError, match="time_scale"):
        client.get_price_series(time_scale="1H")


# --- error paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 403])
def test_server_errors_and_blocks_are_unavailable(rsps, client, status):
    rsps.get(SUMMARY_URL, status=status, body="<html>busy</html>")
    with pytest.raises(Unavailable) as caught:
        client.get_current_prices()
    assert caught.value.status_code == status


def test_429_with_retry_after(rsps, client):
    rsps.get(SUMMARY_URL, status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as caught:
        client.get_current_prices()
    assert caught.value.retry_after == 120


def test_429_without_headers_falls_back_to_60_s(rsps, client):
    rsps.get(SUMMARY_URL, status=429)
    with pytest.raises(RateLimited) as caught:
        client.get_current_prices()
    assert caught.value.retry_after == 60


@pytest.mark.parametrize("status", [400, 404])
def test_other_client_errors_are_bad_request(rsps, client, status):
    rsps.post(SERIES_URL, status=status, body="no such report")
    with pytest.raises(BadRequest, match="no such report"):
        client.get_price_series()


def test_timeout_is_unavailable(rsps, client):
    rsps.get(SUMMARY_URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(Unavailable, match="timed out") as caught:
        client.get_current_prices()
    assert caught.value.__cause__ is None


def test_connection_error_is_unavailable(rsps, client):
    rsps.get(SUMMARY_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(Unavailable, match="could not connect"):
        client.get_current_prices()


def test_malformed_json_is_invalid_response(rsps, client):
    rsps.get(SUMMARY_URL, body="<html>maintenance</html>")
    with pytest.raises(InvalidResponse, match="non-JSON"):
        client.get_current_prices()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "expected a JSON object"),
        ({"ELEC_NEM_SUMMARY_PRICES": []}, "expected a JSON array for ELEC_NEM_SUMMARY"),
        (summary("NSW1"), r"ELEC_NEM_SUMMARY\[0\]"),
        (summary({"PRICE": 1, "SETTLEMENTDATE": "2025-06-28T16:25:00"}), "no REGIONID"),
        (summary(summary_row("NSW1", "abc")), "'PRICE' is not a number"),
        (summary(summary_row("NSW1", 1, settlement="yesterday")), "not a NEM timestamp"),
    ],
)
def test_wrong_shape_is_invalid_response(rsps, client, payload, message):
    rsps.get(SUMMARY_URL, json=payload)
    with pytest.raises(InvalidResponse, match=message):
        client.get_current_prices()


def test_price_series_wrong_shape(rsps, client):
    rsps.post(SERIES_URL, json={"5MIN": [{"REGIONID": "NSW1", "RRP": 1, "PERIODTYPE": "MAYBE"}]})
    with pytest.raises(InvalidResponse, match="unknown PERIODTYPE"):
        client.get_price_series()


def test_constructor_validation():
    with pytest.raises(ValueError, match="http"):
        AemoClient(base_url="ftp://aemo")
    assert repr(AemoClient()) == "AemoClient(base_url='https://visualisations.aemo.com.au')"
