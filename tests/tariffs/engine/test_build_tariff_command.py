"""``manage.py build_tariff``: the stable command-line interface (no database needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.tariffs.engine.test_amber import FIXTURE, GOLDEN_DIR
from tests.tariffs.engine.test_flow_power import aemo_rows

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("build_tariff", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def rates(content: dict[str, Any], side: str) -> dict[str, Decimal]:
    block = content if side == "buy" else content["sell_tariff"]
    raw = block["energy_charges"]["Summer"]["rates"]
    return {name: Decimal(str(value)) for name, value in raw.items()}


@pytest.mark.parametrize(
    ("golden", "zone", "now"),
    [
        ("brisbane_1625", "Australia/Brisbane", "2025-06-28T16:25:00+10:00"),
        ("sydney_1625", "Australia/Sydney", "2025-06-28T16:25:00+10:00"),
        ("melbourne_1640", "Australia/Melbourne", "2025-06-28T16:40:00+10:00"),
        ("hobart_1625", "Australia/Hobart", "2025-06-28T16:25:00+10:00"),
        ("adelaide_1555", "Australia/Adelaide", "2025-06-28T15:55:00+09:30"),
        ("darwin_1610", "Australia/Darwin", "2025-06-28T16:10:00+09:30"),
        ("perth_1425", "Australia/Perth", "2025-06-28T14:25:00+08:00"),
    ],
)
def test_amber_fixture_in_every_zone_prints_tariff_content_v2(
    golden: str, zone: str, now: str
) -> None:
    out, _ = run("--amber-json", str(FIXTURE), "--timezone", zone, "--now", now)
    content = json.loads(out)
    expected = json.loads((GOLDEN_DIR / f"amber_{golden}.json").read_text())
    assert content["currency"] == "AUD"
    assert {k: str(v) for k, v in rates(content, "buy").items()} == {
        k: str(Decimal(v)) for k, v in expected["buy_dollars_per_kwh"].items()
    }
    assert rates(content, "sell") == {
        k: Decimal(v) for k, v in expected["sell_dollars_per_kwh"].items()
    }


def test_hand_computed_value_reaches_the_json() -> None:
    # PERIOD_16_00 at 16:25 AEST: 346.10726 / 6 = 57.6845433 c -> 0.5768 (see test_amber)
    out, _ = run(
        "--amber-json",
        str(FIXTURE),
        "--timezone",
        "Australia/Brisbane",
        "--now",
        "2025-06-28T16:25:00+10:00",
    )
    content = json.loads(out)
    assert content["energy_charges"]["Summer"]["rates"]["PERIOD_16_00"] == 0.5768
    assert content["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_16_00"] == 0.2134


def test_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "site.json"
    settings.write_text(json.dumps({"export_boost": True, "export_boost_min_c_per_kwh": 30}))
    out, err = run(
        "--amber-json",
        str(FIXTURE),
        "--timezone",
        "Australia/Brisbane",
        "--now",
        "2025-06-28T16:25:00+10:00",
        "--settings",
        str(settings),
    )
    sell = json.loads(out)["sell_tariff"]["energy_charges"]["Summer"]["rates"]
    assert sell["PERIOD_17_00"] == 0.3  # 25.32... c < 30 c floor
    assert "adjusted: PERIOD_17_00 sell: export_boost 0.2532 -> 0.3 $/kWh" in err


def test_table_view() -> None:
    out, _ = run(
        "--amber-json",
        str(FIXTURE),
        "--timezone",
        "Australia/Brisbane",
        "--now",
        "2025-06-28T16:25:00+10:00",
        "--table",
    )
    lines = out.splitlines()
    assert lines[0].split() == ["period", "buy", "$/kWh", "sell", "$/kWh", "source"]
    assert len([line for line in lines if line.startswith("PERIOD_")]) == 48
    row = next(line for line in lines if line.startswith("PERIOD_16_00"))
    assert row.split()[:3] == ["PERIOD_16_00", "0.5768", "0.2134"]
    assert "buy: 4xA5m+1xC5m+1xF5m" in row


def test_stale_data_is_refused_with_the_reason() -> None:
    with pytest.raises(CommandError, match="refused: stale prices") as excinfo:
        run(
            "--amber-json",
            str(FIXTURE),
            "--timezone",
            "Australia/Brisbane",
            "--now",
            "2025-06-28T18:25:00+10:00",
        )
    assert excinfo.value.returncode == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timezone", "Mars/Olympus", "--now", "2025-06-28T16:25:00+10:00"], "unknown time zone"),
        (["--timezone", "Australia/Sydney", "--now", "2025-06-28T16:25:00"], "UTC offset"),
        (["--timezone", "Australia/Sydney"], "--timezone and --now are required"),
    ],
)
def test_bad_arguments(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as excinfo:
        run("--amber-json", str(FIXTURE), *args)
    assert excinfo.value.returncode == 2


def test_bad_settings_key(tmp_path: Path) -> None:
    settings = tmp_path / "site.json"
    settings.write_text('{"spike": true}')
    with pytest.raises(CommandError, match="unknown settings key"):
        run(
            "--amber-json",
            str(FIXTURE),
            "--timezone",
            "Australia/Brisbane",
            "--now",
            "2025-06-28T16:25:00+10:00",
            "--settings",
            str(settings),
        )


def test_flow_power(tmp_path: Path) -> None:
    path = tmp_path / "aemo.json"
    path.write_text(json.dumps(aemo_rows(region="QLD1")))
    out, _ = run(
        "--aemo-json",
        str(path),
        "--network",
        "energex",
        "--tariff",
        "6900",
        "--timezone",
        "Australia/Brisbane",
        "--now",
        "2025-06-28T16:25:00+10:00",
    )
    content = json.loads(out)
    # see test_flow_power.test_automatic_mode_uses_aemo_to_tariff: 32.22290904 c -> 0.3222
    assert content["energy_charges"]["Summer"]["rates"]["PERIOD_17_30"] == 0.3222
    assert content["sell_tariff"]["energy_charges"]["Summer"]["rates"]["PERIOD_18_00"] == 0.45


def test_flow_power_unknown_tariff_code(tmp_path: Path) -> None:
    path = tmp_path / "aemo.json"
    path.write_text(json.dumps(aemo_rows(region="NSW1")))
    with pytest.raises(CommandError, match="not known for network 'ausgrid'") as excinfo:
        run(
            "--aemo-json",
            str(path),
            "--network",
            "ausgrid",
            "--tariff",
            "NOPE",
            "--timezone",
            "Australia/Sydney",
            "--now",
            "2025-06-28T16:25:00+10:00",
        )
    assert excinfo.value.returncode == 2


def test_flow_power_manual(tmp_path: Path) -> None:
    path = tmp_path / "aemo.json"
    path.write_text(json.dumps(aemo_rows(region="QLD1")))
    manual = tmp_path / "network.json"
    manual.write_text('{"flat_c_per_kwh": 10}')
    out, _ = run(
        "--aemo-json",
        str(path),
        "--manual-network",
        str(manual),
        "--other-fees",
        "2",
        "--timezone",
        "Australia/Brisbane",
        "--now",
        "2025-06-28T16:25:00+10:00",
    )
    # (10 + 10 + 2) * 1.1 = 24.2 c
    assert json.loads(out)["energy_charges"]["Summer"]["rates"]["PERIOD_00_00"] == 0.242


def test_shell_invocation_exit_status_and_site_settings(tmp_path: Path) -> None:
    """Through manage.py in a subprocess, as documented: exit codes and --settings FILE
    (manage.py hands it to the command as --site-settings, so Django does not read it)."""
    settings = tmp_path / "site.json"
    settings.write_text('{"forecast_type": "low"}')
    base = [
        sys.executable,
        "manage.py",
        "build_tariff",
        "--amber-json",
        str(FIXTURE),
        "--timezone",
        "Australia/Brisbane",
    ]
    ok = subprocess.run(
        [*base, "--now", "2025-06-28T16:25:00+10:00", "--settings", str(settings)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    # low: (289.54972 + 53.07424) / 6 = 57.1039933 c -> 0.571
    assert json.loads(ok.stdout)["energy_charges"]["Summer"]["rates"]["PERIOD_16_00"] == 0.571
    refused = subprocess.run(
        [*base, "--now", "2025-06-28T20:00:00+10:00"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 3
    assert refused.stdout == ""
    assert "refused: stale prices" in refused.stderr


CUSTOM = Path(__file__).resolve().parent / "data/custom_schedule_example.json"


def test_custom_schedule_json() -> None:
    out, _ = run("--custom", str(CUSTOM))
    content = json.loads(out)
    assert content["code"] == "EXAMPLE_TOU"
    # Summer PEAK buy 52.8 c/kWh in the example file -> $0.528
    assert content["energy_charges"]["Summer"]["rates"]["PEAK"] == 0.528


def test_custom_schedule_table() -> None:
    # 2026-01-05 is a Monday in summer: 14:00-20:00 weekdays is PEAK at 52.8 c -> 0.528;
    # 22:00-07:00 OFF_PEAK 22.1 c -> 0.221 (trailing zero dropped, as in the JSON)
    out, _ = run(
        "--custom",
        str(CUSTOM),
        "--table",
        "--timezone",
        "Australia/Sydney",
        "--now",
        "2026-01-05T10:00:00+11:00",
    )
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[1:]}
    assert len(rows) == 48
    assert rows["PERIOD_14_00"] == ["0.528", "0.065"]
    assert rows["PERIOD_00_00"] == ["0.221", "0.02"]


def test_manage_py_passes_settings_to_build_tariff_not_to_django():
    import manage

    argv = ["manage.py", "build_tariff", "--amber-json", "x.json", "--settings", "site.json"]
    assert manage.command_argv(argv)[-2:] == ["--site-settings", "site.json"]
    assert manage.command_argv(["manage.py", "build_tariff", "--settings=s.json"])[-1] == (
        "--site-settings=s.json"
    )
    other = ["manage.py", "migrate", "--settings", "powersync_site.settings"]
    assert manage.command_argv(other) == other
