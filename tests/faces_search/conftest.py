"""A small gallery built from the shared face photos, with embeddings computed once per session.

Each source photo of ``tests/data/face_sources.json`` becomes one gallery photo with its Face
rows (the group photo has two); each person gets a Person row with their faces assigned, as
the clustering would leave them. The selfies posted in the HTTP tests are the shared photos'
own bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from django.core.cache import cache
from PIL import Image

from faces.embedding import find_faces, to_bytes
from faces.models import Face, GalleryFaceIndex, Person
from faces.selectors.index import INDEX_CACHE
from galleries.keys import derivative_key
from galleries.models import Gallery
from picpick.testing.factories import GalleryFactory, PhotoFactory
from picpick.testing.scenes import faces_dir, source_faces
from tests.logscan import scan_logs  # noqa: F401  (every log line is scanned for secrets)


@dataclass(frozen=True)
class SharedFace:
    file: str
    person: str
    box: tuple[int, int, int, int]
    embedding: np.ndarray


@pytest.fixture(scope="session")
def shared_faces() -> list[SharedFace]:
    """Every labelled face of the shared photos with its embedding (the slow part, done once)."""
    out = []
    found_in: dict[str, list] = {}
    for source in source_faces():
        if source.file not in found_in:
            image = Image.open(faces_dir() / source.file).convert("RGB")
            found_in[source.file] = find_faces(image)
        cx, cy = (source.box[0] + source.box[2]) / 2, (source.box[1] + source.box[3]) / 2
        face = min(
            found_in[source.file],
            key=lambda f: abs((f.box[0] + f.box[2]) / 2 - cx) + abs((f.box[1] + f.box[3]) / 2 - cy),
        )
        out.append(SharedFace(source.file, source.person, face.box, face.embedding))
    return out


def selfie_bytes(file: str) -> bytes:
    return (faces_dir() / file).read_bytes()


@dataclass
class SharedGallery:
    gallery: Gallery
    photo_of_file: dict  # file -> Photo
    people: dict  # person name -> Person

    def photo_ids_of(self, person: str, faces: list[SharedFace]) -> set:
        return {self.photo_of_file[f.file].id for f in faces if f.person == person}


def build_shared_gallery(studio, faces: list[SharedFace]) -> SharedGallery:
    gallery = GalleryFactory(studio=studio, status=Gallery.Status.PUBLISHED)
    GalleryFaceIndex.objects.create(gallery=gallery, studio=studio, version=1)
    photo_of_file = {}
    for file in dict.fromkeys(face.file for face in faces):
        photo = PhotoFactory(gallery=gallery, studio=studio, filename=file.replace("/", "_"))
        photo.derivatives = {
            name: {"key": derivative_key(studio.id, gallery.id, photo.id, name)}
            for name in ("thumb", "preview", "preview_wm")
        }
        photo.save(update_fields=["derivatives"])
        photo_of_file[file] = photo
    people = {
        name: Person.objects.create(studio=studio, gallery=gallery, name=name.title())
        for name in dict.fromkeys(face.person for face in faces)
    }
    Face.objects.bulk_create(
        Face(
            studio=studio,
            gallery=gallery,
            photo=photo_of_file[face.file],
            left=face.box[0],
            top=face.box[1],
            right=face.box[2],
            bottom=face.box[3],
            embedding=to_bytes(face.embedding),
            size=face.box[3] - face.box[1],
            person=people[face.person],
            assignment=Face.Assignment.AUTO,
        )
        for face in faces
    )
    return SharedGallery(gallery=gallery, photo_of_file=photo_of_file, people=people)


@pytest.fixture
def shared_gallery(studio_a, shared_faces) -> SharedGallery:
    return build_shared_gallery(studio_a, shared_faces)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Rate-limit counters and the per-process index cache start empty in every test."""
    cache.clear()
    INDEX_CACHE.clear()
    yield
    cache.clear()
    INDEX_CACHE.clear()
