"""Filters of the event log (a GET form: bad values are reported, never guessed)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from devices.models import Site
from households.models import Event
from powersync_site.bounds import date_in_range


class EventFilterForm(forms.Form):
    automation = forms.ChoiceField(
        required=False, choices=[("", "All automations"), *Event.Automation.choices]
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "All outcomes"), *Event.Outcome.choices]
    )
    site = forms.ModelChoiceField(
        required=False, queryset=Site.objects.none(), empty_label="All sites"
    )
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[date_in_range],
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[date_in_range],
    )

    def __init__(self, *args: Any, sites: QuerySet[Site], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["site"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = sites

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
