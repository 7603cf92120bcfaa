"""Selfie search latency: the exact search step at 10^4–10^6 faces, index build, end to end.

Synthetic galleries: people are random unit centres, each face its centre plus Gaussian
noise (≈0.45 between two faces of one person, ≈1.4 between people, like dlib's embeddings),
40 faces per person, so a search returns ~40 faces as at a wedding.

Measured:

- the search step alone (``faces.matching.search`` + ``best_per_photo`` on the in-memory
  matrix, queries drawn from the gallery's people): p50/p95 ms at 10^4, 10^5, 10^6 faces;
- building the index from its rows (10^5 faces: bytes -> matrix, id codes, norms), without
  and with the database query;
- end to end at 10^5 faces: ``POST /api/v1/public/galleries/{id}/selfie-search/`` through
  Django's test client with a real selfie of the shared photos (decode, detection, encoding,
  the version query, the search, the photo rows, the presigned URLs), p50/p95 ms, the index
  already cached as it is after the first search of a process. 40 gallery faces near the
  selfie's own embedding make the answer a realistic page.
"""

from __future__ import annotations

import statistics
import time
import uuid

import numpy as np

from bench import Result, percentile
from bench.django_env import fresh_database

SIZES = (10_000, 100_000, 1_000_000)
FACES_PER_PERSON = 40
SEARCHES = 60
E2E_FACES = 100_000
E2E_PHOTOS = 3_000
E2E_REQUESTS = 30
# The target is 20 ms at 10^5; 10^4 is held to the same; at 10^6 the search may take
# what the end-to-end budget (300 ms) leaves after the selfie's detection (~200 ms).
TARGET_SEARCH_MS = {10_000: 20, 100_000: 20, 1_000_000: 100}
TARGET_E2E_P95_MS = 300
TARGET_BUILD_S_1E5 = 2.0


def _synthetic(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    people = max(1, count // FACES_PER_PERSON)
    centres = rng.normal(0, 1, (people, 128)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    owner = rng.integers(0, people, count)
    faces = centres[owner] + rng.normal(0, 0.028, (count, 128)).astype(np.float32)
    return faces.astype(np.float32), centres


def _index_of(matrix: np.ndarray, photos: int):
    from faces import matching

    count = len(matrix)
    photo_codes = (np.arange(count) % photos).astype(np.int32)
    return matching.index_from_matrix(
        matrix,
        face_ids=list(range(count)),
        photo_codes=photo_codes,
        photo_ids=list(range(photos)),
        person_codes=np.full(count, -1, dtype=np.int32),
        person_ids=[],
    )


def _search_step(count: int, rng: np.random.Generator) -> tuple[float, float, int]:
    from faces import matching
    from faces.embedding import MATCH_DISTANCE

    matrix, centres = _synthetic(count, rng)
    index = _index_of(matrix, photos=max(1, count // 6))
    queries = centres[rng.integers(0, len(centres), SEARCHES)] + rng.normal(
        0, 0.028, (SEARCHES, 128)
    ).astype(np.float32)
    times, hits = [], []
    for query in queries:
        started = time.perf_counter()
        hits_found = matching.search(index, query, threshold=MATCH_DISTANCE)
        found = matching.best_per_photo(index, hits_found)
        times.append((time.perf_counter() - started) * 1000)
        hits.append(len(found))
    return statistics.median(times), percentile(times, 0.95), int(statistics.median(hits))


def _build_from_rows(rng: np.random.Generator) -> float:
    from faces import matching
    from faces.embedding import to_bytes

    matrix, _ = _synthetic(E2E_FACES, rng)
    photos = [uuid.uuid4() for _ in range(E2E_PHOTOS)]
    rows = [
        (uuid.uuid4(), photos[i % E2E_PHOTOS], None, to_bytes(vector))
        for i, vector in enumerate(matrix)
    ]
    started = time.perf_counter()
    matching.index_from_rows(rows)
    return time.perf_counter() - started


def _selfie() -> bytes | None:
    from picpick.testing.scenes import faces_dir

    path = faces_dir() / "obama" / "obama1.jpg"
    return path.read_bytes() if path.is_file() else None


def _end_to_end(rng: np.random.Generator) -> tuple[float, float, float, int] | None:
    data = _selfie()
    if data is None:
        return None
    with fresh_database():
        from django.conf import settings
        from django.core.cache import cache
        from django.test import Client

        from accounts.models import Studio
        from faces import services
        from faces.embedding import to_bytes
        from faces.models import Face, GalleryFaceIndex
        from faces.selectors.index import INDEX_CACHE, index_for_gallery
        from galleries.keys import derivative_key
        from galleries.models import Gallery, Photo

        settings.PICPICK_SELFIE_RATE_PER_ADDRESS = 10**9
        settings.PICPICK_SELFIE_RATE_PER_GALLERY = 10**9
        cache.clear()
        studio = Studio.objects.create(name="Bench Studio", slug="bench-studio")
        gallery = Gallery.objects.create(
            studio=studio, name="Big wedding", slug="big-wedding", status="published"
        )
        GalleryFaceIndex.objects.create(gallery=gallery, studio=studio, version=1)
        photo_ids = [uuid.uuid4() for _ in range(E2E_PHOTOS)]
        Photo.objects.bulk_create(
            (
                Photo(
                    id=pid,
                    studio=studio,
                    gallery=gallery,
                    filename=f"IMG_{n:05d}.jpg",
                    size=10_000_000,
                    content_type="image/jpeg",
                    width=6000,
                    height=4000,
                    state=Photo.State.READY,
                    position=n,
                    derivatives={
                        name: {"key": derivative_key(studio.id, gallery.id, pid, name)}
                        for name in ("thumb", "preview")
                    },
                )
                for n, pid in enumerate(photo_ids)
            ),
            batch_size=1000,
        )
        selfie = services.selfie_face(data=data).embedding
        matrix, _ = _synthetic(E2E_FACES, rng)
        # The guest is in 40 photos: their faces are near the selfie's own embedding.
        matrix[:FACES_PER_PERSON] = selfie + rng.normal(0, 0.02, (FACES_PER_PERSON, 128))
        batch = 5_000
        for start in range(0, E2E_FACES, batch):
            Face.objects.bulk_create(
                Face(
                    studio=studio,
                    gallery=gallery,
                    photo_id=photo_ids[(start + i) % E2E_PHOTOS],
                    left=100,
                    top=100,
                    right=200,
                    bottom=200,
                    size=100,
                    embedding=to_bytes(vector),
                )
                for i, vector in enumerate(matrix[start : start + batch])
            )
        INDEX_CACHE.clear()
        started = time.perf_counter()
        index = index_for_gallery(gallery_id=gallery.id)  # the first search's build
        build_db = time.perf_counter() - started
        assert index.size == E2E_FACES

        client = Client()
        url = f"/api/v1/public/galleries/{gallery.id}/selfie-search/"
        times, count = [], 0
        for _ in range(E2E_REQUESTS + 2):
            started = time.perf_counter()
            response = client.post(url, {"selfie": _upload(data)})
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:300]
            count = response.json()["count"]
        times = times[2:]  # warm-up: models loaded, connection open
        INDEX_CACHE.clear()
        return statistics.median(times), percentile(times, 0.95), build_db, count


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("selfie.jpg", data, content_type="image/jpeg")


def run() -> list[Result]:
    from bench.django_env import setup

    setup()
    rng = np.random.default_rng(7)
    results: list[Result] = []
    for size in SIZES:
        p50, p95, hits = _search_step(size, rng)
        label = f"1e{len(str(size)) - 1}"
        target = TARGET_SEARCH_MS[size]
        results.append(Result.at_most(f"selfie search step p50 @{label} faces", p50, "ms", target))
        results.append(Result.at_most(f"selfie search step p95 @{label} faces", p95, "ms", target))
        print(f"  {size} faces: p50 {p50:.2f} ms, p95 {p95:.2f} ms, {hits} photos per search")
    build = _build_from_rows(rng)
    results.append(
        Result.at_most("selfie index build from rows @1e5 faces", build, "s", TARGET_BUILD_S_1E5)
    )
    e2e = _end_to_end(rng)
    if e2e is not None:
        p50, p95, build_db, count = e2e
        results.append(
            Result.at_most(
                "selfie index build incl. query @1e5 faces", build_db, "s", TARGET_BUILD_S_1E5
            )
        )
        results.append(
            Result.at_most("selfie search end to end p50 @1e5 faces", p50, "ms", TARGET_E2E_P95_MS)
        )
        results.append(
            Result.at_most("selfie search end to end p95 @1e5 faces", p95, "ms", TARGET_E2E_P95_MS)
        )
        print(f"  end to end: {count} photos found per search")
    return results
