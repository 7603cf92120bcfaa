"""Objects follow their rows: deleted after commit, tagged while the gallery is archived."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from galleries import keys, services
from galleries.services import storage_lifecycle
from tests.delivery.conftest import list_keys, stored_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_retries():
    """Let eager tasks retry in place (Celery re-applies a retry only when the error does
    not propagate), as a worker would after the countdown."""
    from picpick.celery import app

    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def gallery_keys(storage, gallery) -> list[str]:
    return list_keys(storage, keys.gallery_prefix(gallery.studio_id, gallery.id))


def photo_keys(photo) -> list[str]:
    return sorted([photo.original_key, *(d["key"] for d in photo.derivatives.values())])


def s3_tags(storage, key: str) -> dict[str, str]:
    tag_set = storage.client.get_object_tagging(Bucket=storage.bucket, Key=key)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def tags_of(storage, key: str) -> dict[str, str]:
    if hasattr(storage, "get_object_tags"):
        return storage.get_object_tags(key=key)
    return s3_tags(storage, key)


def test_deleting_a_gallery_deletes_its_objects_after_commit(
    alice_client, alice, studio_a, gallery_a, app_storage, django_capture_on_commit_callbacks
):
    for number in range(3):
        stored_photo(app_storage, gallery_a, alice, filename=f"IMG_{number}.jpg")
    other = services.gallery_create(studio=studio_a, by=alice, name="Other")
    kept = stored_photo(app_storage, other, alice)
    assert len(gallery_keys(app_storage, gallery_a)) == 9  # 3 originals + 6 derivatives

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_client.delete(f"/api/v1/galleries/{gallery_a.id}/")
    assert response.status_code == 204
    assert len(gallery_keys(app_storage, gallery_a)) == 9  # nothing before the commit
    for callback in callbacks:
        callback()
    assert gallery_keys(app_storage, gallery_a) == []
    assert gallery_keys(app_storage, other) == photo_keys(kept)


def test_bulk_deleting_photos_deletes_their_objects(
    alice_client, alice, gallery_a, app_storage, django_capture_on_commit_callbacks
):
    gone = [stored_photo(app_storage, gallery_a, alice, filename=f"g{n}.jpg") for n in range(2)]
    stays = stored_photo(app_storage, gallery_a, alice, filename="stays.jpg")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/api/v1/galleries/{gallery_a.id}/photos/bulk/",
            {"action": "delete", "photo_ids": [str(p.id) for p in gone]},
            format="json",
        )
    assert response.status_code == 200
    assert gallery_keys(app_storage, gallery_a) == photo_keys(stays)


def test_deleting_one_photo_deletes_its_objects(
    alice_client, alice, gallery_a, app_storage, django_capture_on_commit_callbacks
):
    photo = stored_photo(app_storage, gallery_a, alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/v1/photos/{photo.id}/").status_code == 204
    assert gallery_keys(app_storage, gallery_a) == []


def test_a_refused_delete_keeps_every_object(
    alice_client, alice, gallery_a, local_storage, django_capture_on_commit_callbacks
):
    photo = stored_photo(local_storage, gallery_a, alice)
    services.gallery_archive(gallery=gallery_a, by=alice)  # archived: photos are frozen
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice_client.delete(f"/api/v1/photos/{photo.id}/")
    assert response.status_code == 409
    assert not [c for c in callbacks if "objects_delete" in repr(c)]
    assert local_storage.head(key=photo.original_key) is not None


def test_failed_deletes_are_retried_with_exactly_the_keys_that_failed(
    alice, gallery_a, local_storage, monkeypatch, django_capture_on_commit_callbacks, eager_retries
):
    photos = [stored_photo(local_storage, gallery_a, alice, filename=f"{n}.jpg") for n in range(2)]
    stubborn = photos[0].original_key
    real = type(local_storage).delete_many
    seen: list[list[str]] = []

    def flaky(self, *, keys):
        keys = list(keys)
        seen.append(keys)
        if len(seen) == 1:  # the first call fails for one key
            return [stubborn, *real(self, keys=[k for k in keys if k != stubborn])]
        return real(self, keys=keys)

    monkeypatch.setattr(type(local_storage), "delete_many", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        services.photos_bulk_action(
            gallery=gallery_a, by=alice, action="delete", photo_ids=[str(p.id) for p in photos]
        )
    assert len(seen) == 2 and len(seen[0]) == 6
    assert seen[1] == [stubborn]  # the retry carries only what failed
    assert gallery_keys(local_storage, gallery_a) == []


def test_a_delete_that_keeps_failing_is_logged_with_its_keys_and_raised(
    local_storage, monkeypatch, caplog, eager_retries
):
    from galleries.tasks import objects_delete

    calls = []

    def failing(self, *, keys):
        calls.append(keys)
        return list(keys)

    monkeypatch.setattr(type(local_storage), "delete_many", failing)
    monkeypatch.setattr(objects_delete, "max_retries", 2)
    result = objects_delete.delay(["studios/x/galleries/y/originals/z.jpg"], "test")
    assert result.failed()
    assert len(calls) == 3  # the first try and two retries
    assert "giving up deleting ['studios/x/galleries/y/originals/z.jpg']" in caplog.text


def test_archiving_tags_the_originals_and_unarchiving_removes_the_tags(
    alice_client, alice, gallery_a, app_storage, django_capture_on_commit_callbacks
):
    photos = [stored_photo(app_storage, gallery_a, alice, filename=f"{n}.jpg") for n in range(3)]
    pending = stored_photo(
        app_storage, gallery_a, alice, filename="p.jpg", state="pending", derivatives=()
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/v1/galleries/{gallery_a.id}/archive/").status_code == 200
    for photo in photos:
        assert tags_of(app_storage, photo.original_key) == {"archived": "true"}
        assert tags_of(app_storage, photo.derivatives["thumb"]["key"]) == {}  # never tagged
    assert app_storage.head(key=pending.original_key) is None

    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.post(f"/api/v1/galleries/{gallery_a.id}/unarchive/").status_code == 200
    for photo in photos:  # the lifecycle rule matches archived=true only
        assert tags_of(app_storage, photo.original_key) == {"archived": "false"}


def test_tagging_resumes_in_short_runs(alice, gallery_a, local_storage, monkeypatch):
    photos = [stored_photo(local_storage, gallery_a, alice, filename=f"{n}.jpg") for n in range(3)]
    services.gallery_archive(gallery=gallery_a, by=alice)
    monkeypatch.setattr(storage_lifecycle, "TAG_BATCH", 1)
    cursor = storage_lifecycle.gallery_archive_tags_sync(gallery_id=gallery_a.id, budget_seconds=0)
    ordered = sorted(photos, key=lambda p: p.id)
    assert cursor == str(ordered[0].id)
    assert [tags_of(local_storage, p.original_key) for p in ordered] == [
        {"archived": "true"},
        {},
        {},
    ]
    while cursor is not None:
        cursor = storage_lifecycle.gallery_archive_tags_sync(
            gallery_id=gallery_a.id, after=cursor, budget_seconds=0
        )
    assert all(tags_of(local_storage, p.original_key) == {"archived": "true"} for p in photos)


def test_a_tagging_failure_is_retried_from_where_it_stopped(
    alice, gallery_a, local_storage, monkeypatch, eager_retries
):
    photos = sorted(
        [stored_photo(local_storage, gallery_a, alice, filename=f"{n}.jpg") for n in range(3)],
        key=lambda p: p.id,
    )
    services.gallery_archive(gallery=gallery_a, by=alice)
    real = type(local_storage).set_object_tags
    calls: list[str] = []

    def flaky(self, *, key, tags):
        calls.append(key)
        if len(calls) == 2:
            from picpick.core.storage import StorageError

            raise StorageError("S3 put_object_tagging failed: slow down")
        return real(self, key=key, tags=tags)

    monkeypatch.setattr(type(local_storage), "set_object_tags", flaky)
    from galleries.tasks import gallery_archive_tags_sync

    gallery_archive_tags_sync.delay(str(gallery_a.id))
    # first run: photo 0 ok, photo 1 fails; the retry resumes after photo 0
    assert calls == [p.original_key for p in [photos[0], photos[1], photos[1], photos[2]]]
    assert all(tags_of(local_storage, p.original_key) == {"archived": "true"} for p in photos)


def test_lifecycle_command_configures_the_bucket(s3_settings, settings):
    settings.PICPICK_ARCHIVE_TRANSITION_DAYS = 45
    call_command("storage_lifecycle_ensure", stdout=open("/dev/null", "w"))  # noqa: SIM115
    rules = s3_settings.client.get_bucket_lifecycle_configuration(Bucket=s3_settings.bucket)
    by_id = {rule["ID"]: rule for rule in rules["Rules"]}
    archive = by_id["picpick-archive-tagged"]
    assert archive["Filter"]["Tag"] == {"Key": "archived", "Value": "true"}
    assert archive["Transitions"] == [{"Days": 45, "StorageClass": "GLACIER_IR"}]
    abort = by_id["picpick-abort-incomplete-multipart"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_lifecycle_command_is_harmless_on_local_storage(local_storage, capsys):
    call_command("storage_lifecycle_ensure")
    assert "archived=true -> GLACIER_IR" in capsys.readouterr().out
