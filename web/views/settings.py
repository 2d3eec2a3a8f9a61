"""Site settings: every automation and its parameters; bad input is a 400 and changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from devices.models import Site
from devices.services import SITE_SETTINGS_FIELDS, site_settings_update
from web.forms.settings import SiteSettingsForm
from web.views.common import site_or_404


@login_required
@require_http_methods(["GET", "POST"])
def site_settings(request: HttpRequest, site_id: int) -> HttpResponse:
    site = site_or_404(request, site_id)
    # The form validates a separate copy, so a rejected POST never touches ``site``.
    form = SiteSettingsForm(request.POST or None, instance=Site.objects.get(pk=site.pk))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = {name: form.cleaned_data[name] for name in SITE_SETTINGS_FIELDS}
            try:
                site_settings_update(site=site, changes=changes)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Settings saved.")
                return redirect("web:site_settings", site_id=site.pk)
        status = 400
    return render(
        request,
        "web/settings.html",
        {"site": site, "page": "settings", "nav": "sites", "form": form},
        status=status,
    )
