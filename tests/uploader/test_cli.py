"""The CLI's other promises: login and its session, another studio's gallery, duplicates from
another folder, albums, --new-gallery once, status, watch."""

from __future__ import annotations

import json
import signal
import time

from galleries import services
from galleries.models import Album, Gallery, Photo
from tests.uploader.conftest import (
    assert_each_exactly_once,
    json_lines,
    wait_for,
    write_photo,
)


def test_login_keeps_a_private_session_that_refreshes_itself(service, gallery, tmp_path):
    result = service.login()
    assert "alice@example.com" in result.stdout and "annasmith" in result.stdout
    session_file = service.home / "config" / "session.json"
    assert session_file.stat().st_mode & 0o777 == 0o600
    session = json.loads(session_file.read_text())
    # An access token the server no longer takes: the next request refreshes the pair.
    session["access"] = session["access"][:-4] + "AAAA"
    session_file.write_text(json.dumps(session))
    old_refresh = session["refresh"]
    write_photo(tmp_path / "one" / "a.jpg", 3000, seed=1)

    pushed = service.run(
        "push", str(tmp_path / "one"), "--gallery", str(gallery.id), "--json", "--no-wait"
    )

    assert pushed.returncode == 0, pushed.stderr
    renewed = json.loads(session_file.read_text())
    assert renewed["refresh"] != old_refresh
    assert session_file.stat().st_mode & 0o777 == 0o600
    assert service.run("logout").returncode == 0
    assert not session_file.exists()
    again = service.run("push", str(tmp_path / "one"), "--gallery", str(gallery.id))
    assert again.returncode == 2 and "login" in again.stderr


def test_wrong_password_and_a_studio_the_user_is_not_in_exit_2(service, studio_b):
    wrong = service.run(
        "login",
        "--api",
        service.api,
        "--email",
        "alice@example.com",
        "--password-stdin",
        stdin="nope\n",
    )
    assert wrong.returncode == 2 and "incorrect" in wrong.stderr
    other = service.run(
        "login",
        "--api",
        service.api,
        "--email",
        "alice@example.com",
        "--password-stdin",
        "--studio",
        "bobsweddings",
        stdin="correct horse battery staple\n",
    )
    assert other.returncode == 2 and "not a member" in other.stderr


def test_another_studios_gallery_is_not_found_with_a_clear_message(
    service, studio_b, bob, tmp_path
):
    theirs = services.gallery_create(studio=studio_b, by=bob, name="Bob's gallery")
    write_photo(tmp_path / "one" / "a.jpg", 3000, seed=1)
    service.login()

    result = service.run("push", str(tmp_path / "one"), "--gallery", str(theirs.id))

    assert result.returncode == 2
    assert f"Gallery not found: {theirs.id}" in result.stderr
    assert not Photo.objects.filter(gallery=theirs).exists()
    bad = service.run("push", str(tmp_path / "one"), "--gallery", "not-a-uuid")
    assert bad.returncode == 2 and "Gallery not found" in bad.stderr
    assert (
        service.run("push", str(tmp_path / "nowhere"), "--gallery", str(theirs.id)).returncode == 2
    )


def test_a_second_folder_with_the_same_photos_skips_them_as_duplicates(
    service, gallery, s3_storage, tmp_path
):
    first = [write_photo(tmp_path / "a" / f"IMG_{i}.jpg", 3000, seed=i) for i in range(5)]
    copies = [write_photo(tmp_path / "b" / f"copy_{i}.jpg", 3000, seed=i) for i in range(5)]
    new = write_photo(tmp_path / "b" / "new.jpg", 3000, seed=77)
    service.login()
    assert (
        service.run(
            "push", str(tmp_path / "a"), "--gallery", str(gallery.id), "--no-wait"
        ).returncode
        == 0
    )

    result = service.run(
        "push", str(tmp_path / "b"), "--gallery", str(gallery.id), "--json", "--no-wait"
    )

    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)
    summary = events[-1]
    assert (summary["uploaded"], summary["duplicates"]) == (1, 5)
    skipped = [e for e in events if e["event"] == "file_skipped"]
    assert {e["path"] for e in skipped} == {p.name for p in copies}
    assert {e["reason"] for e in skipped} == {"duplicate"}
    assert_each_exactly_once(gallery, [*first, new], s3_storage)


def test_new_gallery_and_album_are_made_once_and_status_reports_the_push(
    service, studio_a, s3_storage, tmp_path
):
    files = [write_photo(tmp_path / "ev" / f"IMG_{i}.jpg", 3000, seed=i) for i in range(4)]
    service.login()
    args = ("push", str(tmp_path / "ev"), "--new-gallery", "Jones Party", "--album", "Dinner")

    first = service.run(*args, "--json")
    files.append(write_photo(tmp_path / "ev" / "IMG_late.jpg", 3000, seed=99))
    second = service.run(*args, "--json")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    gallery = Gallery.objects.get(studio=studio_a, name="Jones Party")
    album = Album.objects.get(gallery=gallery, name="Dinner")
    assert set(Photo.objects.filter(gallery=gallery).values_list("album_id", flat=True)) == {
        album.id
    }
    assert_each_exactly_once(gallery, files, s3_storage)
    summary = json_lines(second.stdout)[-1]
    assert (summary["uploaded"], summary["already"]) == (1, 4)
    assert summary["processing"]["processed"] >= 5

    status = service.run("status", "--json")
    assert status.returncode == 0, status.stderr
    (push,) = json.loads(status.stdout)["pushes"]
    assert push["gallery_id"] == str(gallery.id)
    assert (push["files_done"], push["files_left"], push["last_outcome"]) == (5, 0, "done")
    assert push["server_progress"]["processed"] >= 5
    text = service.run("status")
    assert "5 uploaded" in text.stdout and "Jones Party" in text.stdout


def test_watch_uploads_a_photo_written_slowly_after_it_started(
    service, gallery, s3_storage, tmp_path
):
    folder = tmp_path / "tether"
    existing = write_photo(folder / "IMG_0001.jpg", 3000, seed=1)
    service.login()
    watcher = service.popen(
        "watch", str(folder), "--gallery", str(gallery.id), "--settle", "0.5", "--json"
    )
    try:
        wait_for(lambda: Photo.objects.filter(gallery=gallery).count() == 1, what="first")
        from tests.uploader.conftest import photo_bytes

        data = photo_bytes(200_000, seed=2)
        late = folder / "IMG_0002.jpg"
        with late.open("wb") as handle:  # a camera writing over USB, in pieces
            for start in range(0, len(data), 40_000):
                handle.write(data[start : start + 40_000])
                handle.flush()
                time.sleep(0.3)
        (folder / "IMG_0002.xmp").write_text("<xmp/>")
        wait_for(
            lambda: (
                service.state_rows("SELECT count(*) FROM files WHERE state='completed'") == [(2,)]
            ),
            what="the late photo",
        )
    finally:
        watcher.send_signal(signal.SIGINT)
        out, err = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, err
    summary = json_lines(out)[-1]
    assert summary["event"] == "summary" and summary["uploaded"] == 2
    assert_each_exactly_once(gallery, [existing, late], s3_storage)


def test_an_account_with_several_studios_picks_one_with_studio(service, gallery, alice):
    from accounts.models import Role
    from picpick.testing.factories import MembershipFactory, StudioFactory

    second = StudioFactory(name="Anna's Second Studio", slug="annasecond")
    MembershipFactory(studio=second, user=alice, role=Role.OWNER)

    plain = service.login()
    assert "choose with --studio" in plain.stdout
    chosen = service.login("alice@example.com", "--studio", "annasecond")

    assert "annasecond" in chosen.stdout
    session = json.loads((service.home / "config" / "session.json").read_text())
    assert (session["studio_id"], session["studio_slug"]) == (str(second.id), "annasecond")
    # The gallery of the first studio is not one of this studio's.
    (service.home / "one").mkdir()
    result = service.run("push", str(service.home / "one"), "--gallery", str(gallery.id))
    assert result.returncode == 2 and "Gallery not found" in result.stderr
