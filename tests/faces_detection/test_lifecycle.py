"""Face data deletion, verifiably: switches (gallery, studio), photo and gallery deletes,
retention. Each path counts the rows before and after and checks its audit rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import ROLE_PERMISSIONS, Perm
from faces import services
from faces.models import Face, FaceDataDeletion, FaceRejection, GalleryFaceIndex, Person
from galleries import services as gallery_services
from galleries.models import Gallery, Photo
from galleries.services.photos import photo_delete

pytestmark = pytest.mark.django_db

Reason = FaceDataDeletion.Reason


def face_data(gallery: Gallery, *, photos: int = 2, faces_per_photo: int = 3) -> list[Photo]:
    """Faces, two people (one with a cover), a rejection and an index row, inserted directly."""
    studio = gallery.studio
    # Through the service, so the gallery's counters match when a test deletes photos.
    made = [
        gallery_services.photo_create(
            gallery=gallery, by=None, filename=f"IMG_{i}.jpg", size=1000, content_type="image/jpeg"
        )
        for i in range(photos)
    ]
    Photo.objects.filter(id__in=[p.id for p in made]).update(state=Photo.State.READY)
    people = [
        Person.objects.create(studio=studio, gallery=gallery, name=name)
        for name in ("Bride", "Groom")
    ]
    faces = Face.objects.bulk_create(
        Face(
            studio=studio,
            gallery=gallery,
            photo=photo,
            left=10 + 100 * i,
            top=10,
            right=90 + 100 * i,
            bottom=90,
            embedding=bytes(512),
            person=people[i % 2],
            assignment=Face.Assignment.AUTO,
        )
        for photo in made
        for i in range(faces_per_photo)
    )
    Person.objects.filter(id=people[0].id).update(cover_face=faces[0])
    FaceRejection.objects.create(studio=studio, face=faces[1], person=people[0])
    GalleryFaceIndex.objects.create(gallery=gallery, studio=studio, version=7)
    return made


def counts(gallery: Gallery) -> dict[str, int]:
    return {
        "faces": Face.objects.filter(gallery=gallery).count(),
        "people": Person.objects.filter(gallery=gallery).count(),
        "rejections": FaceRejection.objects.filter(face__gallery=gallery).count(),
        "index": GalleryFaceIndex.objects.filter(gallery=gallery).count(),
    }


# Switching off deletes people and corrections for good: the request says it means it.
FACES_OFF = {"face_recognition_enabled": False, "confirm": "delete-face-data"}

NONE = {"faces": 0, "people": 0, "rejections": 0, "index": 0}
FULL = {"faces": 6, "people": 2, "rejections": 1, "index": 1}


def audit(gallery: Gallery) -> list[tuple]:
    return list(
        FaceDataDeletion.objects.filter(gallery_id_ref=gallery.id)
        .order_by("created_at")
        .values_list("reason", "faces_deleted", "people_deleted", "actor_id", "photo_id_ref")
    )


@pytest.fixture
def queued(monkeypatch):
    """Photos sent back to processing (the task fan-out is replaced by a list)."""
    from galleries.services import processing

    sent: list[str] = []
    monkeypatch.setattr(processing, "photos_enqueue", lambda ids: sent.extend(map(str, ids)))
    return sent


# --- Gallery switch ---------------------------------------------------------------------------
def test_switching_a_gallery_off_deletes_its_face_data(
    alice_client, alice, gallery_a, gallery_b, studio_a
):
    face_data(gallery_a)
    other = gallery_services.gallery_create(studio=studio_a, by=alice, name="Other")
    face_data(other)
    face_data(gallery_b)
    assert counts(gallery_a) == FULL

    response = alice_client.patch(f"/api/v1/galleries/{gallery_a.id}/", FACES_OFF, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["face_recognition_enabled"] is False
    assert counts(gallery_a) == NONE
    assert counts(other) == FULL and counts(gallery_b) == FULL  # nobody else's
    assert audit(gallery_a) == [(Reason.GALLERY_DISABLED, 6, 2, alice.id, None)]
    # Sending the same value again deletes nothing more and writes no second audit row.
    alice_client.patch(f"/api/v1/galleries/{gallery_a.id}/", FACES_OFF, format="json")
    assert len(audit(gallery_a)) == 1


def test_switching_a_gallery_back_on_queues_its_photos(alice_client, gallery_a, queued):
    photos = face_data(gallery_a)
    alice_client.patch(f"/api/v1/galleries/{gallery_a.id}/", FACES_OFF, format="json")
    assert queued == []
    response = alice_client.patch(
        f"/api/v1/galleries/{gallery_a.id}/", {"face_recognition_enabled": True}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["face_recognition_enabled"] is True
    assert sorted(queued) == sorted(str(p.id) for p in photos)
    assert set(Photo.objects.filter(gallery=gallery_a).values_list("state", flat=True)) == {
        Photo.State.UPLOADED
    }


def test_a_bad_switch_value_is_refused_and_deletes_nothing(alice_client, gallery_a):
    face_data(gallery_a)
    response = alice_client.patch(
        f"/api/v1/galleries/{gallery_a.id}/", {"face_recognition_enabled": "maybe"}, format="json"
    )
    assert response.status_code == 400
    assert "face_recognition_enabled" in response.json()["error"]["fields"]
    assert counts(gallery_a) == FULL and audit(gallery_a) == []


def test_other_studio_anonymous_and_roles_without_edit_cannot_switch(
    bob_client, anon_client, member_of_a, gallery_a, monkeypatch
):
    face_data(gallery_a)
    url = f"/api/v1/galleries/{gallery_a.id}/"
    body = FACES_OFF
    assert bob_client.patch(url, body, format="json").status_code == 404
    assert anon_client.patch(url, body, format="json").status_code == 401
    monkeypatch.setitem(
        ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.GALLERY_EDIT})
    )
    _, client = member_of_a(Role.ASSISTANT)
    assert client.patch(url, body, format="json").status_code == 403
    assert counts(gallery_a) == FULL


# --- Studio switch ----------------------------------------------------------------------------
def test_switching_the_studio_off_deletes_every_gallerys_face_data(
    alice_client, alice, studio_a, gallery_a, gallery_b
):
    other = gallery_services.gallery_create(studio=studio_a, by=alice, name="Other")
    empty = gallery_services.gallery_create(studio=studio_a, by=alice, name="No faces")
    face_data(gallery_a)
    face_data(other, photos=1)
    face_data(gallery_b)

    response = alice_client.patch("/api/v1/studio/", FACES_OFF)

    assert response.status_code == 200, response.content
    assert response.json()["face_recognition_enabled"] is False
    assert counts(gallery_a) == NONE and counts(other) == NONE
    assert counts(gallery_b) == FULL
    assert audit(gallery_a) == [(Reason.STUDIO_DISABLED, 6, 2, alice.id, None)]
    assert audit(other) == [(Reason.STUDIO_DISABLED, 3, 2, alice.id, None)]
    assert audit(empty) == []  # nothing to delete, nothing to record


def test_switching_the_studio_back_on_queues_galleries_that_want_faces(
    alice_client, alice, studio_a, gallery_a, queued
):
    wanted = face_data(gallery_a)
    off = gallery_services.gallery_create(studio=studio_a, by=alice, name="Off")
    face_data(off)
    alice_client.patch(f"/api/v1/galleries/{off.id}/", FACES_OFF, format="json")
    alice_client.patch("/api/v1/studio/", FACES_OFF)
    assert queued == []
    response = alice_client.patch("/api/v1/studio/", {"face_recognition_enabled": True})
    assert response.status_code == 200
    assert sorted(queued) == sorted(str(p.id) for p in wanted)


def test_studio_switch_needs_studio_edit(member_of_a, anon_client, gallery_a, monkeypatch):
    face_data(gallery_a)
    monkeypatch.setitem(ROLE_PERMISSIONS, Role.ASSISTANT, frozenset(set(Perm) - {Perm.STUDIO_EDIT}))
    _, client = member_of_a(Role.ASSISTANT)
    body = FACES_OFF
    assert client.patch("/api/v1/studio/", body).status_code == 403
    assert anon_client.patch("/api/v1/studio/", body).status_code == 401
    assert counts(gallery_a) == FULL


# --- Confirmation and roles ---------------------------------------------------------------------
@pytest.mark.parametrize("confirm", [None, "", "yes", "DELETE-FACE-DATA"])
def test_switching_a_gallery_off_without_confirmation_changes_nothing(
    alice_client, gallery_a, confirm
):
    face_data(gallery_a)
    body = {"face_recognition_enabled": False, "notes": "changed"}
    if confirm is not None:
        body["confirm"] = confirm
    response = alice_client.patch(f"/api/v1/galleries/{gallery_a.id}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "confirmation_required"
    assert "confirm" in response.json()["error"]["fields"]
    gallery_a.refresh_from_db()
    assert gallery_a.face_recognition_enabled and gallery_a.notes != "changed"
    assert counts(gallery_a) == FULL and audit(gallery_a) == []


def test_switching_the_studio_off_without_confirmation_changes_nothing(
    alice_client, studio_a, gallery_a
):
    face_data(gallery_a)
    body = {"face_recognition_enabled": False, "name": "Renamed"}
    response = alice_client.patch("/api/v1/studio/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "confirmation_required"
    studio_a.refresh_from_db()
    assert studio_a.face_recognition_enabled and studio_a.name != "Renamed"
    assert counts(gallery_a) == FULL and audit(gallery_a) == []


def test_switching_on_or_sending_the_current_value_needs_no_confirmation(
    alice_client, studio_a, gallery_a
):
    url = f"/api/v1/galleries/{gallery_a.id}/"
    assert alice_client.patch(url, {"face_recognition_enabled": True}).status_code == 200
    assert alice_client.patch(url, FACES_OFF, format="json").status_code == 200
    assert alice_client.patch(url, {"face_recognition_enabled": False}).status_code == 200
    assert alice_client.patch(url, {"face_recognition_enabled": True}).status_code == 200
    assert (
        alice_client.patch("/api/v1/studio/", {"face_recognition_enabled": True}).status_code == 200
    )


@pytest.mark.parametrize("role", [Role.PHOTOGRAPHER, Role.ASSISTANT])
def test_only_studio_editors_switch_face_recognition(member_of_a, studio_a, gallery_a, role):
    face_data(gallery_a)
    _, client = member_of_a(role)
    for url in (f"/api/v1/galleries/{gallery_a.id}/", "/api/v1/studio/"):
        for body in (FACES_OFF, {"face_recognition_enabled": True}):
            response = client.patch(url, body, format="json")
            assert response.status_code == 403, (url, body, response.content)
            assert response.json()["error"]["permission"] == "studio.edit"
    studio_a.refresh_from_db()
    gallery_a.refresh_from_db()
    assert studio_a.face_recognition_enabled and gallery_a.face_recognition_enabled
    assert counts(gallery_a) == FULL and audit(gallery_a) == []


def test_an_admin_switching_off_is_recorded_by_name(member_of_a, gallery_a):
    face_data(gallery_a)
    admin, client = member_of_a(Role.ADMIN)
    response = client.patch(f"/api/v1/galleries/{gallery_a.id}/", FACES_OFF, format="json")
    assert response.status_code == 200, response.content
    assert audit(gallery_a) == [(Reason.GALLERY_DISABLED, 6, 2, admin.id, None)]


# --- Deletes with the photo and the gallery -----------------------------------------------------
def test_deleting_a_photo_deletes_its_faces_with_an_audit_row(alice, gallery_a):
    doomed, kept = face_data(gallery_a)
    photo_delete(photo=doomed, by=alice)
    assert counts(gallery_a) == {"faces": 3, "people": 2, "rejections": 0, "index": 1}
    assert not Face.objects.filter(photo_id=doomed.id).exists()
    assert Face.objects.filter(photo=kept).count() == 3
    assert audit(gallery_a) == [(Reason.PHOTO_DELETED, 3, 0, None, doomed.id)]
    assert Person.objects.get(name="Bride").cover_face_id is None
    assert GalleryFaceIndex.objects.get(gallery=gallery_a).dirty  # people need recounting


def test_deleting_a_gallery_deletes_its_face_data_with_one_audit_row(alice, gallery_a, gallery_b):
    face_data(gallery_a)
    face_data(gallery_b)
    gallery_id = gallery_a.id
    gallery_services.gallery_delete(gallery=gallery_a, by=alice)
    assert Face.objects.filter(gallery_id=gallery_id).count() == 0
    assert Person.objects.filter(gallery_id=gallery_id).count() == 0
    assert not GalleryFaceIndex.objects.filter(gallery_id=gallery_id).exists()
    assert list(
        FaceDataDeletion.objects.filter(gallery_id_ref=gallery_id).values_list(
            "reason", "faces_deleted", "people_deleted"
        )
    ) == [(Reason.GALLERY_DELETED, 6, 2)]
    assert counts(gallery_b) == FULL


# --- Retention ----------------------------------------------------------------------------------
def test_retention_deletes_face_data_of_long_expired_galleries(alice, studio_a, gallery_b):
    now = timezone.now()
    studio_a.face_retention_days = 30
    studio_a.save(update_fields=["face_retention_days"])

    def gallery(name: str, expired_days_ago: int | None) -> Gallery:
        made = gallery_services.gallery_create(studio=studio_a, by=alice, name=name)
        if expired_days_ago is not None:
            made.expires_at = now - dt.timedelta(days=expired_days_ago)
            made.save(update_fields=["expires_at"])
        face_data(made)
        return made

    old, recent, forever = gallery("Old", 31), gallery("Recent", 29), gallery("Forever", None)
    Gallery.objects.filter(id=gallery_b.id).update(expires_at=now - dt.timedelta(days=400))
    gallery_b.studio.face_retention_days = 365 * 2
    gallery_b.studio.save(update_fields=["face_retention_days"])
    face_data(gallery_b)

    from faces.tasks import faces_retention_sweep

    assert faces_retention_sweep() == 1
    assert counts(old) == NONE
    assert counts(recent) == FULL and counts(forever) == FULL and counts(gallery_b) == FULL
    assert audit(old) == [(Reason.RETENTION, 6, 2, None, None)]
    assert services.faces_retention_sweep() == 0  # nothing left to do, no new audit rows
    assert len(audit(old)) == 1


def test_a_recreated_index_starts_above_the_deleted_ones_version(alice, gallery_a):
    """A search matrix cached under the old version can never be served again."""
    from faces.pipeline import face_index_mark_dirty

    face_data(gallery_a)
    GalleryFaceIndex.objects.filter(gallery=gallery_a).update(version=10**6)
    services.faces_disable_gallery(gallery=gallery_a, by=alice)
    face_index_mark_dirty(gallery_id=gallery_a.id, studio_id=gallery_a.studio_id)
    assert GalleryFaceIndex.objects.get(gallery=gallery_a).version > 10**6
