from __future__ import annotations

import base64

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.api.conftest import error

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "path",
    ["/api/v1/households/", "/api/v1/sites/", "/api/v1/events/", "/api/v1/auth/token/"],
)
def test_no_credentials_is_401_envelope(world, path):
    response = APIClient().get(path)
    assert response.status_code == 401
    assert error(response) == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "fields": {},
    }
    assert response["WWW-Authenticate"]


def test_bad_token_is_401_envelope(world):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api.get("/api/v1/sites/")
    assert response.status_code == 401
    assert error(response)["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Token"


def test_token_issue_with_basic_login_then_use_then_revoke(world):
    world.user.set_password(PASSWORD)
    world.user.save()
    login = APIClient()
    login.credentials(HTTP_AUTHORIZATION=basic(world.user.username, PASSWORD))

    assert login.get("/api/v1/auth/token/").json() == {"has_token": False, "created_at": None}
    issued = login.post("/api/v1/auth/token/")
    assert issued.status_code == 201
    key = issued.json()["token"]
    assert Token.objects.get(user=world.user).key == key

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/sites/").status_code == 200
    status = api.get("/api/v1/auth/token/").json()
    assert status["has_token"] is True
    assert "token" not in status  # the key is shown once, at issue

    revoked = api.delete("/api/v1/auth/token/")
    assert revoked.status_code == 204
    assert not Token.objects.filter(user=world.user).exists()
    assert api.get("/api/v1/sites/").status_code == 401


def test_issuing_again_replaces_the_old_token(world):
    api = APIClient()
    api.force_authenticate(user=world.user)
    first = api.post("/api/v1/auth/token/").json()["token"]
    second = api.post("/api/v1/auth/token/").json()["token"]
    assert first != second
    assert list(Token.objects.filter(user=world.user).values_list("key", flat=True)) == [second]


def test_wrong_basic_password_issues_nothing(world):
    world.user.set_password(PASSWORD)
    world.user.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=basic(world.user.username, "wrong"))
    response = api.post("/api/v1/auth/token/")
    assert response.status_code == 401
    assert error(response)["code"] == "authentication_failed"
    assert not Token.objects.exists()


def test_basic_auth_is_only_for_the_token_endpoint(world):
    world.user.set_password(PASSWORD)
    world.user.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=basic(world.user.username, PASSWORD))
    assert api.get("/api/v1/sites/").status_code == 401


def test_session_login_works(world):
    world.user.set_password(PASSWORD)
    world.user.save()
    api = APIClient()
    assert api.login(username=world.user.username, password=PASSWORD)
    assert api.get("/api/v1/sites/").status_code == 200


def test_unknown_path_is_404_envelope(api):
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert error(response) == {
        "code": "not_found",
        "message": "There is no such API endpoint.",
        "fields": {},
    }


def test_method_not_allowed_envelope(api, world):
    response = api.delete(f"/api/v1/sites/{world.site.pk}/")
    assert response.status_code == 405
    assert error(response) == {
        "code": "method_not_allowed",
        "message": 'Method "DELETE" not allowed.',
        "fields": {},
    }


def test_malformed_json_is_400_envelope(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error(response)["code"] == "parse_error"


def test_form_body_is_415_envelope(api, world):
    response = api.patch(
        f"/api/v1/sites/{world.site.pk}/",
        data="name=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"


def test_huge_body_is_413_envelope_and_changes_nothing(api, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api.patch(f"/api/v1/sites/{world.site.pk}/", {"name": "x" * 20_000}, format="json")
    assert response.status_code == 413
    assert error(response) == {
        "code": "request_too_large",
        "message": "The request body is larger than 10000 bytes.",
        "fields": {},
    }
    world.site.refresh_from_db()
    assert world.site.name == "Home"


def test_default_limit_rejects_a_3_mb_schedule(api):
    response = api.post(
        "/api/v1/schedules/", {"definition": {"name": "x" * 3_000_000}}, format="json"
    )
    assert response.status_code == 413
    assert error(response)["code"] == "request_too_large"


def test_throttled_is_429_envelope_with_retry_after(api, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "2/min", "anon": "2/min"})
    assert api.get("/api/v1/sites/").status_code == 200
    assert api.get("/api/v1/sites/").status_code == 200
    response = api.get("/api/v1/sites/")
    assert response.status_code == 429
    body = error(response)
    assert body["code"] == "throttled"
    assert body["message"].startswith("Too many requests; retry in ")
    assert int(response["Retry-After"]) > 0


def _documented_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_documented_operation_needs_authentication(world):
    anonymous = APIClient()
    operations = _documented_operations()
    assert len(operations) >= 30
    for method, template in operations:
        path = template.replace("{id}", "1").replace("{site_id}", "1")
        response = getattr(anonymous, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path)
        assert error(response)["code"] == "not_authenticated", (method, path)


def test_unexpected_error_is_500_envelope_without_details(api, world, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database exploded with secret psk_123")

    monkeypatch.setattr("devices.api.views.site_energy_latest", broken)
    response = api.get(f"/api/v1/sites/{world.site.pk}/energy/latest/")
    assert response.status_code == 500
    assert error(response) == {
        "code": "server_error",
        "message": "Something went wrong on our side.",
        "fields": {},
    }
    assert "psk_123" not in response.content.decode()
