"""Amber REST as the simulator serves it, compared with the real capture in tests/fixtures."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

FIXTURE = Path(__file__).parents[1] / "fixtures" / "amber" / "prices_2025-06-28_resolution5.json"


def _get(urls: dict[str, str], household: dict[str, Any], path: str, **params: Any) -> Any:
    return requests.get(
        f"{urls['amber']}{path}",
        params=params,
        headers={"Authorization": f"Bearer {household['amber_token']}"},
        timeout=5,
    )


def _prices_path(household: dict[str, Any], suffix: str = "") -> str:
    return f"/sites/{household['amber_site_id']}/prices{suffix}"


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def test_sites_lists_only_the_callers_site(urls, households):
    household = households[0]
    reply = _get(urls, household, "/sites")
    assert reply.status_code == 200
    sites = reply.json()
    assert [s["id"] for s in sites] == [household["amber_site_id"]]
    site = sites[0]
    assert set(site) == {
        "id",
        "nmi",
        "channels",
        "network",
        "status",
        "activeFrom",
        "intervalLength",
    }
    assert 10 <= len(site["nmi"]) <= 11
    assert [c["type"] for c in site["channels"]] == ["general", "feedIn"]
    assert site["intervalLength"] in (5, 30)
    assert len(site["id"]) == 26


def test_prices_match_the_real_capture_in_counts_and_shapes(urls, households):
    """At the capture's moment, the same call returns the same structure as the real response."""
    real = json.loads(FIXTURE.read_text())
    reply = _get(
        urls,
        households[1],
        _prices_path(households[1]),
        startDate="2025-06-28",
        endDate="2025-06-29",
        resolution=5,
    )
    assert reply.status_code == 200
    ours = reply.json()

    def census(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
        return Counter(
            (r["channelType"], r["type"], r["duration"], "advancedPrice" in r) for r in rows
        )

    assert census(ours) == census(real)
    assert len(ours) == 532
    assert [r["channelType"] for r in ours] == [r["channelType"] for r in real]
    assert [r["nemTime"] for r in ours] == [r["nemTime"] for r in real]
    assert [(r["startTime"], r["endTime"], r["date"]) for r in ours] == [
        (r["startTime"], r["endTime"], r["date"]) for r in real
    ]
    # Every row has the real row's keys and value types (nested objects included).
    for mine, theirs in zip(ours, real, strict=True):
        assert _shape(mine).keys() == _shape(theirs).keys(), theirs["nemTime"]
        for key in theirs:
            if key == "tariffInformation":
                assert mine[key].keys() == theirs[key].keys()
            else:
                assert _shape(mine[key]) == _shape(theirs[key]), key


def test_interval_times_follow_amber_conventions(urls, households):
    rows = _get(
        urls,
        households[0],
        _prices_path(households[0], "/current"),
        next=12,
        previous=12,
        resolution=5,
    ).json()
    for row in rows:
        start = datetime.fromisoformat(row["startTime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(row["endTime"].replace("Z", "+00:00"))
        nem = datetime.fromisoformat(row["nemTime"])
        assert row["nemTime"].endswith("+10:00")
        assert nem == end
        assert end - start == timedelta(minutes=row["duration"], seconds=-1)
        assert row["channelType"] in ("general", "feedIn")
        assert ("tariffInformation" in row) == (row["channelType"] == "general")
    general = [r for r in rows if r["channelType"] == "general"]
    assert rows[: len(general)] == general  # general first, then feedIn


def test_labels_move_with_the_simulated_clock(urls, households):
    household = households[0]
    path = _prices_path(household, "/current")
    control = urls["control"]

    def current(**params: Any) -> list[dict[str, Any]]:
        return [
            r for r in _get(urls, household, path, **params).json() if r["channelType"] == "general"
        ]

    requests.post(f"{control}/clock", json={"now": "2025-06-28T10:00:10+10:00"}, timeout=5)
    rows = current(previous=2, next=2, resolution=5)
    assert [r["type"] for r in rows] == [
        "ActualInterval",
        "ActualInterval",
        "CurrentInterval",
        "ForecastInterval",
        "ForecastInterval",
    ]
    cur = rows[2]
    assert cur["nemTime"] == "2025-06-28T10:05:00+10:00"
    assert cur["estimate"] is True  # 10 s into the interval: not settled yet
    assert "advancedPrice" in cur
    assert all("advancedPrice" not in r for r in rows[:2])
    assert all("advancedPrice" in r for r in rows[3:])

    requests.post(f"{control}/clock", json={"now": "2025-06-28T10:01:00+10:00"}, timeout=5)
    settled = current(resolution=5)[0]
    assert settled["type"] == "CurrentInterval"
    assert settled["estimate"] is False

    requests.post(f"{control}/clock", json={"now": "2025-06-28T10:05:30+10:00"}, timeout=5)
    rows = current(previous=1, resolution=5)
    assert rows[0]["type"] == "ActualInterval"
    assert rows[0]["nemTime"] == "2025-06-28T10:05:00+10:00"
    assert rows[1]["nemTime"] == "2025-06-28T10:10:00+10:00"


def test_thirty_minute_resolution(urls, households):
    rows = _get(
        urls,
        households[2],
        _prices_path(households[2], "/current"),
        next=4,
        previous=2,
        resolution=30,
    ).json()
    assert len(rows) == 14
    assert {r["duration"] for r in rows} == {30}
    general = rows[:7]
    assert [r["type"] for r in general] == (
        ["ActualInterval"] * 2 + ["CurrentInterval"] + ["ForecastInterval"] * 4
    )
    assert general[2]["nemTime"] == "2025-06-28T16:30:00+10:00"
    assert general[2]["estimate"] is True  # 16:24: not in the half-hour's last 5 minutes yet
    assert all(r["channelType"] == "feedIn" for r in rows[7:])
    # Feed-in is what the customer pays to export: negative on a normal winter afternoon.
    assert all(r["perKwh"] < 0 for r in rows[7:])


@pytest.mark.parametrize(
    ("suffix", "params", "status"),
    [
        ("/current", {"resolution": 15}, 400),
        ("/current", {"next": "abc"}, 400),
        ("/current", {"next": -1}, 400),
        ("/current", {"next": 2000, "previous": 49}, 422),
        ("", {"startDate": "2025-06-01", "endDate": "2025-06-09"}, 422),
        ("", {"startDate": "2025-06-09", "endDate": "2025-06-01"}, 400),
        ("", {"startDate": "28/06/2025"}, 400),
    ],
)
def test_price_query_validation(urls, households, suffix, params, status):
    household = households[0]
    assert _get(urls, household, _prices_path(household, suffix), **params).status_code == status


def test_auth_and_site_isolation(urls, households):
    first, second = households[0], households[1]
    no_token = requests.get(f"{urls['amber']}/sites", timeout=5)
    assert no_token.status_code == 401
    forged = dict(first, amber_token=first["amber_token"][:-1] + "x")
    assert _get(urls, forged, "/sites").status_code == 401
    # A valid token cannot read another household's site.
    assert _get(urls, first, _prices_path(second, "/current")).status_code == 404
    assert (
        _get(
            urls,
            first,
            f"/sites/{second['amber_site_id']}/usage",
            startDate="2025-06-27",
            endDate="2025-06-27",
        ).status_code
        == 404
    )
    assert _get(urls, first, "/sites/NOTASITE/prices/current").status_code == 404


def test_rate_limit_headers_and_429(urls, households):
    household = households[5]
    requests.post(
        f"{urls['control']}/rate-limits",
        json={"amber": {"enabled": True, "limit": 3, "window_s": 300}},
        timeout=5,
    )
    replies = [_get(urls, household, "/sites") for _ in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in replies[:3]] == ["2", "1", "0"]
    assert replies[0].headers["RateLimit-Limit"] == "3"
    assert replies[0].headers["RateLimit-Policy"] == "3;w=300"
    assert 0 < int(replies[3].headers["RateLimit-Reset"]) <= 300
    # Another token has its own budget.
    assert _get(urls, households[6], "/sites").status_code == 200


def test_usage_requires_dates_and_returns_billing_intervals(urls, households):
    household = households[0]
    path = f"/sites/{household['amber_site_id']}/usage"
    assert _get(urls, household, path).status_code == 400
    rows = _get(urls, household, path, startDate="2025-06-27", endDate="2025-06-27").json()
    per_channel = 1440 // household["interval_length"]
    assert len(rows) == 2 * per_channel
    general, feed_in = rows[:per_channel], rows[per_channel:]
    assert {r["channelIdentifier"] for r in general} == {"E1"}
    assert {r["channelIdentifier"] for r in feed_in} == {"B1"}
    assert all(r["type"] == "Usage" and r["kwh"] >= 0 for r in general)
    assert all(r["kwh"] <= 0 for r in feed_in)  # generation is negative
    assert {r["quality"] for r in rows} <= {"billable", "estimated"}
    assert any(r["kwh"] < 0 for r in feed_in)  # the sun shone at some point
