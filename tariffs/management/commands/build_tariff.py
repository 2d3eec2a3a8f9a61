"""``manage.py build_tariff``: build the Tesla tariff a site would get at ``--now``, offline.

    build_tariff --amber-json FILE --timezone ZONE --now ISO8601 [--settings FILE] [--table]
    (from a shell: --site-settings FILE, see the note in add_arguments)
    build_tariff --aemo-json FILE (--network N --tariff CODE | --manual-network FILE)
                 --timezone ZONE --now ISO8601 [--other-fees C] [--settings FILE] [--table]
    build_tariff --custom FILE [--table --timezone ZONE --now ISO8601]

Prints ``tariff_content_v2`` JSON on stdout (notes and adjustments go to stderr), or with
``--table`` a 48-row view (period, buy, sell, source). Exit status: 0 built; 2 bad input or
configuration; 3 refused (stale or missing prices: must not be pushed), the reason on stderr.
The command only parses arguments, calls the engine and prints.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tariffs.engine.adjustments import round_dollars_per_kwh
from tariffs.engine.amber import build_amber_rates, parse_amber_intervals
from tariffs.engine.custom_tou import half_hour_rates_for, schedule_from_dict
from tariffs.engine.flow_power import (
    FlowPowerPlan,
    ManualNetwork,
    build_flow_power_rates,
    parse_aemo_prices,
)
from tariffs.engine.freshness import Built, Refused
from tariffs.engine.model import HalfHourRates, period_name
from tariffs.engine.settings import TariffSettings
from tariffs.engine.tesla_format import (
    render_custom_tariff,
    render_half_hour_tariff,
    validate_tariff_content_v2,
)

EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3


def _read_json(path: str) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class Command(BaseCommand):
    help = "Build a Tesla tariff_content_v2 from Amber, AEMO/Flow Power or a custom TOU schedule."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # "resolve" lets add_arguments replace Django's --settings (see there).
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--amber-json", help="Amber /prices or /prices/current JSON array")
        source.add_argument("--aemo-json", help="AEMO 5MIN report rows (one region)")
        source.add_argument("--custom", help="custom TOU schedule JSON (custom_tou's JSON form)")
        parser.add_argument("--timezone", help="site time zone, e.g. Australia/Sydney")
        parser.add_argument("--now", help="ISO 8601 instant with a UTC offset")
        # Django's own --settings (the settings module) is replaced here so that call_command and
        # the stable interface can pass a tariff-settings FILE. From a shell, Django's
        # ManagementUtility reads --settings before any command is loaded, so manage.py only gets
        # it through --site-settings (or a manage.py that maps one to the other).
        parser.add_argument(
            "--settings",
            "--site-settings",
            dest="site_settings",
            help="JSON object of the site's tariff options (see tariffs.engine.settings)",
        )
        parser.set_defaults(settings=None)  # BaseCommand.run_from_argv reads options.settings
        parser.add_argument("--network", help="Flow Power: distribution network (aemo_to_tariff)")
        parser.add_argument("--tariff", help="Flow Power: network tariff code from the bill")
        parser.add_argument("--manual-network", help="Flow Power: JSON of manual network rates")
        parser.add_argument("--other-fees", type=float, default=0.0, help="Flow Power c/kWh ex-GST")
        parser.add_argument("--plan-name", help="tariff name shown in the Tesla app")
        parser.add_argument("--utility", help="utility shown in the Tesla app")
        parser.add_argument("--table", action="store_true", help="print a 48-row table instead")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["custom"]:
                self._custom(options)
                return
            zone, now = self._zone_and_now(options)
            settings = (
                TariffSettings.from_json(_read_json(options["site_settings"]))
                if options["site_settings"]
                else TariffSettings()
            )
            if options["amber_json"]:
                result = build_amber_rates(
                    parse_amber_intervals(_read_json(options["amber_json"])),
                    zone=zone,
                    now=now,
                    settings=settings,
                    explain=options["table"],
                )
                plan_name, utility = "Amber Electric (PowerSync)", "Amber Electric"
            else:
                manual = options["manual_network"]
                plan = FlowPowerPlan(
                    network=None if manual else options["network"],
                    tariff_code=None if manual else options["tariff"],
                    manual=ManualNetwork.from_json(_read_json(manual)) if manual else None,
                    other_fees_c_per_kwh=options["other_fees"],
                )
                result = build_flow_power_rates(
                    parse_aemo_prices(_read_json(options["aemo_json"])),
                    plan=plan,
                    zone=zone,
                    now=now,
                    settings=settings,
                    explain=options["table"],
                )
                plan_name, utility = "Flow Power (PowerSync)", "Flow Power"
        except (OSError, ValueError) as error:  # every engine/input error is a ValueError subclass
            raise CommandError(str(error), returncode=EXIT_BAD_INPUT) from error

        if isinstance(result, Refused):
            raise CommandError(f"refused: {result.reason}", returncode=EXIT_REFUSED)
        self._emit(result, options, plan_name, utility)

    def _zone_and_now(self, options: dict[str, Any]) -> tuple[ZoneInfo, datetime]:
        if not options["timezone"] or not options["now"]:
            raise CommandError("--timezone and --now are required", returncode=EXIT_BAD_INPUT)
        try:
            zone = ZoneInfo(options["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(
                f"unknown time zone {options['timezone']!r}", returncode=EXIT_BAD_INPUT
            ) from None
        now = datetime.fromisoformat(options["now"])
        if now.tzinfo is None:
            raise CommandError(
                "--now needs a UTC offset (e.g. +10:00 or Z)", returncode=EXIT_BAD_INPUT
            )
        return zone, now

    def _emit(self, result: Built, options: dict[str, Any], plan_name: str, utility: str) -> None:
        if options["table"]:
            self._table(result.rates, result.sources)
            for note in result.notes:
                self.stdout.write(f"note: {note}")
            for adjustment in result.adjustments:
                self.stdout.write(f"adjusted: {adjustment.describe()}")
            return
        content = render_half_hour_tariff(
            result.rates,
            plan_name=options["plan_name"] or plan_name,
            utility=options["utility"] or utility,
        )
        validate_tariff_content_v2(content)
        self.stdout.write(json.dumps(content, indent=2))
        for note in result.notes:
            self.stderr.write(f"note: {note}")
        for adjustment in result.adjustments:
            self.stderr.write(f"adjusted: {adjustment.describe()}")

    def _table(self, rates: HalfHourRates, sources: tuple[str, ...] | list[str]) -> None:
        self.stdout.write(f"{'period':<13} {'buy $/kWh':>10} {'sell $/kWh':>10}  source")
        for index in range(len(rates.buy_dollars_per_kwh)):
            source = sources[index] if index < len(sources) else ""
            buy = round_dollars_per_kwh(rates.buy_dollars_per_kwh[index])  # same text as the JSON
            sell = round_dollars_per_kwh(rates.sell_dollars_per_kwh[index])
            self.stdout.write(f"{period_name(index):<13} {buy!s:>10} {sell!s:>10}  {source}")

    def _custom(self, options: dict[str, Any]) -> None:
        schedule = schedule_from_dict(_read_json(options["custom"]))
        if options["table"]:
            zone, now = self._zone_and_now(options)
            rates = half_hour_rates_for(schedule, now.astimezone(zone).date())
            self._table(rates, [f"custom schedule {schedule.name!r}"] * 48)
            return
        content = render_custom_tariff(schedule)
        validate_tariff_content_v2(content)
        self.stdout.write(json.dumps(content, indent=2))
