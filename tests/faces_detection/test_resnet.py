"""faces.resnet: dlib's face recognition network run with numpy gives dlib's own answers."""

from __future__ import annotations

import dlib
import face_recognition_models as frm
import numpy as np
import pytest

from faces.embedding import FaceConfig, find_faces
from faces.resnet import CHIP_PADDING, CHIP_SIZE, FaceEncoder, ModelFormatError


@pytest.fixture(scope="module")
def encoder() -> FaceEncoder:
    return FaceEncoder(frm.face_recognition_model_location())


@pytest.fixture(scope="module")
def chips(manifest, shared_image) -> np.ndarray:
    """Every face of the shared photos as the aligned 150 px chip dlib's encoder takes."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    out = []
    for file in manifest:
        image = np.asarray(shared_image(file))
        for rect in detector(image, 1):
            out.append(dlib.get_face_chip(image, predictor(image, rect), CHIP_SIZE, CHIP_PADDING))
    return np.stack(out)


def test_descriptors_match_dlibs_own_encoder_on_every_shared_face(encoder, chips):
    reference = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    expected = np.array([reference.compute_face_descriptor(chip) for chip in chips])
    got = encoder.encode(chips)
    assert got.shape == (len(chips), 128) and got.dtype == np.float32
    assert np.linalg.norm(got - expected, axis=1).max() < 1e-4


def test_batch_size_does_not_change_the_answer(encoder, chips):
    one_by_one = np.concatenate([encoder.encode(chips[i : i + 1]) for i in range(len(chips))])
    assert np.abs(encoder.encode(chips, batch=16) - one_by_one).max() < 1e-5


def test_find_faces_gives_the_same_embeddings_with_either_encoder(shared_image):
    image = shared_image("groups/biden_and_obama.jpg")
    ours = find_faces(image, config=FaceConfig(encoder="numpy"))
    theirs = find_faces(image, config=FaceConfig(encoder="dlib"))
    assert [face.box for face in ours] == [face.box for face in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert np.linalg.norm(a.embedding - b.embedding) < 1e-4


def test_empty_batch_and_wrong_shapes(encoder):
    assert encoder.encode(np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)).shape == (0, 128)
    with pytest.raises(ValueError, match="chips"):
        encoder.encode(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="chips"):
        encoder.encode(np.zeros((CHIP_SIZE, CHIP_SIZE, 3), np.uint8))


def test_a_file_that_is_not_the_model_is_refused(tmp_path):
    path = tmp_path / "model.dat"
    path.write_bytes(b"\x01\x05con_4\x01\x02" + b"\x00" * 64)
    with pytest.raises(ModelFormatError):
        FaceEncoder(path)
    path.write_bytes(b"not a model at all")
    with pytest.raises(ModelFormatError):
        FaceEncoder(path)


def test_an_unknown_encoder_is_refused(shared_image):
    with pytest.raises(ValueError, match="encoder"):
        find_faces(shared_image("obama/obama1.jpg"), config=FaceConfig(encoder="gpu"))
