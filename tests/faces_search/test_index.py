"""The search index: exact L2 over the gallery's matrix, best face per photo, versioned cache."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.db.models import F

from faces import matching
from faces.embedding import MATCH_DISTANCE, to_bytes
from faces.models import Face, GalleryFaceIndex
from faces.selectors import index as face_index
from tests.faces_search.conftest import build_shared_gallery


def _index(vectors, photos, persons=None):
    rows = [
        (uuid.uuid4(), photo, (persons or [None] * len(vectors))[i], to_bytes(vector))
        for i, (vector, photo) in enumerate(zip(vectors, photos, strict=True))
    ]
    return matching.index_from_rows(rows), rows


def test_search_matches_a_brute_force_distance_and_ranks_nearest_first():
    rng = np.random.default_rng(1)
    vectors = rng.normal(0, 0.1, (500, 128)).astype(np.float32)
    photos = [uuid.uuid4() for _ in range(500)]
    index, _ = _index(vectors, photos)
    query = vectors[7] + rng.normal(0, 0.01, 128).astype(np.float32)
    expected = np.linalg.norm(vectors - query, axis=1)
    threshold = float(np.sort(expected)[20])
    hits = matching.search(index, query, threshold=threshold)
    assert [hit.face_index for hit in hits] == list(np.argsort(expected)[:21])
    assert np.allclose([hit.distance for hit in hits], np.sort(expected)[:21], atol=1e-4)
    assert hits[0].face_index == 7


def test_best_per_photo_keeps_the_nearest_face_of_each_photo():
    base = np.zeros(128, dtype=np.float32)
    offsets = [0.3, 0.1, 0.2, 0.05]
    vectors = [base + np.eye(128, dtype=np.float32)[0] * d for d in offsets]
    photo_a, photo_b = uuid.uuid4(), uuid.uuid4()
    index, _ = _index(vectors, [photo_a, photo_a, photo_b, photo_b])
    hits = matching.best_per_photo(index, matching.search(index, base, threshold=0.5))
    assert [index.photo_ids[index.photo_codes[h.face_index]] for h in hits] == [photo_b, photo_a]
    assert [round(h.distance, 3) for h in hits] == [0.05, 0.1]


def test_empty_index_and_nothing_within_the_threshold_find_nothing():
    empty = matching.index_from_rows([])
    assert matching.search(empty, np.zeros(128, dtype=np.float32), threshold=0.6) == []
    index, _ = _index([np.ones(128, dtype=np.float32)], [uuid.uuid4()])
    assert matching.search(index, np.zeros(128, dtype=np.float32), threshold=0.6) == []


def test_majority_person_needs_more_than_half_of_the_hits():
    person_a, person_b = uuid.uuid4(), uuid.uuid4()
    vectors = [np.zeros(128, dtype=np.float32)] * 4
    index, _ = _index(
        vectors, [uuid.uuid4() for _ in range(4)], [person_a, person_a, None, person_b]
    )
    hits = matching.search(index, np.zeros(128, dtype=np.float32), threshold=0.1)
    assert matching.majority_person(index, hits) is None  # 2 of 4
    assert matching.majority_person(index, hits[:3]) == person_a  # 2 of 3


def test_selfie_precision_and_recall_on_the_shared_photos(shared_faces):
    """Every labelled face as the query finds every other face of its person and no one else."""
    index, _ = _index(
        [face.embedding for face in shared_faces], [face.file for face in shared_faces]
    )
    people = [face.person for face in shared_faces]
    for face in shared_faces:
        hits = matching.search(index, face.embedding, threshold=MATCH_DISTANCE)
        found = {hit.face_index for hit in hits}
        expected = {i for i, person in enumerate(people) if person == face.person}
        assert found == expected, (face.file, face.person)


@pytest.mark.django_db
def test_index_leaves_out_hidden_faces_and_hidden_people(studio_a, shared_faces):
    shared = build_shared_gallery(studio_a, shared_faces)
    total = len(shared_faces)
    assert face_index.index_build(gallery_id=shared.gallery.id).size == total
    biden = shared.people["biden"]
    biden.hidden = True
    biden.save(update_fields=["hidden"])
    one_face = Face.objects.filter(gallery=shared.gallery, person=shared.people["obama"]).first()
    Face.objects.filter(id=one_face.id).update(hidden=True)
    index = face_index.index_build(gallery_id=shared.gallery.id)
    biden_faces = sum(face.person == "biden" for face in shared_faces)
    assert index.size == total - biden_faces - 1
    assert one_face.id not in index.face_ids


@pytest.mark.django_db
def test_index_is_cached_per_version_and_rebuilt_when_the_version_changes(
    studio_a, shared_faces, django_assert_num_queries
):
    shared = build_shared_gallery(studio_a, shared_faces)
    gallery_id = shared.gallery.id
    with django_assert_num_queries(2):  # the version, then the rows
        first = face_index.index_for_gallery(gallery_id=gallery_id)
    with django_assert_num_queries(1):  # the version only
        assert face_index.index_for_gallery(gallery_id=gallery_id) is first

    # A change without a version bump is not seen (writers always bump in the same transaction).
    Face.objects.filter(gallery_id=gallery_id).update(hidden=True)
    assert face_index.index_for_gallery(gallery_id=gallery_id) is first
    GalleryFaceIndex.objects.filter(gallery_id=gallery_id).update(version=F("version") + 1)
    rebuilt = face_index.index_for_gallery(gallery_id=gallery_id)
    assert rebuilt is not first and rebuilt.size == 0
    assert len(face_index.INDEX_CACHE) == 1  # the old version was dropped


@pytest.mark.django_db
def test_gallery_without_index_row_is_built_every_time(studio_a, shared_faces):
    shared = build_shared_gallery(studio_a, shared_faces)
    GalleryFaceIndex.objects.filter(gallery=shared.gallery).delete()
    first = face_index.index_for_gallery(gallery_id=shared.gallery.id)
    assert first.size == len(shared_faces)
    assert face_index.index_for_gallery(gallery_id=shared.gallery.id) is not first
    assert len(face_index.INDEX_CACHE) == 0


def test_cache_is_bounded_by_bytes():
    cache = face_index.IndexCache()
    index, _ = _index([np.zeros(128, dtype=np.float32)] * 100, [uuid.uuid4()] * 100)
    galleries = [uuid.uuid4() for _ in range(3)]
    for gallery_id in galleries:
        cache.put((gallery_id, 1), index, max_bytes=int(index.nbytes * 2.5))
    assert len(cache) == 2 and cache.nbytes <= index.nbytes * 2.5
    assert cache.get((galleries[0], 1)) is None  # least recently used went first
    assert cache.get((galleries[2], 1)) is index
    cache.put((uuid.uuid4(), 1), index, max_bytes=index.nbytes - 1)  # too big to keep at all
    assert len(cache) == 2
