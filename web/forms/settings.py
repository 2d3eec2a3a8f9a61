"""The site settings form: every automation and its parameters (devices.services owns the write)."""

from __future__ import annotations

from typing import Any

from django import forms

from devices.models import Site
from devices.services import SITE_SETTINGS_FIELDS
from devices.validators import AUSTRALIAN_TIME_ZONES


class SiteSettingsForm(forms.ModelForm):
    """Validation comes from the model (validators, choices); the window check is added here so
    its message sits next to the field."""

    time_zone = forms.ChoiceField(label="Time zone", choices=AUSTRALIAN_TIME_ZONES)

    class Meta:
        model = Site
        fields = list(SITE_SETTINGS_FIELDS)
        labels = {
            "name": "Site name",
            "tou_sync_enabled": "Keep the Powerwall's tariff in step with prices (TOU sync)",
            "forecast_type": "Forecast used for future periods",
            "spike_detection_enabled": "Respond to AEMO wholesale price spikes",
            "spike_threshold_dollars_per_mwh": "Spike threshold ($/MWh)",
            "curtailment_enabled": "Stop solar export when exporting would cost money",
            "spike_protection_enabled": (
                "Spike protection: never charge from the grid during a spike"
            ),
            "export_boost_enabled": "Export price boost",
            "export_boost_offset_c_per_kwh": "Add to export price (c/kWh)",
            "export_boost_min_c_per_kwh": "Minimum export price (c/kWh)",
            "export_boost_threshold_c_per_kwh": "Only boost at or above (c/kWh)",
            "export_boost_window_start": "Boost from",
            "export_boost_window_end": "Boost until",
            "force_mode_toggle_enabled": "Force mode toggle after settled prices (experimental)",
        }
        help_texts = {
            "forecast_type": "Calibrated starts from Amber's predicted price and leans toward the "
            "raw per-kWh forecast when this site's settled prices have lately been closer to it.",
            "spike_threshold_dollars_per_mwh": "0 to 20 000. Typical: 300.",
            "export_boost_threshold_c_per_kwh": "0 = always boost inside the window.",
            "force_mode_toggle_enabled": "Switches to self-consumption and back, 5 s later, so the "
            "Powerwall re-plans at once.",
        }
        widgets = {
            "export_boost_window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "export_boost_window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "spike_threshold_dollars_per_mwh": forms.NumberInput(attrs={"step": "1"}),
            "export_boost_offset_c_per_kwh": forms.NumberInput(attrs={"step": "0.1"}),
            "export_boost_min_c_per_kwh": forms.NumberInput(attrs={"step": "0.1"}),
            "export_boost_threshold_c_per_kwh": forms.NumberInput(attrs={"step": "0.1"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = self.instance.time_zone if self.instance else ""
        choices = list(AUSTRALIAN_TIME_ZONES)
        if zone and zone not in dict(choices):  # keep a zone Tesla reported even if not listed
            choices.append((zone, zone))
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = (
            cleaned.get("export_boost_window_start"),
            cleaned.get("export_boost_window_end"),
        )
        if start is not None and end is not None and start == end:
            self.add_error(
                "export_boost_window_end", "The boost window must end at a different time."
            )
        return cleaned

    def groups(self) -> list[tuple[str, list[Any]]]:
        """Fields grouped for the page, one fieldset per automation."""
        names = [
            ("Site", ["name", "time_zone"]),
            (
                "Time-of-use sync",
                ["tou_sync_enabled", "forecast_type", "force_mode_toggle_enabled"],
            ),
            ("AEMO spike response", ["spike_detection_enabled", "spike_threshold_dollars_per_mwh"]),
            ("Solar curtailment", ["curtailment_enabled"]),
            ("Spike protection", ["spike_protection_enabled"]),
            (
                "Export price boost",
                [
                    "export_boost_enabled",
                    "export_boost_offset_c_per_kwh",
                    "export_boost_min_c_per_kwh",
                    "export_boost_threshold_c_per_kwh",
                    "export_boost_window_start",
                    "export_boost_window_end",
                ],
            ),
        ]
        return [(title, [self[name] for name in fields]) for title, fields in names]
