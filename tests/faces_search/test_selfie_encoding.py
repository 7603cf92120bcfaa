"""The selfie's faces are all detected (to report the count) but only the largest is encoded."""

from __future__ import annotations

import pytest

from faces import embedding
from faces.services import selfie_face
from picpick.testing.scenes import build_scene
from tests.faces_search.conftest import selfie_bytes


@pytest.fixture
def encoded(monkeypatch) -> list[int]:
    """Heights (working pixels) of every box handed to the encoder."""
    heights: list[int] = []
    real = embedding._found

    def counting(array, rects, scores, scale, config):
        heights.extend(rect.bottom() - rect.top() for rect in rects)
        return real(array, rects, scores, scale, config)

    monkeypatch.setattr(embedding, "_found", counting)
    return heights


def test_three_face_selfie_encodes_only_the_largest_face(encoded, shared_faces):
    scene = build_scene(
        seed=3,
        face_heights=[110, 260, 120],
        persons=["lin_manuel_miranda", "biden", "alex_lacamoire"],
        size=(1600, 1100),
    )
    selfie = selfie_face(data=scene.jpeg())
    assert selfie.faces_in_selfie == 3
    assert len(encoded) == 1
    # It is the largest face: its embedding is Biden's (the 260 px face), not the others'.
    distance = {
        face.person: float(((face.embedding - selfie.embedding) ** 2).sum() ** 0.5)
        for face in shared_faces
    }
    nearest = min(distance, key=distance.get)
    assert nearest == "biden"


@pytest.mark.shared_photos
def test_one_face_selfie_encodes_one_face(encoded):
    selfie = selfie_face(data=selfie_bytes("obama/obama2.jpg"))
    assert selfie.faces_in_selfie == 1 and len(encoded) == 1
