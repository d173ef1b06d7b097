"""`recognition.mouth_cover`: a covered mouth (hand, mask, bar) is told from a visible one by lip colour."""

import cv2
import numpy as np
import pytest

from recognition.image_io import load_image
from recognition.mouth_cover import MIN_LIP_CONTRAST, lip_contrast, mouth_looks_covered
from rigs.assets import model_path, sample_path
from rigs.face_topology import LIPS_OUTER_LOWER, LIPS_OUTER_UPPER

COLOUR_FACES = [sample_path("portrait.png"), sample_path("hopper.jpg"), model_path("reference/astronaut_face_150.png")]


def covered(image: np.ndarray, landmarks: np.ndarray, colour) -> np.ndarray:
    """`image` with a patch of `colour` (an RGB triple, or "cheek" for the face's own skin) over the lips."""
    lips = landmarks[np.r_[LIPS_OUTER_UPPER, LIPS_OUTER_LOWER], :2]
    (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
    pad = 0.3 * (x1 - x0)
    x0, y0, x1, y1 = (int(v) for v in (x0 - pad, y0 - pad, x1 + pad, y1 + pad))
    if colour == "cheek":
        cx, cy = np.round(landmarks[50, :2]).astype(int)
        colour = image[cy - 3 : cy + 3, cx - 3 : cx + 3].reshape(-1, 3).mean(0)
    out = image.copy()
    noise = np.random.default_rng(0).normal(0.0, 3.0, (y1 - y0, x1 - x0, 3))
    out[y0:y1, x0:x1] = np.clip(np.asarray(colour, float) + noise, 0, 255)
    return out


@pytest.mark.parametrize("path", COLOUR_FACES, ids=lambda p: p.name)
def test_visible_lips_are_redder_than_the_skin_and_covers_are_not(face_analyzer, path):
    image = load_image(path)
    face = face_analyzer(image)[0]
    assert lip_contrast(image, face.landmarks) > MIN_LIP_CONTRAST + 2.0
    assert not mouth_looks_covered(image, face.landmarks)
    for colour in ("cheek", (25, 25, 25), (150, 200, 230), (236, 238, 240)):  # hand, bar, blue and white masks
        hidden = covered(image, face.landmarks, colour)
        found = face_analyzer(hidden)
        assert found, f"{path.name}: the face with a covered mouth should still be found"
        assert mouth_looks_covered(hidden, found[0].landmarks), f"{path.name} covered by {colour}"


def test_a_grey_photo_gets_no_verdict(face_analyzer):
    image = load_image(sample_path("portrait.png"))
    grey = np.repeat(image.mean(2, keepdims=True), 3, axis=2).astype(np.uint8)
    face = face_analyzer(grey)[0]
    assert lip_contrast(grey, face.landmarks) is None
    assert not mouth_looks_covered(grey, face.landmarks)


def test_a_mouth_too_small_to_judge_gets_no_verdict(face_analyzer):
    """A 17 px face: its lip band is a handful of pixels, and a pixel of landmark error put it on the skin
    (read as covered before this rule)."""
    image = load_image(sample_path("portrait.png"))
    tiny = cv2.resize(image, (84, 84), interpolation=cv2.INTER_AREA)
    face = face_analyzer(tiny)[0]
    assert face.height < 20
    assert lip_contrast(tiny, face.landmarks) is None
    assert not mouth_looks_covered(tiny, face.landmarks)
    half = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)  # a 20 px mouth is still judged
    assert lip_contrast(half, face_analyzer(half)[0].landmarks) > MIN_LIP_CONTRAST
