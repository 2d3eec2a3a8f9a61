"""The TOU builder form: the schedule's JSON form (written by the builder script or by hand) and
the week to preview. The engine (tariffs.engine.custom_tou) does the real validation."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from powersync_site.bounds import JSON_TOO_DEEP, date_in_range, json_problem

MAX_DEFINITION_CHARS = 100_000

STARTER_DEFINITION: dict[str, Any] = {
    "name": "My time-of-use plan",
    "utility": "My retailer",
    "daily_supply_c": "110",
    "seasons": [
        {
            "name": "All year",
            "from": "01-01",
            "to": "12-31",
            "periods": [
                {
                    "name": "PEAK",
                    "buy_c_per_kwh": "45",
                    "sell_c_per_kwh": "5",
                    "windows": [{"days": "weekdays", "from": "15:00", "to": "21:00"}],
                },
                {
                    "name": "SHOULDER",
                    "buy_c_per_kwh": "28",
                    "sell_c_per_kwh": "5",
                    "windows": [
                        {"days": "weekdays", "from": "07:00", "to": "15:00"},
                        {"days": "weekdays", "from": "21:00", "to": "22:00"},
                        {"days": "weekends", "from": "07:00", "to": "22:00"},
                    ],
                },
                {
                    "name": "OFF_PEAK",
                    "buy_c_per_kwh": "18",
                    "sell_c_per_kwh": "5",
                    "windows": [{"days": "all", "from": "22:00", "to": "07:00"}],
                },
            ],
        }
    ],
}


class ScheduleForm(forms.Form):
    definition = forms.CharField(
        label="Plan (JSON)",
        max_length=MAX_DEFINITION_CHARS,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false"}),
        help_text="The builder above writes this for you; you can also paste a plan here.",
    )
    preview_date = forms.DateField(
        label="Preview the week of",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[date_in_range],
    )

    def clean_definition(self) -> Any:
        text = self.cleaned_data["definition"]
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"This is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from None
        except RecursionError:
            raise forms.ValidationError(f"This plan {JSON_TOO_DEEP}.") from None
        if problem := json_problem(definition):
            raise forms.ValidationError(f"This plan {problem}.")
        return definition
