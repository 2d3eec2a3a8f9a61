"""AmberClient against recorded and hand-written payloads (HTTP mocked with ``responses``)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from pricing.providers.amber import (
    AmberClient,
    AuthFailed,
    BadRequest,
    ChannelType,
    IntervalType,
    InvalidResponse,
    NotFound,
    RateLimited,
    SpikeStatus,
    Unavailable,
    split_date_range,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "amber"
BASE = "https://amber.test/v1"
TOKEN = "psk_0123456789abcdef_SECRET"
SITE = "01J0SITE0000000000000000AB"
NOW = datetime(2025, 6, 28, 6, 25, 30, tzinfo=UTC)


def load_prices() -> list[dict[str, object]]:
    return json.loads((FIXTURES / "prices_2025-06-28_resolution5.json").read_text())


def make_client(session: requests.Session | None = None) -> AmberClient:
    return AmberClient(
        TOKEN, session=session, base_url=BASE, timeout_s=(1.0, 2.0), clock=lambda: NOW
    )


def interval(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "ActualInterval",
        "date": "2025-06-28",
        "duration": 30,
        "startTime": "2025-06-28T00:00:01Z",
        "endTime": "2025-06-28T00:30:00Z",
        "nemTime": "2025-06-28T10:30:00+10:00",
        "perKwh": 20,
        "renewables": 40.5,
        "spotPerKwh": 8.1,
        "channelType": "general",
        "spikeStatus": "none",
        "descriptor": "low",
    }
    base.update(overrides)
    return base


def usage(**overrides: object) -> dict[str, object]:
    row = interval(type="Usage", channelIdentifier="E1", kwh=0.512, quality="billable", cost=10.24)
    row.update(overrides)
    return row


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client() -> AmberClient:
    return make_client()


# --- sites ----------------------------------------------------------------------------------------


def test_list_sites_parses_spec_shape(rsps, client):
    rsps.get(
        f"{BASE}/sites",
        json=[
            {
                "id": "01F5A5CRKMZ5BCX9P1S4V990AM",
                "nmi": "3052282872",
                "channels": [
                    {"identifier": "E1", "type": "general", "tariff": "A100"},
                    {"identifier": "B1", "type": "feedIn", "tariff": "A100"},
                ],
                "network": "Jemena",
                "status": "active",
                "activeFrom": "2022-01-01",
                "intervalLength": 30,
            }
        ],
        match=[matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"})],
    )

    (site,) = client.list_sites()

    assert site.id == "01F5A5CRKMZ5BCX9P1S4V990AM"
    assert site.nmi == "3052282872"
    assert [(c.identifier, c.type) for c in site.channels] == [
        ("E1", ChannelType.GENERAL),
        ("B1", ChannelType.FEED_IN),
    ]
    assert site.network == "Jemena"
    assert site.status == "active"
    assert site.active_from == date(2022, 1, 1)
    assert site.closed_on is None
    assert site.interval_length_min == 30


# --- prices (real capture) ----------------------------------------------------------------------


def test_get_prices_parses_the_real_capture(rsps, client):
    rsps.get(
        f"{BASE}/sites/{SITE}/prices",
        json=load_prices(),
        match=[
            matchers.query_param_matcher(
                {"startDate": "2025-06-28", "endDate": "2025-06-29", "resolution": "5"}
            )
        ],
    )

    result = client.get_prices(
        SITE, start_date=date(2025, 6, 28), end_date=date(2025, 6, 29), resolution_min=5
    )

    assert len(result) == 532
    counts = Counter((i.channel_type, i.type, i.duration_min) for i in result)
    for channel in (ChannelType.GENERAL, ChannelType.FEED_IN):
        assert counts[(channel, IntervalType.ACTUAL, 5)] == 196
        assert counts[(channel, IntervalType.CURRENT, 5)] == 1
        assert counts[(channel, IntervalType.FORECAST, 5)] == 7
        assert counts[(channel, IntervalType.FORECAST, 30)] == 62
    # Amber's order is kept: all general rows, then all feed-in rows, each by time.
    assert [i.channel_type for i in result[:266]] == [ChannelType.GENERAL] * 266
    assert result[0].start_time == datetime(2025, 6, 27, 14, 0, 1, tzinfo=UTC)

    first = result[0]
    assert first.type is IntervalType.ACTUAL
    assert first.end_time == datetime(2025, 6, 27, 14, 5, tzinfo=UTC)
    assert first.start_time.utcoffset() == timedelta(0)
    assert first.nem_time == datetime(2025, 6, 28, 0, 5, tzinfo=timezone(timedelta(hours=10)))
    assert first.nem_date == date(2025, 6, 28)
    assert first.price_c_per_kwh == Decimal("27.72535")
    assert first.spot_c_per_kwh == Decimal("17.1589")
    assert first.renewables_pct == pytest.approx(9.076290350344728)
    assert first.spike_status is SpikeStatus.NONE
    assert first.descriptor == "veryLow"
    assert first.tariff_information is not None
    assert (first.tariff_information.period, first.tariff_information.season) == (
        "offPeak",
        "winter",
    )
    assert first.estimate is None
    assert first.advanced_price is None

    current = next(i for i in result if i.is_current and i.channel_type is ChannelType.GENERAL)
    assert current.estimate is False
    assert current.price_c_per_kwh == Decimal("67.06283")

    feed_in_current = next(
        i for i in result if i.is_current and i.channel_type is ChannelType.FEED_IN
    )
    assert feed_in_current.price_c_per_kwh == Decimal("-29.86091")  # negative: household earns
    assert feed_in_current.tariff_information is None  # feed-in rows omit the key
    assert feed_in_current.descriptor == "high"

    forecast = next(i for i in result if i.is_forecast)
    assert forecast.advanced_price is not None
    assert forecast.advanced_price.low_c_per_kwh == Decimal("53.07424")
    assert forecast.advanced_price.predicted_c_per_kwh == Decimal("56.55754")
    assert forecast.advanced_price.high_c_per_kwh == Decimal("60.46463")
    last = result[-1]
    assert last.is_forecast
    assert last.duration_min == 30
    assert last.advanced_price is None  # beyond ~24 h ahead
    assert last.nem_date == date(2025, 6, 29)


def test_current_prices_sends_next_previous_resolution_and_parses_range(rsps, client):
    current = interval(
        type="CurrentInterval",
        estimate=True,
        range={"min": 5.5, "max": 60},
        advancedPrice={"low": 10, "predicted": 20.5, "high": 30},
        tariffInformation={"period": "peak", "block": 2, "demandWindow": True},
        spikeStatus="potential",
    )
    rsps.get(
        f"{BASE}/sites/{SITE}/prices/current",
        json=[current],
        match=[matchers.query_param_matcher({"next": "12", "previous": "3", "resolution": "30"})],
    )

    (parsed,) = client.get_current_prices(
        SITE, next_intervals=12, previous_intervals=3, resolution_min=30
    )

    assert parsed.is_current
    assert parsed.estimate is True
    assert parsed.spike_status is SpikeStatus.POTENTIAL
    assert parsed.price_range is not None
    assert (parsed.price_range.min_c_per_kwh, parsed.price_range.max_c_per_kwh) == (
        Decimal("5.5"),
        Decimal(60),
    )
    assert parsed.tariff_information is not None
    assert parsed.tariff_information.block == 2
    assert parsed.tariff_information.demand_window is True
    assert parsed.price_c_per_kwh == Decimal(20)


def test_current_prices_without_options_sends_no_params(rsps, client):
    rsps.get(
        f"{BASE}/sites/{SITE}/prices/current",
        json=[],
        match=[matchers.query_param_matcher({})],
    )
    assert client.get_current_prices(SITE) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resolution_min": 15}, "resolution_min must be 5 or 30"),
        ({"next_intervals": 2000, "previous_intervals": 49}, "<= 2048"),
        ({"next_intervals": -1}, ">= 0"),
    ],
)
def test_current_prices_rejects_invalid_arguments_without_calling(rsps, client, kwargs, message):
    with pytest.raises(ValueError, match=message):
        client.get_current_prices(SITE, **kwargs)
    assert len(rsps.calls) == 0


def test_current_prices_accepts_exactly_2048(rsps, client):
    rsps.get(
        f"{BASE}/sites/{SITE}/prices/current",
        json=[],
        match=[matchers.query_param_matcher({"next": "2000", "previous": "48"})],
    )
    assert client.get_current_prices(SITE, next_intervals=2000, previous_intervals=48) == []


# --- 7-day split ---------------------------------------------------------------------------


def test_split_date_range_chunks_of_seven_inclusive_days():
    assert split_date_range(date(2025, 6, 1), date(2025, 6, 16)) == [
        (date(2025, 6, 1), date(2025, 6, 7)),
        (date(2025, 6, 8), date(2025, 6, 14)),
        (date(2025, 6, 15), date(2025, 6, 16)),
    ]
    assert split_date_range(date(2025, 6, 1), date(2025, 6, 7)) == [
        (date(2025, 6, 1), date(2025, 6, 7))
    ]
    assert split_date_range(date(2025, 6, 1), date(2025, 6, 1)) == [
        (date(2025, 6, 1), date(2025, 6, 1))
    ]
    with pytest.raises(ValueError, match="before start_date"):
        split_date_range(date(2025, 6, 2), date(2025, 6, 1))


def test_get_prices_splits_long_ranges_and_merges_without_duplicates(rsps, client):
    def at(day: int, hour: int, **overrides: object) -> dict[str, object]:
        start = datetime(2025, 6, day, hour, 0, 1, tzinfo=UTC)
        end = start + timedelta(minutes=29, seconds=59)
        return interval(
            startTime=start.isoformat().replace("+00:00", "Z"),
            endTime=end.isoformat().replace("+00:00", "Z"),
            **overrides,
        )

    url = f"{BASE}/sites/{SITE}/prices"
    rsps.get(
        url,
        json=[at(1, 0), at(7, 13), at(7, 13, channelType="feedIn", perKwh=-5)],
        match=[matchers.query_param_matcher({"startDate": "2025-06-01", "endDate": "2025-06-07"})],
    )
    rsps.get(
        url,
        # The boundary interval is returned again, settled; the forecast copy must lose.
        json=[at(7, 13, type="ForecastInterval", perKwh=99), at(9, 2)],
        match=[matchers.query_param_matcher({"startDate": "2025-06-08", "endDate": "2025-06-14"})],
    )
    rsps.get(
        url,
        json=[at(15, 4, type="ForecastInterval")],
        match=[matchers.query_param_matcher({"startDate": "2025-06-15", "endDate": "2025-06-16"})],
    )

    result = client.get_prices(SITE, start_date=date(2025, 6, 1), end_date=date(2025, 6, 16))

    assert len(rsps.calls) == 3
    assert [(i.channel_type, i.start_time.day, i.type) for i in result] == [
        (ChannelType.GENERAL, 1, IntervalType.ACTUAL),
        (ChannelType.GENERAL, 7, IntervalType.ACTUAL),
        (ChannelType.GENERAL, 9, IntervalType.ACTUAL),
        (ChannelType.GENERAL, 15, IntervalType.FORECAST),
        (ChannelType.FEED_IN, 7, IntervalType.ACTUAL),
    ]
    assert result[1].price_c_per_kwh == Decimal(20)


def test_get_usage_splits_and_parses(rsps, client):
    url = f"{BASE}/sites/{SITE}/usage"
    rsps.get(
        url,
        json=[usage(), usage(channelIdentifier="B1", channelType="feedIn", kwh=-1.25, cost=-3.5)],
        match=[matchers.query_param_matcher({"startDate": "2025-05-01", "endDate": "2025-05-07"})],
    )
    rsps.get(
        url,
        json=[usage()],  # same interval again: deduplicated
        match=[matchers.query_param_matcher({"startDate": "2025-05-08", "endDate": "2025-05-10"})],
    )

    result = client.get_usage(SITE, start_date=date(2025, 5, 1), end_date=date(2025, 5, 10))

    assert [(u.channel_identifier, u.kwh, u.cost_c) for u in result] == [
        ("E1", Decimal("0.512"), Decimal("10.24")),
        ("B1", Decimal("-1.25"), Decimal("-3.5")),
    ]
    assert result[0].quality == "billable"
    assert result[0].start_time == datetime(2025, 6, 28, 0, 0, 1, tzinfo=UTC)


# --- rate limits ---------------------------------------------------------------------------


def test_rate_limit_headers_are_recorded(rsps, client):
    assert client.rate_limit is None
    rsps.get(
        f"{BASE}/sites",
        json=[],
        headers={
            "RateLimit-Limit": "50",
            "RateLimit-Remaining": "49",
            "RateLimit-Reset": "180",
            "RateLimit-Policy": "50;w=300",
        },
    )

    client.list_sites()

    status = client.rate_limit
    assert status is not None
    assert status.limit == 50
    assert status.remaining == 49
    assert status.reset_at == NOW + timedelta(seconds=180)
    assert status.window_s == 300
    assert status.policy == "50;w=300"
    assert status.seconds_until_reset(NOW + timedelta(seconds=30)) == 150
    assert status.seconds_until_reset(NOW + timedelta(hours=1)) == 0


def test_rate_limit_kept_when_a_response_has_no_headers(rsps, client):
    rsps.get(f"{BASE}/sites", json=[], headers={"RateLimit-Remaining": "7"})
    rsps.get(f"{BASE}/sites", json=[])
    client.list_sites()
    client.list_sites()
    assert client.rate_limit is not None
    assert client.rate_limit.remaining == 7
    assert client.rate_limit.limit is None


# --- error paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures(rsps, client, status):
    rsps.get(f"{BASE}/sites", status=status, body="")
    with pytest.raises(AuthFailed) as caught:
        client.list_sites()
    assert caught.value.status_code == status


def test_not_found(rsps, client):
    rsps.get(f"{BASE}/sites/{SITE}/prices/current", status=404, json={"message": "Site not found"})
    with pytest.raises(NotFound, match="Site not found") as caught:
        client.get_current_prices(SITE)
    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, {"message": "Requested date range is greater than 7 days"}),
        (400, {"error": "Requested date range is greater than 7 days"}),
    ],
)
def test_bad_request_carries_the_message(rsps, client, status, body):
    rsps.get(f"{BASE}/sites/{SITE}/prices", status=status, json=body)
    with pytest.raises(BadRequest, match="greater than 7 days") as caught:
        client.get_prices(SITE, start_date=date(2025, 6, 1), end_date=date(2025, 6, 2))
    assert caught.value.status_code == status


def test_bad_request_with_plain_text_body(rsps, client):
    rsps.get(f"{BASE}/sites", status=400, body="bad   things\nhappened")
    with pytest.raises(BadRequest, match="HTTP 400\\): bad things happened"):
        client.list_sites()


def test_429_uses_ratelimit_reset(rsps, client):
    rsps.get(
        f"{BASE}/sites",
        status=429,
        headers={"RateLimit-Limit": "50", "RateLimit-Remaining": "0", "RateLimit-Reset": "42"},
    )
    with pytest.raises(RateLimited) as caught:
        client.list_sites()
    assert caught.value.retry_after == 42
    assert caught.value.status_code == 429
    assert client.rate_limit is not None
    assert client.rate_limit.remaining == 0


def test_429_uses_retry_after_seconds_or_http_date(rsps, client):
    rsps.get(f"{BASE}/sites", status=429, headers={"Retry-After": "17"})
    rsps.get(
        f"{BASE}/sites",
        status=429,
        headers={"Retry-After": "Sat, 28 Jun 2025 06:27:00 GMT"},  # NOW + 90 s
    )
    with pytest.raises(RateLimited) as first:
        client.list_sites()
    with pytest.raises(RateLimited) as second:
        client.list_sites()
    assert first.value.retry_after == 17
    assert second.value.retry_after == 90


def test_429_takes_the_larger_of_both_headers(rsps, client):
    rsps.get(f"{BASE}/sites", status=429, headers={"Retry-After": "5", "RateLimit-Reset": "30"})
    with pytest.raises(RateLimited) as caught:
        client.list_sites()
    assert caught.value.retry_after == 30


def test_429_without_headers_falls_back_to_60_s(rsps, client):
    rsps.get(f"{BASE}/sites", status=429)
    with pytest.raises(RateLimited) as caught:
        client.list_sites()
    assert caught.value.retry_after == 60


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_unavailable(rsps, client, status):
    rsps.get(f"{BASE}/sites", status=status, body="<html>oops</html>")
    with pytest.raises(Unavailable) as caught:
        client.list_sites()
    assert caught.value.status_code == status


@pytest.mark.parametrize(
    "exc",
    [requests.ReadTimeout("read timed out"), requests.ConnectTimeout("connect timed out")],
)
def test_timeouts_are_unavailable(rsps, client, exc):
    rsps.get(f"{BASE}/sites", body=exc)
    with pytest.raises(Unavailable, match="timed out") as caught:
        client.list_sites()
    assert caught.value.status_code is None
    assert caught.value.__cause__ is None


def test_connection_error_is_unavailable(rsps, client):
    rsps.get(f"{BASE}/sites", body=requests.ConnectionError("Name or service not known"))
    with pytest.raises(Unavailable, match="could not connect"):
        client.list_sites()


def test_other_request_exceptions_are_unavailable(rsps, client):
    rsps.get(f"{BASE}/sites", body=requests.exceptions.ChunkedEncodingError("broken"))
    with pytest.raises(Unavailable):
        client.list_sites()


def test_every_call_has_the_configured_timeout():
    class RecordingSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.timeouts: list[object] = []

        def get(self, url, **kwargs):
            self.timeouts.append(kwargs.get("timeout"))
            raise requests.ConnectTimeout("no network in tests")

    session = RecordingSession()
    with pytest.raises(Unavailable):
        make_client(session).list_sites()
    assert session.timeouts == [(1.0, 2.0)]


def test_malformed_json_is_invalid_response(rsps, client):
    rsps.get(f"{BASE}/sites", body="[{not json", content_type="application/json")
    with pytest.raises(InvalidResponse, match="non-JSON"):
        client.list_sites()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"data": []}, "expected a JSON array"),
        ([42], "item 0: expected a JSON object"),
        ([interval(perKwh=None)], "item 0: missing field 'perKwh'"),
        ([interval(), interval(channelType="solar")], "item 1: field 'channelType' has unknown"),
        ([interval(type="Mystery")], "field 'type' has unknown value"),
        ([interval(startTime="2025-06-28T00:00:01")], "'startTime' has no UTC offset"),
        ([interval(duration="30")], "'duration' is not a positive integer"),
        ([interval(perKwh="20")], "'perKwh' is not a number"),
        ([interval(type="CurrentInterval")], "missing field 'estimate'"),
        ([interval(advancedPrice={"low": 1, "high": 2})], "missing field 'predicted'"),
    ],
)
def test_wrong_shape_is_invalid_response(rsps, client, payload, message):
    rsps.get(f"{BASE}/sites/{SITE}/prices/current", json=payload)
    with pytest.raises(InvalidResponse, match=message):
        client.get_current_prices(SITE)


# --- secrets, construction, framework independence ----------------------------------------------


def test_token_never_in_logs_exceptions_or_reprs(rsps, client, caplog):
    caplog.set_level(logging.DEBUG)
    rsps.get(f"{BASE}/sites", status=401, json={"message": f"bad token {TOKEN}"})
    rsps.get(f"{BASE}/sites", status=422, json={"message": f"token {TOKEN} is wrong"})
    rsps.get(f"{BASE}/sites", status=429)
    rsps.get(f"{BASE}/sites", status=500, body=TOKEN)
    rsps.get(f"{BASE}/sites", body=requests.ConnectionError(f"failed with {TOKEN}"))
    rsps.get(f"{BASE}/sites", body="not json")
    rsps.get(f"{BASE}/sites", json=[{"id": 1}])

    texts = [repr(client)]
    for _ in range(7):
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any AmberError; checked below
            client.list_sites()
        texts += [str(caught.value), repr(caught.value)]
        assert type(caught.value).__module__ == "pricing.providers.amber.errors"

    assert "***" in " ".join(texts)  # the echoed token was masked, not dropped silently
    for text in [*texts, caplog.text]:
        assert TOKEN not in text
    assert any("amber GET /sites" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("",), {}),
        ((TOKEN,), {"base_url": "api.amber.com.au/v1"}),
        ((TOKEN,), {"timeout_s": (0, 5)}),
    ],
)
def test_constructor_validation(args, kwargs):
    with pytest.raises(ValueError):  # noqa: PT011
        AmberClient(*args, **kwargs)


def test_default_base_url_and_path_quoting(rsps):
    rsps.get("https://api.amber.com.au/v1/sites/a%2Fb/prices/current", json=[])
    assert AmberClient(TOKEN).get_current_prices("a/b") == []
    assert AmberClient(TOKEN).base_url == "https://api.amber.com.au/v1"


def test_provider_packages_do_not_import_django():
    code = (
        "import sys, pricing.providers.amber, pricing.providers.aemo; "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
