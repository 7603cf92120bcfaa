"""The one error shape, the body limit and the studio-scoping base view."""

from __future__ import annotations

import pytest
from django.test import override_settings

from accounts.models import Role
from tests.conftest import client_for

pytestmark = [pytest.mark.urls("tests.core.urls"), pytest.mark.django_db]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def test_member_reaches_their_studio(alice_client, studio_a):
    response = alice_client.get("/api/v1/echo/")
    assert response.status_code == 200
    assert response.json() == {"studio": str(studio_a.id), "role": "owner"}


def test_anonymous_gets_401_with_error_shape(anon_client):
    response = anon_client.get("/api/v1/echo/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_garbage_token_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert_error(anon_client.get("/api/v1/echo/"), 401, "token_invalid")


def test_validation_error_lists_fields(alice_client):
    error = assert_error(
        alice_client.post("/api/v1/echo/", {"name": "x" * 11, "count": "many"}),
        400,
        "validation_error",
    )
    assert set(error["fields"]) == {"name", "count"}


def test_unknown_fields_on_write_are_refused(alice_client):
    error = assert_error(
        alice_client.post("/api/v1/echo/", {"name": "ok", "nmae": "typo"}), 400, "validation_error"
    )
    assert error["fields"] == {"nmae": ["Unknown field."]}


def test_a_json_array_body_is_refused(alice_client):
    error = assert_error(
        alice_client.post("/api/v1/echo/", [1, 2], format="json"), 400, "validation_error"
    )
    assert "__all__" in error["fields"]


def test_malformed_json_is_400(alice_client):
    response = alice_client.post("/api/v1/echo/", "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_unsupported_media_type_is_415(alice_client):
    response = alice_client.post("/api/v1/echo/", "name=x", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_wrong_method_is_405(alice_client):
    assert_error(alice_client.delete("/api/v1/echo/"), 405, "method_not_allowed")


def test_application_error_keeps_its_code_and_fields(alice_client):
    error = assert_error(alice_client.post("/api/v1/echo/", {"name": "taken"}), 409, "name_taken")
    assert error["fields"] == {"name": ["taken"]}


@override_settings(PICPICK_API_MAX_BODY_BYTES=2048)
def test_oversized_body_is_413_before_parsing(alice_client):
    response = alice_client.post(
        "/api/v1/echo/", '{"name": "' + "x" * 4096 + '"}', content_type="application/json"
    )
    error = assert_error(response, 413, "payload_too_large")
    assert error["limit"] == 2048


def test_role_without_permission_is_403_naming_the_permission(member_of_a):
    _, client = member_of_a(Role.PHOTOGRAPHER)
    error = assert_error(client.get("/api/v1/billing-only/"), 403, "permission_denied")
    assert error["permission"] == "billing.manage"


def test_removed_member_is_refused(alice, alice_client, studio_a):
    alice.memberships.filter(studio=studio_a).delete()
    assert_error(alice_client.get("/api/v1/echo/"), 403, "not_a_member")


def test_deleted_studio_is_refused(alice_client, studio_a):
    from django.utils import timezone

    studio_a.deleted_at = timezone.now()
    studio_a.save(update_fields=["deleted_at"])
    assert_error(alice_client.get("/api/v1/echo/"), 403, "studio_deleted")


def test_token_for_a_studio_the_user_is_not_in_is_refused(alice, studio_b):
    client = client_for(alice, studio_b)
    assert_error(client.get("/api/v1/echo/"), 403, "not_a_member")


def test_revoked_token_version_is_401(alice, alice_client):
    alice.token_version += 1
    alice.save(update_fields=["token_version"])
    assert_error(alice_client.get("/api/v1/echo/"), 401, "token_revoked")


def test_deactivated_user_is_401(alice, alice_client):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    response = alice_client.get("/api/v1/echo/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"user_inactive", "authentication_failed"}
