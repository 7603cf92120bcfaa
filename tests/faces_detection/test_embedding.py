"""faces.embedding on the shared photos: counts, coordinates, encodings, bytes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from faces.embedding import (
    MATCH_DISTANCE,
    FaceConfig,
    encode_box,
    find_faces,
    from_bytes,
    largest_face,
    matrix_from_bytes,
    to_bytes,
)
from faces.pipeline import box_iou
from picpick.testing.scenes import source_faces


def test_every_shared_photo_has_the_manifests_number_of_faces(manifest, shared_faces):
    counts = {file: len(shared_faces[file]) for file in manifest}
    assert counts == {file: len(people) for file, people in manifest.items()}


def test_found_faces_carry_quality_signals(shared_faces):
    face = shared_faces["obama/obama1.jpg"][0]
    assert face.embedding.shape == (128,) and face.embedding.dtype == np.float32
    assert face.size == face.box[3] - face.box[1] > 200
    assert face.score > 0 and face.sharpness > 0


@pytest.mark.parametrize(
    "file", ["obama/obama1.jpg", "biden/biden2.jpg", "groups/biden_and_obama.jpg"]
)
def test_boxes_are_in_original_pixels_when_given_a_downscaled_image(file, shared_image):
    original = shared_image(file)
    working = original.resize((original.width // 2, original.height // 2))
    found = find_faces(working, scale=working.width / original.width)
    truth = [face.box for face in source_faces() if face.file == file]
    assert len(found) == len(truth)
    for box in truth:
        assert max(box_iou(box, face.box) for face in found) > 0.5


def test_the_same_person_is_closer_than_different_people(shared_faces):
    def vector(file: str, index: int = 0) -> np.ndarray:
        return shared_faces[file][index].embedding

    obama = [vector("obama/obama1.jpg"), vector("obama/obama2.jpg"), vector("obama/obama3.jpg")]
    biden = [vector("biden/biden1.jpg"), vector("biden/biden2.jpg")]
    same = [np.linalg.norm(a - b) for a in obama for b in obama if a is not b]
    same += [np.linalg.norm(biden[0] - biden[1])]
    different = [np.linalg.norm(a - b) for a in obama for b in biden]
    different.append(np.linalg.norm(vector("alex_lacamoire/alex2.jpg") - obama[0]))
    assert max(same) < MATCH_DISTANCE < min(different)


def test_encode_box_matches_the_detected_face(shared_image, shared_faces):
    image = shared_image("obama/obama2.jpg")
    detected = shared_faces["obama/obama2.jpg"][0]
    drawn = encode_box(image, scale=1.0, box=detected.box)
    assert drawn.box == detected.box
    assert np.linalg.norm(drawn.embedding - detected.embedding) < 0.05
    # Drawn on a half-size working image, in original pixels: the same person.
    half = image.resize((image.width // 2, image.height // 2))
    scaled = encode_box(half, scale=0.5, box=detected.box)
    assert np.linalg.norm(scaled.embedding - detected.embedding) < 0.35
    assert scaled.box == pytest.approx(detected.box, abs=2)


def test_encode_box_outside_the_image_is_refused(shared_image):
    with pytest.raises(ValueError):
        encode_box(shared_image("obama/obama_small.jpg"), scale=1.0, box=(500, 500, 600, 600))


def test_no_face_in_a_plain_image():
    assert find_faces(Image.new("RGB", (800, 600), (200, 160, 140))) == []
    assert largest_face([]) is None


def test_largest_face_of_a_group(shared_faces):
    faces = shared_faces["groups/biden_and_obama.jpg"]
    assert largest_face(faces) is max(faces, key=lambda face: face.size)


def test_bytes_round_trip():
    vectors = np.random.default_rng(1).normal(size=(3, 128)).astype(np.float32)
    raws = [to_bytes(v) for v in vectors]
    assert all(len(raw) == 512 for raw in raws)
    assert np.array_equal(from_bytes(raws[1]), vectors[1])
    assert np.array_equal(matrix_from_bytes(raws), vectors)
    assert matrix_from_bytes([]).shape == (0, 128)


@pytest.mark.shared_photos
def test_without_the_small_face_pass_small_faces_are_missed():
    """The second pass is what finds the small faces; switched off, only the first remains."""
    from picpick.testing.scenes import build_scene

    scene = build_scene(seed=7, face_heights=[70, 300], size=(2400, 1600))
    on = find_faces(scene.image)
    off = find_faces(scene.image, config=FaceConfig(small_faces=False))
    truth = [face.box for face in scene.faces]
    assert all(max(box_iou(t, f.box) for f in on) > 0.3 for t in truth)
    assert len(off) < len(on)


@pytest.mark.shared_photos
def test_faces_in_a_busy_skin_coloured_scene_are_found_by_the_cascade_pass():
    """Skin-coloured, textured clutter joins into blobs too large to be faces: there the
    cascade proposes and HOG confirms. Without it, the small-face pass finds none of these."""
    from picpick.testing.scenes import build_scene

    scene = build_scene(seed=5, face_heights=[36, 50, 80, 130], size=(2400, 1600), clutter=True)
    on = find_faces(scene.image)
    off = find_faces(scene.image, config=FaceConfig(cascade=False))
    truth = [face.box for face in scene.faces]
    assert all(max(box_iou(t, f.box) for f in on) > 0.3 for t in truth)
    assert len(on) == len(truth)  # nothing else: the clutter is confirmed by HOG, not kept
    assert len(off) < len(on)


def test_a_busy_scene_without_people_has_no_faces():
    import random

    from picpick.testing.scenes import cluttered_background

    for seed in (1, 2):
        assert find_faces(cluttered_background((2400, 1600), random.Random(seed))) == []


@pytest.mark.shared_photos
def test_the_first_pass_reads_the_size_it_is_configured_for():
    """A first pass larger than the shared reduced copy (the selfie's, or an operator's
    choice) reads the working image: a 150 px face is seen at 2400 px, not at 800."""
    from picpick.testing.scenes import build_scene

    scene = build_scene(seed=3, face_heights=[150], size=(2400, 1600))
    large = FaceConfig(small_faces=False, detect_long_edge=2400)
    small = FaceConfig(small_faces=False, detect_long_edge=800)
    assert len(find_faces(scene.image, config=large)) == 1
    assert find_faces(scene.image, config=small) == []


def test_busy_regions_are_merged_until_disjoint():
    from faces.embedding import _merged

    # a overlaps c only through b: one pass that merged a and b would have left c apart.
    a, b, c, far = (0, 0, 10, 10), (20, 0, 30, 10), (9, 5, 21, 8), (100, 100, 110, 110)
    assert sorted(_merged([a, b, c, far])) == [(0, 0, 30, 10), far]


def test_a_large_skin_region_around_a_found_face_is_that_face_s_own():
    from faces.embedding import _explained

    face = (100, 100, 200, 200)
    assert _explained((60, 50, 320, 340), [face])  # face, neck, a warm wall behind the head
    assert not _explained((0, 0, 1000, 800), [face])  # a whole busy room around it
    assert not _explained((300, 300, 500, 500), [face])  # elsewhere


def test_the_busy_scene_budget_comes_from_the_settings(settings):
    from faces.pipeline import face_config

    settings.PICPICK_FACES_BUSY_MAX_PIXELS = 6_000_000
    assert face_config().busy_max_pixels == 6_000_000
