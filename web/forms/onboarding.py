"""Forms of the onboarding steps. Secrets use PasswordInput(render_value=False): a stored or
typed token is never written back into a page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from devices.models import NemRegion
from devices.validators import AUSTRALIAN_TIME_ZONES, NETWORK_CHOICES
from tariffs.models import CustomTouSchedule

REGION_TIME_ZONE = {
    "NSW1": "Australia/Sydney",
    "QLD1": "Australia/Brisbane",
    "VIC1": "Australia/Melbourne",
    "SA1": "Australia/Adelaide",
    "TAS1": "Australia/Hobart",
}


def _secret_widget(placeholder: str) -> forms.PasswordInput:
    return forms.PasswordInput(
        render_value=False, attrs={"autocomplete": "off", "placeholder": placeholder}
    )


class AmberTokenForm(forms.Form):
    token = forms.CharField(
        label="Amber API token",
        max_length=200,
        widget=_secret_widget("psk_…"),
        help_text="Amber app → Settings → Developers → Generate a new token.",
    )


class AmberSiteForm(forms.Form):
    name = forms.CharField(label="Name this site", max_length=120, initial="Home")
    amber_site_id = forms.ChoiceField(label="Amber site", widget=forms.RadioSelect)

    def __init__(self, *args: Any, sites: list[dict[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["amber_site_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            (s["id"], f"NMI {s['nmi']} · {s['network']} · {s['status']}") for s in sites
        ]
        if len(sites) == 1:
            self.fields["amber_site_id"].initial = sites[0]["id"]


class AemoSourceForm(forms.Form):
    name = forms.CharField(label="Name this site", max_length=120, initial="Home")
    aemo_region = forms.ChoiceField(label="NEM region", choices=NemRegion.choices)
    aemo_network = forms.ChoiceField(label="Network distributor", choices=NETWORK_CHOICES)
    aemo_tariff_code = forms.CharField(
        label="Network tariff code",
        max_length=32,
        help_text="From your bill, e.g. NTC6900 or 6900 (Energex), EA025 (Ausgrid), RTOU (SAPN).",
    )


class CustomSourceForm(forms.Form):
    name = forms.CharField(label="Name this site", max_length=120, initial="Home")
    custom_schedule = forms.ModelChoiceField(
        label="Time-of-use plan", queryset=CustomTouSchedule.objects.none()
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=AUSTRALIAN_TIME_ZONES)

    def __init__(self, *args: Any, schedules: QuerySet[CustomTouSchedule], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["custom_schedule"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = schedules


class TeslemetryForm(forms.Form):
    api_key = forms.CharField(
        label="Teslemetry access token",
        max_length=400,
        widget=_secret_widget("Paste the token from teslemetry.com"),
        help_text="teslemetry.com → Dashboard → Access token. Stored encrypted; never shown again.",
    )


class EnergySiteForm(forms.Form):
    energy_site_id = forms.ChoiceField(label="Powerwall", widget=forms.RadioSelect)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["energy_site_id"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        if len(choices) == 1:
            self.fields["energy_site_id"].initial = choices[0][0]
