"""Delivery: the cost of URLs in a page of 100 photos, and ZIP build throughput and memory.

Storage is the S3 backend on a moto server started as a separate process (so its in-memory
bucket is not counted as our memory), over HTTP on loopback.

- ``delivery.photo_list_urls``: the URL step of ``GET /galleries/{id}/photos/?page_size=100``
  (``photo_urls_many`` for thumb + preview: two ``presign_get_many`` calls), median;
- ``delivery.photo_list_with_urls`` / ``..._without_urls``: the whole endpoint for the same
  100 photos with and without derivatives, median; the difference is what URLs cost;
- ``delivery.zip_throughput``: ``download_build`` of 200 x 1 MiB originals into a multipart
  upload (16 MiB parts) on moto, MB/s of original data (loopback and moto bound: real S3
  from EC2 is faster; the point is that the build streams);
- ``delivery.zip_peak_memory``: peak Python allocations during that build (tracemalloc, a
  second run), which stays near two parts whatever the gallery size.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from bench import Result
from bench.django_env import fresh_database
from bench.seed import ready_photos, studio_with_owner

PAGE = 100
RUNS = 15
ZIP_FILES = 200
ZIP_FILE_BYTES = 1024 * 1024
URL_TARGET_MS = 50.0
ZIP_TARGET_MBPS = 20.0  # moto on loopback, one worker thread
MEMORY_TARGET_MB = 64.0  # ~2 parts of 16 MiB, plus a chunk and the interpreter's churn

ACCESS_KEY, SECRET_KEY, REGION, BUCKET = (
    "AKIABENCHDELIVERY001",
    "bench-secret",
    "eu-west-1",
    "bench",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    binary = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(  # noqa: S603 - our own venv's moto_server, fixed arguments
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto_server did not start")


def _median_ms(action, runs: int = RUNS) -> float:
    action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _seed(storage):
    from galleries import keys
    from galleries.models import Gallery, Photo
    from picpick.testing.factories import GalleryFactory, StudioUsageFactory

    studio, owner = studio_with_owner(slug="bench-studio")
    StudioUsageFactory(studio=studio)

    def gallery_with(count: int, *, slug: str, derivatives: bool) -> Gallery:
        gallery = GalleryFactory(studio=studio, name=slug, slug=slug, photo_count=count)
        photos = ready_photos(
            studio,
            gallery,
            count,
            size=ZIP_FILE_BYTES,
            derivatives=("thumb", "preview") if derivatives else (),
            derivative_shape=(400, 267, 30_000),
        )
        for photo in photos:
            photo.original_key = keys.original_key(studio.id, gallery.id, photo.id, photo.filename)
        Photo.objects.bulk_create(photos)
        return gallery

    return studio, owner, gallery_with


def run() -> list[Result]:
    os.environ.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION
    )
    moto, endpoint = _start_moto()
    try:
        with fresh_database():
            from django.conf import settings
            from django.test import Client

            settings.PICPICK_STORAGE = "s3"
            settings.PICPICK_S3_BUCKET = BUCKET
            settings.PICPICK_S3_REGION = REGION
            settings.PICPICK_S3_ENDPOINT_URL = endpoint
            settings.PICPICK_S3_ADDRESSING_STYLE = "path"

            from picpick.celery import app

            # The request queues the build after commit; the benchmark runs it itself.
            app.conf.task_always_eager = False

            from accounts.tokens import token_pair_for
            from galleries.models import Photo
            from galleries.selectors.delivery import photo_urls_many
            from galleries.services import downloads
            from picpick.core.storage import get_storage

            get_storage.cache_clear()
            storage = get_storage()
            storage.client.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            studio, owner, gallery_with = _seed(storage)
            with_urls = gallery_with(PAGE, slug="with-urls", derivatives=True)
            without_urls = gallery_with(PAGE, slug="without-urls", derivatives=False)
            access = token_pair_for(user=owner, studio=studio)["access"]
            client = Client(HTTP_AUTHORIZATION=f"Bearer {access}")

            def page(gallery):
                def get():
                    response = client.get(
                        f"/api/v1/galleries/{gallery.id}/photos/", {"page_size": PAGE}
                    )
                    assert response.status_code == 200, response.content[:300]

                return get

            photos = list(Photo.objects.filter(gallery=with_urls).order_by("position"))
            url_step = _median_ms(lambda: photo_urls_many(photos=photos))
            endpoint_with = _median_ms(page(with_urls))
            endpoint_without = _median_ms(page(without_urls))

            # --- ZIP: 200 x 1 MiB originals really in the bucket ---
            zip_gallery = gallery_with(ZIP_FILES, slug="zip", derivatives=False)
            for n, photo in enumerate(Photo.objects.filter(gallery=zip_gallery)):
                body = bytes([n % 251]) * ZIP_FILE_BYTES
                storage.put_object(key=photo.original_key, body=body, content_type="image/jpeg")

            def build() -> float:
                job, _ = downloads.download_job_request(
                    gallery=zip_gallery, by=owner, size="original"
                )
                started = time.perf_counter()
                done = downloads.download_build(job_id=job.id)
                seconds = time.perf_counter() - started
                assert done is not None and done.state == "ready", done and done.failure_message
                assert done.files_done == ZIP_FILES
                done.delete()  # the next request builds again instead of reusing it
                return seconds

            seconds = build()
            tracemalloc.start()
            build()
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            get_storage.cache_clear()
    finally:
        moto.terminate()
        moto.wait(timeout=10)

    megabytes = ZIP_FILES * ZIP_FILE_BYTES / 1e6
    return [
        Result.at_most("delivery.photo_list_urls (x100, SigV4)", url_step, "ms", URL_TARGET_MS),
        Result.at_most(
            "delivery.photo_list_with_urls (page of 100)", endpoint_with, "ms", URL_TARGET_MS
        ),
        Result.at_most(
            "delivery.photo_list_without_urls (page of 100)",
            endpoint_without,
            "ms",
            URL_TARGET_MS,
        ),
        Result(
            name="delivery.zip_throughput (200 x 1 MiB, moto)",
            value=round(megabytes / seconds, 1),
            unit="MB/s",
            target=ZIP_TARGET_MBPS,
            ok=megabytes / seconds >= ZIP_TARGET_MBPS,
        ),
        Result.at_most(
            "delivery.zip_peak_memory (tracemalloc)", peak / 1e6, "MB", MEMORY_TARGET_MB
        ),
    ]
