"""What a site's settings may hold, checked by the model (``Site.full_clean``, which every service
that saves a site runs), so the web forms and the API accept exactly the same values."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

# Where a Powerwall on an Australian plan can be (the choices the pages offer).
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
_ZONES = {zone for zone, _label in AUSTRALIAN_TIME_ZONES}

# Network distributors of the NEM that Flow Power prices cover, as their owners write them, with
# the NEM region each is in.
NETWORKS = [
    ("energex", "Energex (QLD)", "QLD1"),
    ("ergon", "Ergon Energy (QLD)", "QLD1"),
    ("ausgrid", "Ausgrid (NSW)", "NSW1"),
    ("endeavour", "Endeavour Energy (NSW)", "NSW1"),
    ("essential", "Essential Energy (NSW)", "NSW1"),
    ("evoenergy", "Evoenergy (ACT)", "NSW1"),
    ("sapn", "SA Power Networks (SA)", "SA1"),
    ("powercor", "Powercor (VIC)", "VIC1"),
    ("citipower", "CitiPower (VIC)", "VIC1"),
    ("ausnet", "AusNet (VIC)", "VIC1"),
    ("jemena", "Jemena (VIC)", "VIC1"),
    ("united", "United Energy (VIC)", "VIC1"),
    ("tasnetworks", "TasNetworks (TAS)", "TAS1"),
]
NETWORK_CHOICES = [(network, label) for network, label, _region in NETWORKS]
NETWORK_REGION = {network: region for network, _label, region in NETWORKS}
NETWORK_LABEL = {network: label for network, label, _region in NETWORKS}


def validate_time_zone(value: str) -> None:
    if value not in _ZONES:
        raise ValidationError(
            f"{value!r} is not an Australian time zone we know (e.g. Australia/Sydney)",
            code="time_zone",
        )


def validate_half_hour(value: dt.time) -> None:
    """A tariff's periods are half-hours: a window must start and end on one."""
    if value.minute not in (0, 30) or value.second or value.microsecond:
        raise ValidationError(
            f"{value:%H:%M} is not on the hour or half-hour (the tariff has half-hour periods)",
            code="half_hour",
        )
