"""Deeply nested JSON is a 400 in the error shape, never a 500, wherever it is sent."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from picpick.core.parsers import MAX_DEPTH, json_depth_exceeds

pytestmark = pytest.mark.django_db


def nested(depth: int, *, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


# orjson accepts up to 1024 levels; Python code that walks such a value recursively
# (a serializer's str() of it) overflowed the stack from about 950.
DEPTHS = [MAX_DEPTH + 1, 960, 1000, 1023]


@pytest.mark.parametrize("kind", ["list", "object"])
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/auth/login/", "email"),
        ("/api/v1/auth/login/", "password"),
        ("/api/v1/public/galleries/open/", "url"),
        ("/api/v1/public/galleries/open/", "secret"),
    ],
)
def test_deeply_nested_json_is_a_malformed_request(url, field, depth, kind):
    body = f'{{"{field}": {nested(depth, kind=kind)}}}'
    response = APIClient().post(url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "malformed_request"
    assert str(MAX_DEPTH) in error["message"]


def test_a_whole_body_nested_too_deep_is_a_malformed_request():
    response = APIClient().post(
        "/api/v1/auth/login/", nested(1023, kind="list"), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_nesting_up_to_the_limit_reaches_the_view():
    body = f'{{"email": {nested(MAX_DEPTH - 1, kind="list")}, "password": "x"}}'
    response = APIClient().post("/api/v1/auth/login/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "email" in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("value", "limit", "deeper"),
    [
        (1, 0, False),
        ([], 1, False),
        ([], 0, True),
        ({"a": [1, {"b": []}]}, 4, False),
        ({"a": [1, {"b": []}]}, 3, True),
        ([[]] * 3, 2, False),
    ],
)
def test_json_depth_exceeds(value, limit, deeper):
    assert json_depth_exceeds(value, limit) is deeper


def test_json_depth_of_a_very_deep_value_needs_no_stack():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert json_depth_exceeds(value, MAX_DEPTH)
