"""The watermark endpoints, the gallery's watermark_id, and the reprocess endpoint."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from accounts.models import Role
from accounts.permissions import ROLE_PERMISSIONS, Perm
from galleries.models import Gallery, Photo, Watermark
from galleries.services import watermarks as wm_service
from galleries.services.processing import photo_process_ensure
from tests.processing.conftest import jpeg, logo_png, upload

pytestmark = pytest.mark.django_db

WATERMARKS = "/api/v1/watermarks/"


def code(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def mark_a(studio_a, alice) -> Watermark:
    return wm_service.watermark_create(studio=studio_a, by=alice, name="Studio", text="© Anna")


def logo_post(client, watermark_id, data: bytes, name: str = "logo.png"):
    upload_file = io.BytesIO(data)
    upload_file.name = name
    return client.post(
        f"{WATERMARKS}{watermark_id}/logo/", {"file": upload_file}, format="multipart"
    )


# --- Watermarks ------------------------------------------------------------------------------
def test_watermark_crud(alice_client, studio_a):
    response = alice_client.post(
        WATERMARKS, {"name": "Corner", "text": "© Anna", "position": "top-left", "opacity": 0.3}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["position"], body["opacity"], body["scale"]) == (
        "Corner",
        "top-left",
        0.3,
        0.2,
    )
    assert (body["has_logo"], body["version"]) == (False, 1)
    url = f"{WATERMARKS}{body['id']}/"
    assert alice_client.get(WATERMARKS).json()["results"][0]["id"] == body["id"]
    assert alice_client.get(url).json()["text"] == "© Anna"

    response = alice_client.patch(url, {"opacity": 0.8, "position": "tile"})
    assert response.status_code == 200
    assert (response.json()["opacity"], response.json()["version"]) == (0.8, 2)
    assert alice_client.patch(url, {"opacity": 0.8}).json()["version"] == 2  # no change
    assert alice_client.patch(url, {"name": "Renamed"}).json()["version"] == 2  # drawn nowhere

    assert alice_client.delete(url).status_code == 204
    assert not Watermark.objects.filter(studio=studio_a).exists()
    assert alice_client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "opacity": 2}, "opacity"),
        ({"name": "x", "opacity": -0.1}, "opacity"),
        ({"name": "x", "scale": 0}, "scale"),
        ({"name": "x", "position": "middle"}, "position"),
        ({"text": "no name"}, "name"),
        ({"name": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_watermark_input_is_refused(alice_client, body, field):
    response = alice_client.post(WATERMARKS, body)
    assert response.status_code == 400
    assert code(response) == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not Watermark.objects.exists()


def test_bad_patch_changes_nothing(alice_client, mark_a):
    response = alice_client.patch(f"{WATERMARKS}{mark_a.id}/", {"opacity": 2, "text": "new"})
    assert response.status_code == 400
    mark_a.refresh_from_db()
    assert (mark_a.opacity, mark_a.text, mark_a.version) == (0.5, "© Anna", 1)


def test_logo_upload_stores_a_png_and_bumps_the_version(alice_client, mark_a, local_storage):
    response = logo_post(alice_client, mark_a.id, logo_png())
    assert response.status_code == 200, response.content
    assert (response.json()["has_logo"], response.json()["version"]) == (True, 2)
    mark_a.refresh_from_db()
    assert mark_a.logo_key == f"studios/{mark_a.studio_id}/watermarks/{mark_a.id}.png"
    info = local_storage.head(key=mark_a.logo_key)
    assert info is not None and info.content_type == "image/png"


def jpeg_named_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 50)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (jpeg_named_png(), 400, "invalid_logo"),
        (b"\x89PNG\r\n\x1a\n" + b"broken" * 50, 400, "invalid_logo"),
        (b"plain text", 400, "invalid_logo"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024), 413, "logo_too_large"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024), 413, "payload_too_large"),
    ],
    ids=["jpeg", "broken-png", "text", "over-2-mib", "over-the-body-limit"],
)
def test_bad_logos_are_refused(alice_client, mark_a, local_storage, data, status, error):
    response = logo_post(alice_client, mark_a.id, data)
    assert response.status_code == status
    assert code(response) == error
    mark_a.refresh_from_db()
    assert (mark_a.logo_key, mark_a.version) == ("", 1)


def test_logo_with_too_many_pixels_is_refused(alice_client, mark_a, local_storage):
    out = io.BytesIO()
    Image.new("L", (5000, 10)).save(out, "PNG")
    response = logo_post(alice_client, mark_a.id, out.getvalue())
    assert (response.status_code, code(response)) == (400, "invalid_logo")


def test_logo_upload_needs_a_file(alice_client, mark_a):
    response = alice_client.post(f"{WATERMARKS}{mark_a.id}/logo/", {}, format="multipart")
    assert (response.status_code, code(response)) == (400, "validation_error")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"text": "mine now"}),
        ("delete", "", None),
        ("post", "logo/", "logo"),
    ],
)
def test_other_studio_gets_404_for_a_watermark(bob_client, mark_a, method, suffix, body):
    url = f"{WATERMARKS}{mark_a.id}/{suffix}"
    if body == "logo":
        response = logo_post(bob_client, mark_a.id, logo_png())
    else:
        response = getattr(bob_client, method)(url, body, format="json")
    assert (response.status_code, code(response)) == (404, "not_found")
    assert "Anna" not in response.content.decode()
    mark_a.refresh_from_db()
    assert (mark_a.text, mark_a.version, mark_a.logo_key) == ("© Anna", 1, "")
    assert bob_client.get(WATERMARKS).json()["results"] == []


def test_anonymous_gets_401(anon_client, mark_a):
    assert anon_client.get(WATERMARKS).status_code == 401
    assert anon_client.post(WATERMARKS, {"name": "x"}).status_code == 401
    assert anon_client.patch(f"{WATERMARKS}{mark_a.id}/", {"text": "x"}).status_code == 401
    assert logo_post(anon_client, mark_a.id, logo_png()).status_code == 401


@pytest.mark.parametrize("role", [Role.PHOTOGRAPHER, Role.ASSISTANT])
def test_only_studio_editors_change_watermarks(member_of_a, mark_a, role):
    # A studio watermark stamps every gallery that uses it: deleting it un-watermarks
    # published galleries, so it is a studio setting (studio.edit), not a gallery edit.
    _, client = member_of_a(role)
    assert client.get(WATERMARKS).status_code == 200
    assert client.get(f"{WATERMARKS}{mark_a.id}/").status_code == 200
    for response in (
        client.post(WATERMARKS, {"name": "x"}),
        client.patch(f"{WATERMARKS}{mark_a.id}/", {"text": "x"}),
        client.delete(f"{WATERMARKS}{mark_a.id}/"),
        logo_post(client, mark_a.id, logo_png()),
    ):
        assert (response.status_code, code(response)) == (403, "permission_denied")
        assert response.json()["error"]["permission"] == "studio.edit"
    mark_a.refresh_from_db()
    assert Watermark.objects.count() == 1 and mark_a.text != "x"


def test_an_admin_may_delete_a_watermark(member_of_a, mark_a):
    _, client = member_of_a(Role.ADMIN)
    assert client.delete(f"{WATERMARKS}{mark_a.id}/").status_code == 204
    assert Watermark.objects.count() == 0


def test_role_without_gallery_view_cannot_read_watermarks(member_of_a, mark_a, monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.GALLERY_VIEW})
    )
    _, client = member_of_a(Role.ASSISTANT)
    for response in (client.get(WATERMARKS), client.get(f"{WATERMARKS}{mark_a.id}/")):
        assert (response.status_code, code(response)) == (403, "permission_denied")


def test_an_assistant_cannot_change_a_gallerys_watermark(member_of_a, gallery_a, mark_a):
    url = f"/api/v1/galleries/{gallery_a.id}/"
    gallery_a.watermark = mark_a
    gallery_a.save(update_fields=["watermark"])
    _, client = member_of_a(Role.ASSISTANT)
    for value in (None, str(mark_a.id)):
        response = client.patch(url, {"watermark_id": value}, format="json")
        assert (response.status_code, code(response)) == (403, "permission_denied")
        assert response.json()["error"]["permission"] == "gallery.publish"
    gallery_a.refresh_from_db()
    assert gallery_a.watermark_id == mark_a.id
    assert client.patch(url, {"notes": "still editable"}).status_code == 200


# --- Gallery watermark_id --------------------------------------------------------------------
def test_gallery_patch_sets_and_clears_the_watermark(alice_client, gallery_a, mark_a):
    url = f"/api/v1/galleries/{gallery_a.id}/"
    response = alice_client.patch(url, {"watermark_id": str(mark_a.id)})
    assert response.status_code == 200
    assert response.json()["watermark_id"] == str(mark_a.id)
    assert alice_client.get(url).json()["watermark_id"] == str(mark_a.id)
    response = alice_client.patch(url, {"watermark_id": None})
    assert response.json()["watermark_id"] is None


def test_gallery_cannot_use_another_studios_watermark(alice_client, gallery_a, studio_b, bob):
    bobs = wm_service.watermark_create(studio=studio_b, by=bob, name="Bob's")
    url = f"/api/v1/galleries/{gallery_a.id}/"
    for watermark_id in (str(bobs.id), "01a20133-0000-7000-8000-000000000000"):
        response = alice_client.patch(url, {"watermark_id": watermark_id, "notes": "x"})
        assert (response.status_code, code(response)) == (422, "invalid_watermark")
    gallery_a.refresh_from_db()
    assert (gallery_a.watermark_id, gallery_a.notes) == (None, "")


def test_setting_a_gallery_watermark_stamps_its_ready_photos(
    alice_client, gallery_a, alice, mark_a, local_storage, django_capture_on_commit_callbacks
):
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.patch(f"/api/v1/galleries/{gallery_a.id}/", {"watermark_id": str(mark_a.id)})
    photo.refresh_from_db()
    assert photo.derivatives["preview_wm"]["watermark_id"] == str(mark_a.id)


# --- Reprocess -------------------------------------------------------------------------------
def reprocess_url(gallery: Gallery) -> str:
    return f"/api/v1/galleries/{gallery.id}/reprocess/"


@pytest.fixture
def mixed_photos(gallery_a, alice, local_storage) -> dict[str, Photo]:
    """One photo in each state that matters, ready and failed ones really processed."""
    ready = upload(gallery_a, alice, jpeg(), "ready.jpg")
    photo_process_ensure(photo_id=ready.id)
    failed = upload(gallery_a, alice, b"", "failed.jpg")
    photo_process_ensure(photo_id=failed.id)
    busy = upload(gallery_a, alice, jpeg(), "busy.jpg")
    Photo.objects.filter(id=busy.id).update(state=Photo.State.PROCESSING)
    pending = upload(gallery_a, alice, jpeg(), "pending.jpg")
    Photo.objects.filter(id=pending.id).update(state=Photo.State.PENDING)
    return {p.filename.split(".")[0]: p for p in Photo.objects.filter(gallery=gallery_a)}


def states(gallery: Gallery) -> dict[str, str]:
    return {
        p.filename.split(".")[0]: p.state
        for p in Photo.objects.filter(gallery=gallery).only("filename", "state")
    }


def test_reprocess_all_resets_and_queues_processed_photos(
    alice_client, gallery_a, mixed_photos, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[list[str]] = []
    from galleries import tasks

    monkeypatch.setattr(tasks.photos_process_many, "delay", lambda ids: queued.append(ids))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice_client.post(reprocess_url(gallery_a), {"scope": "all"})
    assert response.status_code == 202
    assert response.json() == {"scope": "all", "queued": 2}
    # Queued after the commit, not from inside the transaction (beside it: the progress publish).
    assert [c.__qualname__ for c in callbacks if "photos_enqueue" in c.__qualname__] == [
        "photos_enqueue.<locals>.send"
    ]
    assert sorted(queued[0]) == sorted(
        [str(mixed_photos["ready"].id), str(mixed_photos["failed"].id)]
    )
    assert states(gallery_a) == {
        "ready": "uploaded",
        "failed": "uploaded",
        "busy": "processing",
        "pending": "pending",
    }
    failed = Photo.objects.get(id=mixed_photos["failed"].id)
    assert (failed.failure_code, failed.attempts) == ("", 0)


def test_reprocess_failed_only_touches_failed_photos(
    alice_client, gallery_a, mixed_photos, django_capture_on_commit_callbacks
):
    local = mixed_photos["failed"]
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reprocess_url(gallery_a), {"scope": "failed"})
    assert response.json() == {"scope": "failed", "queued": 1}
    # Processed again at once (eager tasks): the file is still empty, so failed again.
    local.refresh_from_db()
    assert (local.state, local.failure_code, local.attempts) == ("failed", "empty", 1)
    assert states(gallery_a)["ready"] == "ready"


def test_reprocess_watermark_keeps_photos_ready(
    alice_client, gallery_a, mixed_photos, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reprocess_url(gallery_a), {"scope": "watermark"})
    assert response.json() == {"scope": "watermark", "queued": 1}
    assert states(gallery_a)["ready"] == "ready"


@pytest.mark.parametrize("body", [{"scope": "everything"}, {}, {"scope": "all", "force": True}])
def test_reprocess_refuses_a_bad_scope(alice_client, gallery_a, mixed_photos, body):
    before = states(gallery_a)
    response = alice_client.post(reprocess_url(gallery_a), body)
    assert (response.status_code, code(response)) == (400, "validation_error")
    assert states(gallery_a) == before


def test_reprocess_of_another_studios_gallery_is_404(bob_client, gallery_a, mixed_photos):
    before = states(gallery_a)
    response = bob_client.post(reprocess_url(gallery_a), {"scope": "all"})
    assert (response.status_code, code(response)) == (404, "not_found")
    assert states(gallery_a) == before


def test_reprocess_needs_authentication(anon_client, gallery_a):
    response = anon_client.post(reprocess_url(gallery_a), {"scope": "all"})
    assert (response.status_code, code(response)) == (401, "not_authenticated")


def test_reprocess_needs_gallery_edit(member_of_a, gallery_a, mixed_photos, monkeypatch):
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.GALLERY_EDIT})
    )
    _, client = member_of_a(Role.ASSISTANT)
    before = states(gallery_a)
    response = client.post(reprocess_url(gallery_a), {"scope": "all"})
    assert (response.status_code, code(response)) == (403, "permission_denied")
    assert response.json()["error"]["permission"] == Perm.GALLERY_EDIT
    assert states(gallery_a) == before
