"""URLs of the household pages (namespace ``web``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from web.views import (
    accounts,
    actions,
    dashboard,
    events,
    onboarding,
    profiles,
    pushes,
    settings,
    tou_builder,
)

app_name = "web"

_reset = "web/accounts/password_reset"

urlpatterns = [
    path("", accounts.home, name="home"),
    # accounts
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/login/", accounts.login_view, name="login"),
    path("accounts/login/code/", accounts.login_totp, name="login_totp"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name=f"{_reset}_form.html",
            email_template_name=f"{_reset}_email.txt",
            subject_template_name=f"{_reset}_subject.txt",
            success_url=reverse_lazy("web:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name=f"{_reset}_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name=f"{_reset}_confirm.html",
            success_url=reverse_lazy("web:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name=f"{_reset}_complete.html"),
        name="password_reset_complete",
    ),
    path("accounts/security/", accounts.security, name="security"),
    path("household/", accounts.household, name="household"),
    path("invite/<str:token>/", accounts.invite_accept, name="invite_accept"),
    # onboarding
    path("onboarding/", onboarding.start, name="onboarding"),
    path("onboarding/amber/", onboarding.amber, name="onboarding_amber"),
    path("onboarding/aemo/", onboarding.aemo, name="onboarding_aemo"),
    path("onboarding/custom/", onboarding.custom, name="onboarding_custom"),
    path("onboarding/tesla/callback", onboarding.tesla_oauth_callback, name="tesla_oauth_callback"),
    path("sites/<int:site_id>/connect/", onboarding.connect, name="site_connect"),
    path(
        "sites/<int:site_id>/connect/tesla/",
        onboarding.tesla_oauth_begin,
        name="tesla_oauth_begin",
    ),
    path("sites/<int:site_id>/connect/powerwall/", onboarding.energy_site, name="site_energy_site"),
    path("sites/<int:site_id>/connect/finish/", onboarding.finish, name="site_finish"),
    # site pages
    path("sites/<int:site_id>/", dashboard.dashboard, name="dashboard"),
    path("sites/<int:site_id>/live.json", dashboard.live, name="dashboard_live"),
    path("sites/<int:site_id>/settings/", settings.site_settings, name="site_settings"),
    path("sites/<int:site_id>/sync/", actions.sync_now, name="site_sync_now"),
    path(
        "sites/<int:site_id>/force-discharge/",
        actions.force_discharge,
        name="site_force_discharge",
    ),
    path(
        "sites/<int:site_id>/force-discharge/stop/",
        actions.force_discharge_end,
        name="site_force_discharge_stop",
    ),
    path("sites/<int:site_id>/resume-sync/", actions.resume_sync, name="site_resume_sync"),
    path(
        "sites/<int:site_id>/profiles/save-current/",
        profiles.profile_save_current,
        name="profile_save_current",
    ),
    # TOU plans and profiles
    path("tou/", tou_builder.schedule_list, name="schedules"),
    path("tou/new/", tou_builder.schedule_new, name="schedule_new"),
    path("tou/<int:schedule_id>/", tou_builder.schedule_edit, name="schedule_edit"),
    path("tou/<int:schedule_id>/delete/", tou_builder.schedule_delete, name="schedule_delete"),
    path("tou/<int:schedule_id>/push/", pushes.schedule_push, name="schedule_push"),
    path("profiles/", profiles.profile_list, name="profiles"),
    path("profiles/<int:profile_id>/", profiles.profile_detail, name="profile_detail"),
    path(
        "profiles/<int:profile_id>/default/",
        profiles.profile_set_default,
        name="profile_set_default",
    ),
    path("profiles/<int:profile_id>/delete/", profiles.profile_delete, name="profile_delete"),
    path("profiles/<int:profile_id>/push/", pushes.profile_push, name="profile_push"),
    # event log
    path("events/", events.event_log, name="events"),
    path("events.csv", events.event_log_csv, name="events_csv"),
]
