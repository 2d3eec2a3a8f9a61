"""Forms of the onboarding steps. Secrets use PasswordInput(render_value=False): a stored or
typed token is never written back into a page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from devices.models import NemRegion
from tariffs.engine.flow_power import FlowPowerConfigError, FlowPowerPlan, check_plan
from tariffs.models import CustomTouSchedule

AUSTRALIAN_TIME_ZONES = [
    ("Australia/Sydney", "Sydney / Canberra (NSW, ACT)"),
    ("Australia/Melbourne", "Melbourne (VIC)"),
    ("Australia/Brisbane", "Brisbane (QLD, no daylight saving)"),
    ("Australia/Adelaide", "Adelaide (SA)"),
    ("Australia/Hobart", "Hobart (TAS)"),
    ("Australia/Darwin", "Darwin (NT)"),
    ("Australia/Perth", "Perth (WA)"),
    ("Australia/Broken_Hill", "Broken Hill (NSW, SA time)"),
    ("Australia/Lord_Howe", "Lord Howe Island"),
]
REGION_TIME_ZONE = {
    "NSW1": "Australia/Sydney",
    "QLD1": "Australia/Brisbane",
    "VIC1": "Australia/Melbourne",
    "SA1": "Australia/Adelaide",
    "TAS1": "Australia/Hobart",
}
NETWORKS = [
    ("energex", "Energex (QLD)"),
    ("ergon", "Ergon (QLD)"),
    ("ausgrid", "Ausgrid (NSW)"),
    ("endeavour", "Endeavour Energy (NSW)"),
    ("essential", "Essential Energy (NSW)"),
    ("evoenergy", "Evoenergy (ACT)"),
    ("sapn", "SA Power Networks (SA)"),
    ("powercor", "Powercor (VIC)"),
    ("citipower", "CitiPower (VIC)"),
    ("ausnet", "AusNet (VIC)"),
    ("jemena", "Jemena (VIC)"),
    ("united", "United Energy (VIC)"),
    ("tasnetworks", "TasNetworks (TAS)"),
]


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
    aemo_network = forms.ChoiceField(label="Network distributor", choices=NETWORKS)
    aemo_tariff_code = forms.CharField(
        label="Network tariff code",
        max_length=32,
        help_text="From your bill, e.g. NTC6900 (Energex), EA025 (Ausgrid), RTOU (SAPN).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        network, code = cleaned.get("aemo_network"), cleaned.get("aemo_tariff_code")
        if network and code:
            code = str(code).strip().upper()
            cleaned["aemo_tariff_code"] = code
            try:
                check_plan(FlowPowerPlan(network=network, tariff_code=code), timezone.now())
            except FlowPowerConfigError:
                self.add_error(
                    "aemo_tariff_code",
                    f"{code} is not a tariff code we know for this network. Check your bill.",
                )
        return cleaned


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
