"""Fixtures of the face detection tests: the shared face photos, found once per session."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from faces.embedding import FoundFace, find_faces
from picpick.testing.scenes import faces_dir


def _manifest() -> dict[str, list[str]]:
    path = faces_dir() / "manifest.json"
    if not path.is_file():
        pytest.skip("the shared face photos are not beside the repository")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def manifest() -> dict[str, list[str]]:
    return _manifest()


@pytest.fixture(scope="session")
def shared_image():
    def load(file: str) -> Image.Image:
        return Image.open(faces_dir() / file).convert("RGB")

    return load


@pytest.fixture(scope="session")
def shared_faces(manifest, shared_image) -> dict[str, list[FoundFace]]:
    """``find_faces`` on every shared photo at full size (the slow part, done once)."""
    return {file: find_faces(shared_image(file)) for file in manifest}


@pytest.fixture
def gallery_a(studio_a, alice):
    from galleries import services

    return services.gallery_create(studio=studio_a, by=alice, name="Smith Wedding")


@pytest.fixture
def gallery_b(studio_b, bob):
    from galleries import services

    return services.gallery_create(studio=studio_b, by=bob, name="Bob's gallery")
