"""Resuming anything: a push stopped by Ctrl-C, then killed with SIGKILL mid-upload, then run
again sends only what is missing -- no part storage already has, no file twice."""

from __future__ import annotations

import json
import signal
import time

from galleries.models import Photo, Upload
from picpick.core.storage import UploadNotFound
from picpick.testing.faultproxy import DropAfter, Forward
from tests.uploader.conftest import (
    PART,
    assert_each_exactly_once,
    json_lines,
    part_puts,
    wait_for,
    write_photo,
)


def _parts_recorded(service) -> int:
    if not service.state_db.exists():
        return 0
    try:
        return service.state_rows("SELECT count(*) FROM parts")[0][0]
    except Exception:  # the db is being created
        return 0


def _stored_parts(s3_storage, gallery) -> set[tuple[str, int]]:
    """(object path as the proxy sees it, part number) of every part storage holds."""
    have = set()
    for upload in Upload.objects.filter(gallery=gallery).exclude(multipart_upload_id=""):
        try:
            parts = s3_storage.list_parts(key=upload.key, upload_id=upload.multipart_upload_id)
        except UploadNotFound:  # completed (assembled) already: no parts left to list
            continue
        for part in parts:
            have.add((f"/{s3_storage.bucket}/{upload.key}", part.part_number))
    return have


def test_a_push_interrupted_then_killed_resumes_without_sending_a_stored_part_again(
    service, gallery, s3_storage, tmp_path
):
    folder = tmp_path / "event"
    files = [write_photo(folder / f"IMG_{i:04d}.JPG", 2000 + i, seed=i) for i in range(30)]
    files += [write_photo(folder / f"BIG_{i}.jpg", 5 * PART + 1234, seed=500 + i) for i in range(3)]
    service.login()
    # Storage is slow for the first runs: each presigned PUT waits a little.
    service.storage_proxy.decide = lambda head: Forward(delay=0.2 if head.presigned else 0)
    args = (
        "push",
        str(folder),
        "--gallery",
        str(gallery.id),
        "--json",
        "--no-wait",
        "--concurrency",
        "2",
        "--part-concurrency",
        "2",
    )

    # Ctrl-C: stops cleanly, says how to resume.
    first = service.popen(*args)
    wait_for(lambda: _parts_recorded(service) >= 2, what="two parts sent")
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert "run the same command again to resume" in (out + err).lower()

    # kill -9 a little later.
    second = service.popen(*args)
    before = _parts_recorded(service)
    wait_for(lambda: _parts_recorded(service) >= before + 3, what="three more parts")
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    time.sleep(0.5)  # the killed connections' requests end in storage
    stored_parts = _stored_parts(s3_storage, gallery)
    stored_objects = {
        f"/{s3_storage.bucket}/{key}"
        for key in Upload.objects.filter(gallery=gallery, multipart_upload_id="").values_list(
            "key", flat=True
        )
        if s3_storage.head(key=key) is not None
    }
    assert stored_parts, "the kill came before any part was stored"
    seen_before = len(service.storage_proxy.snapshot())

    service.storage_proxy.decide = lambda head: Forward()
    third = service.run(*args)

    assert third.returncode == 0, third.stderr
    summary = json_lines(third.stdout)[-1]
    assert summary["failed"] == []
    assert_each_exactly_once(gallery, files, s3_storage)
    later = service.storage_proxy.snapshot()[seen_before:]
    resent_parts = {
        (r.head.path, int(r.head.query.split("partNumber=")[1].split("&")[0]))
        for r in later
        if r.head.method == "PUT" and r.head.presigned and "partNumber=" in r.head.query
    }
    assert not resent_parts & stored_parts
    # A single PUT of a stored file may be tried once more (storage answers 412, nothing
    # is written): what counts is that it never stored a second copy -- checked above.
    rewritten = [
        r
        for r in later
        if r.head.method == "PUT" and r.head.path in stored_objects and r.status == 200
    ]
    assert rewritten == []
    assert len(part_puts(service.storage_proxy)) >= 3 * 6
    assert Photo.objects.filter(gallery=gallery).count() == len(files)


def test_a_file_deleted_between_runs_has_its_started_upload_cancelled(
    service, gallery, s3_storage, tmp_path
):
    folder = tmp_path / "event"
    keep = write_photo(folder / "keep.jpg", 3000, seed=1)
    doomed = write_photo(folder / "doomed.jpg", 3 * PART + 5, seed=2)
    service.login()
    # The first run sends nothing to storage: it starts both uploads, then the network is gone.
    service.storage_proxy.decide = lambda head: DropAfter(0) if head.presigned else Forward()
    first = service.run("push", str(folder), "--gallery", str(gallery.id), "--no-wait")
    assert first.returncode == 3
    assert Upload.objects.filter(gallery=gallery, state="pending").count() == 2
    doomed.unlink()
    service.storage_proxy.decide = lambda head: Forward()

    second = service.run("push", str(folder), "--gallery", str(gallery.id), "--no-wait", "--json")

    assert second.returncode == 0, second.stderr
    summary = json_lines(second.stdout)[-1]
    assert summary["vanished"] == ["doomed.jpg"] and summary["uploaded"] == 1
    assert Upload.objects.get(filename="doomed.jpg").state == "aborted"
    assert_each_exactly_once(gallery, [keep], s3_storage)
    status = json.loads(service.run("status", "--json").stdout)["pushes"][0]
    assert (status["files_done"], status["files_left"]) == (1, 0)


def test_a_folder_renamed_between_runs_takes_over_the_uploads_it_had_started(
    service, gallery, s3_storage, tmp_path
):
    before = tmp_path / "Card 1"
    for i in range(4):
        write_photo(before / f"IMG_{i}.jpg", 3000, seed=i)
    service.login()
    service.storage_proxy.decide = lambda head: DropAfter(0) if head.presigned else Forward()
    assert (
        service.run("push", str(before), "--gallery", str(gallery.id), "--no-wait").returncode == 3
    )
    after = before.rename(tmp_path / "Smith ceremony")
    service.storage_proxy.decide = lambda head: Forward()

    result = service.run("push", str(after), "--gallery", str(gallery.id), "--no-wait", "--json")

    assert result.returncode == 0, result.stderr
    summary = json_lines(result.stdout)[-1]
    assert (summary["uploaded"], summary["duplicates"]) == (4, 0), result.stdout
    assert_each_exactly_once(gallery, sorted(after.iterdir()), s3_storage)


def test_uploads_the_server_swept_while_the_laptop_was_shut_start_over(
    service, gallery, s3_storage, tmp_path
):
    from datetime import timedelta

    from django.utils import timezone

    from galleries.services.uploads import uploads_sweep

    folder = tmp_path / "event"
    files = [write_photo(folder / f"IMG_{i}.jpg", 3000, seed=i) for i in range(3)]
    files.append(write_photo(folder / "BIG.jpg", 2 * PART + 9, seed=9))
    service.login()
    service.storage_proxy.decide = lambda head: DropAfter(0) if head.presigned else Forward()
    assert (
        service.run("push", str(folder), "--gallery", str(gallery.id), "--no-wait").returncode == 3
    )
    # A day later: the sweeper expired the abandoned uploads.
    uploads_sweep(now=timezone.now() + timedelta(days=2))
    assert set(Upload.objects.filter(gallery=gallery).values_list("state", flat=True)) == {
        "expired"
    }
    service.storage_proxy.decide = lambda head: Forward()

    result = service.run("push", str(folder), "--gallery", str(gallery.id), "--no-wait", "--json")

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout)[-1]["uploaded"] == 4
    assert_each_exactly_once(gallery, files, s3_storage)
