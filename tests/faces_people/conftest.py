"""Fixtures of the People tests: the cached real embeddings and fast synthetic face rows."""

from __future__ import annotations

import numpy as np
import pytest

from faces.embedding import to_bytes
from faces.models import Face
from picpick.core.storage import get_storage
from picpick.testing import benchset
from picpick.testing.factories import GalleryFactory, PhotoFactory


@pytest.fixture(scope="session")
def bench_set() -> benchset.BenchSet:
    return benchset.load()


def person_vectors(seed: int, people: int, per_person: int, noise: float = 0.015) -> list:
    """(person index, embedding) pairs: centres ~1.0 apart, faces ~0.25 from each other."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 128))
    centres = 0.7 * centres / np.linalg.norm(centres, axis=1, keepdims=True)
    out = []
    for p in range(people):
        for _ in range(per_person):
            out.append((p, (centres[p] + rng.normal(0, noise, 128)).astype(np.float32)))
    return out


def add_faces(gallery, vectors, *, photos=None) -> list[Face]:
    """Insert Face rows with precomputed embeddings (one photo per face unless given)."""
    faces = []
    for n, vector in enumerate(vectors):
        photo = photos[n] if photos else PhotoFactory(gallery=gallery, width=4000, height=3000)
        faces.append(
            Face(
                studio_id=gallery.studio_id,
                gallery=gallery,
                photo=photo,
                left=100,
                top=100,
                right=200 + n % 50,
                bottom=220 + n % 50,
                size=120 + n % 50,
                sharpness=10.0,
                embedding=to_bytes(vector),
            )
        )
    Face.objects.bulk_create(faces)
    return faces


@pytest.fixture
def gallery_a(studio_a):
    return GalleryFactory(studio=studio_a)


@pytest.fixture
def tmp_storage(settings, tmp_path):
    settings.PICPICK_STORAGE = "local"
    settings.PICPICK_LOCAL_STORAGE_ROOT = tmp_path / "objects"
    get_storage.cache_clear()
    yield get_storage()
    get_storage.cache_clear()
