"""Pushing a folder with the real CLI: every file exactly once, byte-identical in storage."""

from __future__ import annotations

from galleries.models import Photo
from tests.uploader.conftest import (
    PART,
    assert_each_exactly_once,
    json_lines,
    part_puts,
    write_photo,
)


def test_push_uploads_a_folder_of_photos_once_each_and_a_second_run_sends_nothing(
    service, gallery, s3_storage, tmp_path
):
    folder = tmp_path / "event"
    files = [write_photo(folder / f"IMG_{i:04d}.JPG", 3000 + i, seed=i) for i in range(250)]
    files += [
        write_photo(folder / "card2" / f"DSC_{i:04d}.jpeg", 2 * PART + 999, seed=1000 + i)
        for i in range(3)
    ]
    (folder / "IMG_0001.xmp").write_text("<xmp/>")
    (folder / ".DS_Store").write_bytes(b"x")
    write_photo(folder / ".hidden" / "IMG_9.jpg", 3000, seed=99)
    service.login()

    result = service.run("push", str(folder), "--gallery", str(gallery.id), "--json")

    assert result.returncode == 0, result.stderr + result.stdout
    events = json_lines(result.stdout)
    summary = events[-1]
    assert summary["event"] == "summary"
    assert summary["uploaded"] == 253 and summary["failed"] == [], summary
    assert_each_exactly_once(gallery, files, s3_storage)
    assert len(part_puts(service.storage_proxy)) == 3 * 3
    assert summary["processing"]["processed"] == 253

    again = service.run("push", str(folder), "--gallery", str(gallery.id), "--json")
    assert again.returncode == 0, again.stderr
    summary = json_lines(again.stdout)[-1]
    assert summary["already"] == 253 and summary["uploaded"] == 0
    assert summary["puts"] == 0
    assert Photo.objects.filter(gallery=gallery).count() == 253


def test_a_file_with_more_parts_than_the_first_urls_asks_for_the_rest(
    service, gallery, s3_storage, tmp_path, monkeypatch
):
    from galleries.services.uploads import resume, start

    # The API hands out the first 100 part URLs; here 2, so 5 parts need the parts endpoint.
    monkeypatch.setattr(start, "FIRST_PART_URLS", 2)
    monkeypatch.setattr(resume, "FIRST_PART_URLS", 2)
    big = write_photo(tmp_path / "ev" / "PANO.jpg", 4 * PART + 5, seed=7)
    service.login()

    result = service.run(
        "push",
        str(tmp_path / "ev"),
        "--gallery",
        str(gallery.id),
        "--no-wait",
        "--part-concurrency",
        "3",
    )

    assert result.returncode == 0, result.stderr
    assert sorted(n for _, n in part_puts(service.storage_proxy)) == [1, 2, 3, 4, 5]
    assert any(r.head.path.endswith("/parts/") for r in service.api_proxy.snapshot())
    assert_each_exactly_once(gallery, [big], s3_storage)
