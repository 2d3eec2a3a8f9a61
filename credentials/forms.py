"""Admin form for credentials: secrets are write-only. The form never renders a stored value;
a blank field keeps what is stored, and "clear" removes it."""

from __future__ import annotations

from typing import Any

from django import forms

from credentials.models import SECRET_FIELDS, SiteCredentials


class SiteCredentialsForm(forms.ModelForm):
    class Meta:
        model = SiteCredentials
        fields = [*SECRET_FIELDS, "tesla_token_expires_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRET_FIELDS:
            is_set = bool(self.instance.pk and getattr(self.instance, name))
            self.fields[name] = forms.CharField(
                required=False,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text=("stored — leave blank to keep" if is_set else "not set"),
            )
            self.initial.pop(name, None)
            self.fields[f"clear_{name}"] = forms.BooleanField(required=False, label="clear")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in SECRET_FIELDS:
            if cleaned.get(f"clear_{name}"):
                cleaned[name] = None
            elif not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name) if self.instance.pk else None
        return cleaned
