"""Unknown API paths answer the JSON error shape, with DEBUG on (``make run``) as well as off."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

UNKNOWN = ["/api/v1/nothing-here/", "/api/v2/galleries/", "/api/", "/api/v1/galleries/x/y/z/"]


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def assert_json_404(response) -> dict:
    assert response.status_code == 404, response.content[:200]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "not_found"
    return error


@pytest.mark.parametrize("path", UNKNOWN)
@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_an_unknown_api_path_is_a_json_404(debug, path, method):
    # As a browser or a plain HTTP client sends it: no CSRF cookie, so no CSRF page either.
    client = APIClient(enforce_csrf_checks=True)
    assert_json_404(getattr(client, method)(path, {}, format="json"))


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_missing_trailing_slash_is_a_json_404_that_says_so(debug, method):
    client = APIClient(enforce_csrf_checks=True)
    error = assert_json_404(getattr(client, method)("/api/v1/galleries"))
    assert "/api/v1/galleries/" in error["message"]
    error = assert_json_404(APIClient().get("/api/v1/nothing-here"))
    assert "slash" not in error["message"]


def test_an_unknown_api_path_on_a_studio_site_is_a_json_404(debug, studio_a):
    response = APIClient().get("/api/v1/nothing-here/", HTTP_HOST=f"{studio_a.slug}.localhost")
    assert_json_404(response)


def test_known_api_paths_still_answer(debug, alice_client):
    assert alice_client.get("/api/v1/galleries/").status_code == 200
    assert APIClient().get("/api/v1/galleries/").status_code == 401
