"""Live progress of a 20,000-photo gallery: the snapshot, its polling endpoint, and how long a
change takes to reach a client of the event stream served by uvicorn (``picpick.asgi``).

The contract measured: ``galleries.selectors.progress.gallery_progress`` reads a gallery's counts
in three aggregate queries whatever its size; ``GET /api/v1/galleries/{id}/progress/`` answers
them; a change committed by a worker reaches an open ``GET .../events/`` stream within a fraction
of a second through Redis (``REDIS_URL`` set; those rows are left out without it) and within the
fallback's poll interval through the database.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time

from bench import Result, percentile
from bench.django_env import fresh_database
from bench.seed import ready_photos, studio_with_owner

PHOTOS = 20_000
FACES = 10_000
PEOPLE = 300
SNAPSHOTS = 100
POLLS = 100
REDIS_CHANGES = 30
FALLBACK_CHANGES = 8
# A snapshot aggregates the gallery's photo rows (about 1 µs a row on SQLite): it is read at
# most four times a second per gallery (coalesced) and shared by every listener through Redis.
TARGET_SNAPSHOT_MEDIAN_MS = 50
TARGET_POLL_MEDIAN_MS = 60
TARGET_POLL_P99_MS = 250  # a dashboard polling every few seconds
TARGET_REDIS_P99_MS = 250
TARGET_FALLBACK_P99_MS = 1600  # the poll interval (1 s) and one snapshot


def _seed():
    import numpy as np

    from faces.models import Face, Person
    from galleries.models import Photo
    from picpick.testing.factories import GalleryFactory

    studio, owner = studio_with_owner(slug="bench-progress")
    gallery = GalleryFactory(studio=studio, name="Big event", slug="big-event")
    photos = ready_photos(studio, gallery, PHOTOS)
    for index, photo in enumerate(photos):  # an event half processed
        if index % 2:
            photo.state = Photo.State.UPLOADED
    Photo.objects.bulk_create(photos, batch_size=1000)
    people = [
        Person(studio=studio, gallery=gallery, face_count=FACES // PEOPLE) for _ in range(PEOPLE)
    ]
    Person.objects.bulk_create(people, batch_size=1000)
    embedding = np.zeros(128, dtype="<f4").tobytes()
    faces = [
        Face(
            studio=studio,
            gallery=gallery,
            photo=photos[(2 * n) % PHOTOS],
            left=10,
            top=10,
            right=110,
            bottom=130,
            embedding=embedding,
            person=people[n % PEOPLE],
        )
        for n in range(FACES)
    ]
    Face.objects.bulk_create(faces, batch_size=1000)
    uploaded = [p.id for p in photos if p.state == Photo.State.UPLOADED]
    return studio, owner, gallery, uploaded


def _serve():
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            "picpick.asgi:application", lifespan="off", log_level="warning", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _events(response):
    """Progress events of an open stream, as dicts (keep-alives skipped)."""
    data = None
    for line in response.iter_lines():
        if line.startswith("data:"):
            data = json.loads(line.removeprefix("data:").strip())
        elif line == "" and data is not None:
            yield data
            data = None


def _change_latencies(url: str, token: str, gallery, photo_ids: list, count: int) -> list[float]:
    """Mark photos failed one by one as a worker would, and time each until the stream shows it."""
    import httpx

    from galleries.models import Photo
    from galleries.services.progress import gallery_progress_changed

    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=30)) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code != 200:
            raise AssertionError(f"the stream answered {response.status_code}")
        events = _events(response)
        failed = next(events)["failed"]
        for photo_id in photo_ids[:count]:
            time.sleep(0.3)  # apart from the last publish: each change is a leading one
            started = time.perf_counter()
            Photo.objects.filter(id=photo_id).update(state=Photo.State.FAILED)
            gallery_progress_changed(gallery_id=gallery.id)
            failed += 1
            while next(events)["failed"] < failed:
                pass
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def run() -> list[Result]:
    with fresh_database():
        from django.conf import settings
        from django.test import Client

        from accounts.tokens import token_pair_for
        from galleries.selectors.progress import gallery_progress

        studio, owner, gallery, uploaded = _seed()
        results: list[Result] = []

        for _ in range(5):
            gallery_progress(gallery_id=gallery.id)
        timings = []
        for _ in range(SNAPSHOTS):
            started = time.perf_counter()
            snapshot = gallery_progress(gallery_id=gallery.id)
            timings.append((time.perf_counter() - started) * 1000)
        if (snapshot.photos, snapshot.faces, snapshot.people) != (PHOTOS, FACES, PEOPLE):
            raise AssertionError(f"wrong snapshot: {snapshot}")
        results.append(
            Result.at_most(
                "progress.snapshot_20k_photos_median",
                statistics.median(timings),
                "ms",
                TARGET_SNAPSHOT_MEDIAN_MS,
            )
        )

        token = token_pair_for(user=owner, studio=studio)["access"]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        url = f"/api/v1/galleries/{gallery.id}/progress/"
        timings = []
        for _ in range(POLLS):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise AssertionError(f"GET {url} answered {response.status_code}")
        results.append(
            Result.at_most(
                "progress.poll_endpoint_median",
                statistics.median(timings),
                "ms",
                TARGET_POLL_MEDIAN_MS,
            )
        )
        results.append(
            Result.at_most(
                "progress.poll_endpoint_p99", percentile(timings, 0.99), "ms", TARGET_POLL_P99_MS
            )
        )

        server, thread, base = _serve()
        stream_url = f"{base}/api/v1/galleries/{gallery.id}/events/"
        try:
            redis_url = settings.REDIS_URL
            if redis_url:
                samples = _change_latencies(stream_url, token, gallery, uploaded, REDIS_CHANGES)
                results.append(
                    Result.at_most(
                        "progress.redis_change_to_event_p99",
                        percentile(samples, 0.99),
                        "ms",
                        TARGET_REDIS_P99_MS,
                    )
                )
            settings.REDIS_URL = ""  # the database fallback of `make run`
            try:
                samples = _change_latencies(
                    stream_url, token, gallery, uploaded[REDIS_CHANGES:], FALLBACK_CHANGES
                )
            finally:
                settings.REDIS_URL = redis_url
            results.append(
                Result.at_most(
                    "progress.fallback_change_to_event_p99",
                    percentile(samples, 0.99),
                    "ms",
                    TARGET_FALLBACK_P99_MS,
                )
            )
        finally:
            server.should_exit = True
            thread.join(timeout=30)
        return results
