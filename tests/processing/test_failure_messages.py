"""A failed photo tells the studio a code and a clean message: never the worker's own paths."""

from __future__ import annotations

import re
import tempfile

import pytest

from galleries import imaging
from galleries.models import Photo
from galleries.services.processing import photo_process_ensure
from tests.processing.conftest import jpeg, upload

pytestmark = pytest.mark.django_db


def assert_clean(photo: Photo) -> None:
    message = photo.failure_message
    assert message and photo.failure_code
    assert tempfile.gettempdir() not in message, message
    assert "picpick-" not in message and "original." not in message, message  # the worker's copy
    assert not re.search(r"(^|[\s'(])/\w", message), message  # no absolute path of any kind


def test_a_file_that_is_not_an_image_fails_without_the_workers_path(
    local_storage, gallery_a, alice
):
    photo = upload(gallery_a, alice, b"these are my wedding notes, not a photo" * 20, "notes.jpg")
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "unreadable")
    assert_clean(photo)
    assert "notes.jpg" in photo.failure_message  # the photo's own name stands for the file


@pytest.mark.parametrize(
    "error",
    [
        OSError(2, "No such file or directory", "/var/cache/w7/picpick-photo-x1y2/original.jpg"),
        ValueError("decoder error reading /srv/worker/picpick-photo-abc/original.jpg at 12"),
        RuntimeError("broken data in 'C:\\Temp\\picpick-photo-q\\original.nef'"),
    ],
    ids=["oserror", "path-in-text", "windows-path"],
)
def test_a_decoder_error_naming_a_path_is_cleaned(
    local_storage, gallery_a, alice, monkeypatch, error
):
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(imaging, "decode", broken)
    photo = upload(gallery_a, alice, jpeg(), "IMG_0042.jpg")
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert (photo.state, photo.failure_code) == (Photo.State.FAILED, "unreadable")
    assert_clean(photo)
    assert "\\" not in photo.failure_message


def test_a_clean_message_keeps_its_words(local_storage, gallery_a, alice, monkeypatch):
    def broken(*args, **kwargs):
        raise IndexError("tile 3/4 out of range (JPEG/PNG only)")

    monkeypatch.setattr(imaging, "decode", broken)
    photo = upload(gallery_a, alice, jpeg())
    photo_process_ensure(photo_id=photo.id)
    photo.refresh_from_db()
    assert "tile 3/4 out of range (JPEG/PNG only)" in photo.failure_message
