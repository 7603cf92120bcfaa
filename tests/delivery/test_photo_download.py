"""GET /photos/{id}/download/: a redirect to a signed attachment URL, or the URL as JSON."""

from __future__ import annotations

import pytest

from accounts.models import Membership, Role
from tests.delivery.conftest import derivative_bytes, error_code, original_bytes, stored_photo
from tests.storage_fixtures import send

pytestmark = pytest.mark.django_db


def url(photo, query: str = "") -> str:
    return f"/api/v1/photos/{photo.id}/download/{query}"


def test_original_redirects_to_an_attachment_named_like_the_file(
    alice_client, alice, gallery_a, app_storage
):
    photo = stored_photo(app_storage, gallery_a, alice, filename="DSC_0042.NEF")
    response = alice_client.get(url(photo))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    fetched = send("GET", response["Location"])
    assert fetched.status == 200
    assert fetched.body == original_bytes("DSC_0042.NEF")
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="DSC_0042.NEF"'


def test_preview_is_named_after_the_original_with_jpg(alice_client, alice, gallery_a, app_storage):
    photo = stored_photo(app_storage, gallery_a, alice, filename="DSC_0042.NEF")
    response = alice_client.get(url(photo, "?size=preview"))
    fetched = send("GET", response["Location"])
    assert fetched.body == derivative_bytes(photo, "preview")
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="DSC_0042.jpg"'


def test_redirect_0_answers_the_url_as_json(alice_client, alice, gallery_a, app_storage):
    photo = stored_photo(app_storage, gallery_a, alice)
    response = alice_client.get(url(photo, "?redirect=0"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"url", "expires_at"}
    assert send("GET", body["url"]).body == original_bytes("IMG_0001.jpg")


@pytest.mark.parametrize(
    ("state", "derivatives", "size"),
    [
        ("pending", (), "original"),  # never uploaded
        ("failed", (), "original"),  # the file could not be decoded: not delivered
        ("uploaded", (), "preview"),  # not processed yet
    ],
)
def test_a_size_that_does_not_exist_is_409_not_ready(
    alice_client, alice, gallery_a, local_storage, state, derivatives, size
):
    photo = stored_photo(local_storage, gallery_a, alice, state=state, derivatives=derivatives)
    response = alice_client.get(url(photo, f"?size={size}"))
    assert response.status_code == 409
    assert error_code(response) == "not_ready"


@pytest.mark.parametrize(
    "query", ["?size=huge", "?size=", "?redirect=maybe", "?sizes=original", "?size=thumb"]
)
def test_bad_query_is_400(alice_client, alice, gallery_a, local_storage, query):
    photo = stored_photo(local_storage, gallery_a, alice)
    response = alice_client.get(url(photo, query))
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


def test_every_role_may_download(member_of_a, alice, gallery_a, local_storage):
    photo = stored_photo(local_storage, gallery_a, alice)
    for role in (Role.ADMIN, Role.PHOTOGRAPHER, Role.ASSISTANT):
        _user, client = member_of_a(role)
        assert client.get(url(photo)).status_code == 302


def test_a_former_member_is_403(member_of_a, alice, gallery_a, local_storage):
    photo = stored_photo(local_storage, gallery_a, alice)
    user, client = member_of_a(Role.ASSISTANT)
    Membership.objects.filter(user=user).delete()
    response = client.get(url(photo))
    assert response.status_code == 403
    assert error_code(response) == "not_a_member"


def test_another_studio_gets_404_and_anonymous_401(
    bob_client, anon_client, alice, gallery_a, local_storage
):
    photo = stored_photo(local_storage, gallery_a, alice)
    assert bob_client.get(url(photo)).status_code == 404
    assert anon_client.get(url(photo)).status_code == 401
    assert bob_client.get("/api/v1/photos/not-a-uuid/download/").status_code == 404
