"""Faults between the uploader and the service: dropped connections (in a body, or before the
answer), 429 and 503 for a while, expired URLs, a file changing while it is sent, a network
that never comes back."""

from __future__ import annotations

import itertools
import threading

from galleries.models import Photo
from picpick.testing.faultproxy import DropAfter, DropResponse, Forward, Respond
from tests.uploader.conftest import (
    PART,
    assert_each_exactly_once,
    json_lines,
    photo_bytes,
    sha256_b64,
    write_photo,
)


def _event(tmp_path, singles: int = 20, multis: int = 2, parts: int = 3):
    folder = tmp_path / "event"
    files = [write_photo(folder / f"IMG_{i:04d}.JPG", 2500 + i, seed=i) for i in range(singles)]
    files += [
        write_photo(folder / f"RAW_{i}.jpg", (parts - 1) * PART + 777, seed=900 + i)
        for i in range(multis)
    ]
    return folder, files


def _push(service, folder, gallery, *extra):
    return service.run("push", str(folder), "--gallery", str(gallery.id), "--json", *extra)


def test_connections_dropped_mid_body_and_before_the_answer_lose_and_duplicate_nothing(
    service, gallery, s3_storage, tmp_path
):
    folder, files = _event(tmp_path)
    counter = itertools.count()
    lock = threading.Lock()

    def storage_faults(head):
        if not head.presigned:
            return Forward()
        with lock:
            n = next(counter)
        if n % 4 == 1:
            return DropAfter(body_bytes=1000)  # the network goes in the middle of a PUT
        if n % 4 == 2:
            return DropResponse()  # stored, but the answer never arrives
        return Forward()

    api_seen: dict[str, int] = {}

    def api_faults(head):
        # The first start and the first complete take effect but their answers are lost.
        kind = (
            "start"
            if head.path.endswith("/uploads/")
            else ("complete" if head.path.endswith("/complete/") else None)
        )
        if kind is None or head.method != "POST":
            return Forward()
        with lock:
            api_seen[kind] = api_seen.get(kind, 0) + 1
            first = api_seen[kind] == 1
        return DropResponse() if first else Forward()

    service.storage_proxy.decide = storage_faults
    service.api_proxy.decide = api_faults
    service.login()

    result = _push(service, folder, gallery)

    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    summary = json_lines(result.stdout)[-1]
    assert summary["uploaded"] == len(files) and summary["failed"] == []
    assert_each_exactly_once(gallery, files, s3_storage)
    actions = {r.action for r in service.storage_proxy.snapshot()}
    assert {"DropAfter", "DropResponse"} <= actions
    assert api_seen["start"] >= 2 and api_seen["complete"] >= 2


def test_429_with_retry_after_and_503_for_a_while_are_waited_out(
    service, gallery, s3_storage, tmp_path
):
    folder, files = _event(tmp_path, singles=8, multis=1)
    lock = threading.Lock()
    answered = {"api": 0, "storage": 0}
    busy = Respond(
        429,
        b'{"error": {"code": "rate_limited", "message": "Slow down.", "fields": {}}}',
        {"Retry-After": "1"},
    )
    down = Respond(503, b'{"error": {"code": "unavailable", "message": "Busy.", "fields": {}}}')

    def api_faults(head):
        if not head.path.startswith("/api/v1/galleries/") or head.method != "POST":
            return Forward()
        with lock:
            answered["api"] += 1
            n = answered["api"]
        return busy if n <= 2 else down if n <= 4 else Forward()

    def storage_faults(head):
        if not head.presigned:
            return Forward()
        with lock:
            answered["storage"] += 1
            n = answered["storage"]
        return Respond(503, b"<Error><Code>SlowDown</Code></Error>") if n <= 3 else Forward()

    service.login()
    service.api_proxy.decide = api_faults
    service.storage_proxy.decide = storage_faults

    result = _push(service, folder, gallery, "--no-wait")

    assert result.returncode == 0, result.stderr
    assert json_lines(result.stdout)[-1]["uploaded"] == len(files)
    assert_each_exactly_once(gallery, files, s3_storage)
    assert answered["api"] > 4 and answered["storage"] > 3


def test_expired_urls_are_renewed_and_the_upload_goes_on(
    service, gallery, s3_storage, tmp_path, settings
):
    settings.PICPICK_STORAGE_PUT_EXPIRES = 3
    settings.PICPICK_UPLOAD_PART_EXPIRES = 3
    folder, files = _event(tmp_path, singles=3, multis=1, parts=2)
    seen: set[str] = set()
    lock = threading.Lock()

    def late_first_time(head):
        if not head.presigned or head.method != "PUT":
            return Forward()
        with lock:
            first = head.path + head.query.partition("X-Amz")[0] not in seen
            seen.add(head.path + head.query.partition("X-Amz")[0])
        return Forward(delay=4.5 if first else 0)  # the URL expires on the way

    service.login()
    service.storage_proxy.decide = late_first_time

    result = _push(service, folder, gallery, "--no-wait")

    assert result.returncode == 0, result.stderr
    assert_each_exactly_once(gallery, files, s3_storage)
    refused = [r for r in service.storage_proxy.snapshot() if r.status == 403]
    assert len(refused) >= len(files)


def test_a_file_that_changes_while_it_is_sent_is_uploaded_again_not_corrupted(
    service, gallery, s3_storage, tmp_path
):
    folder, files = _event(tmp_path, singles=3, multis=1, parts=4)
    victim = folder / "RAW_0.jpg"
    new_bytes = photo_bytes(3 * PART + 777, seed=4242)
    old_checksum = sha256_b64(victim.read_bytes())
    changed = threading.Event()

    def edit_during_upload(head):
        if head.presigned and "partNumber=2" in head.query and not changed.is_set():
            changed.set()
            victim.write_bytes(new_bytes)  # an editor saves over it mid-upload
        return Forward()

    service.login()
    service.storage_proxy.decide = edit_during_upload

    result = _push(service, folder, gallery, "--no-wait")

    assert result.returncode == 0, result.stderr
    summary = json_lines(result.stdout)[-1]
    assert summary["changed"] == ["RAW_0.jpg"]
    assert changed.is_set()
    assert (
        not Photo.objects.filter(gallery=gallery, checksum=old_checksum)
        .exclude(state=Photo.State.PENDING)
        .exists()
    )
    assert_each_exactly_once(gallery, files, s3_storage)  # the victim with its new bytes


def test_a_network_that_never_comes_back_exits_3_and_says_how_to_resume(service, gallery, tmp_path):
    folder, _ = _event(tmp_path, singles=2, multis=0)
    service.login()
    service.storage_proxy.decide = lambda head: DropAfter(0) if head.presigned else Forward()

    result = _push(service, folder, gallery, "--no-wait")

    assert result.returncode == 3
    summary = json_lines(result.stdout)[-1]
    assert summary["network_error"]
    assert "run the same command again to resume" in summary["hint"].lower()
