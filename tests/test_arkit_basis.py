"""The bundled canonical face and its ARKit blendshape basis (assets/models/canonical_face.npz, built by
scripts/build_arkit_basis.py): geometry facts, plausible magnitudes, exact Left/Right mirroring, and the
read-back of key shapes through the PyTorch rebuild of MediaPipe's blendshape regressor.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recognition.nets.blendshape_regressor import LANDMARK_SUBSET, BlendshapeRegressor, to_arkit
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.assets import model_path
from rigs.face_mesh import load_canonical_face

CHIN, FOREHEAD, NOSE_TIP = 152, 10, 1
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263  # the subject's sides
LEFT_UPPER_LID_MID, RIGHT_UPPER_LID_MID = 386, 159

# Read-back (the shape's own score at weight 1; mouthClose posed with jawOpen) measured on the committed
# basis with torch 2.13 CPU. Thresholds sit just under the measured values.
READBACK_MIN = {
    "jawOpen": 0.72,  # measured 0.744
    "mouthClose": 0.60,  # 0.632 (with jawOpen)
    "mouthSmileLeft": 0.85,  # 0.871
    "mouthSmileRight": 0.88,  # 0.899
    "eyeBlinkLeft": 0.90,  # 0.918
    "eyeBlinkRight": 0.86,  # 0.878
    "browInnerUp": 0.90,  # 0.920
    "mouthPucker": 0.95,  # 0.970
    "mouthFunnel": 0.49,  # 0.510 (the regressor reads mouthPucker ~0.98 with it)
    "browDownLeft": 0.93,  # 0.955
    "browDownRight": 0.89,  # 0.908
    "eyeLookOutLeft": 0.96,  # 0.981
    "eyeLookInRight": 0.96,  # 0.978
    "jawLeft": 0.97,  # 0.989
    "jawRight": 0.95,  # 0.965
    "mouthStretchLeft": 0.90,  # 0.919
    "mouthUpperUpLeft": 0.94,  # 0.961
    "eyeWideLeft": 0.70,  # 0.722
}

# The same camera as the build: pinhole on +z, 50 cm from the canonical origin, 256 px image.
IMAGE_SIZE, CAMERA_DISTANCE = 256, 50.0
FOCAL_PX = 11.5 * (CAMERA_DISTANCE - 4.0)


@pytest.fixture(scope="module")
def face():
    return load_canonical_face()


@pytest.fixture(scope="module")
def extra():
    with np.load(model_path("canonical_face.npz")) as data:
        return {k: data[k] for k in ("iris_vertices", "iris_basis", "readback_target")}


@pytest.fixture(scope="module")
def mirror(face) -> np.ndarray:
    v = face.vertices
    d = np.linalg.norm(v[None] - (v * np.array([-1, 1, 1], np.float32))[:, None], axis=-1)
    assert d.min(1).max() < 1e-3  # the canonical mesh is exactly symmetric
    return d.argmin(1)


def test_mesh_geometry(face):
    assert face.vertices.shape == (468, 3) and face.vertices.dtype == np.float32
    assert face.uvs.shape == (468, 2) and face.triangles.shape == (898, 3) and face.triangles.dtype == np.int32
    assert face.basis.shape == (52, 468, 3)
    assert face.triangles.min() == 0 and face.triangles.max() == 467
    assert 0.0 <= face.uvs.min() and face.uvs.max() <= 1.0
    v = face.vertices
    # Axes: x toward the subject's left (viewer's right), y up, z toward the viewer; cm (face ~17.7 cm tall).
    assert v[LEFT_EYE_OUTER, 0] > 4 and v[RIGHT_EYE_OUTER, 0] < -4
    assert v[FOREHEAD, 1] - v[CHIN, 1] == pytest.approx(17.67, abs=0.05)
    assert v[:, 2].argmax() in (NOSE_TIP, 4)
    # UV v grows downward (forehead near the top of the texture).
    assert face.uvs[FOREHEAD, 1] < face.uvs[CHIN, 1]
    # Counter-clockwise seen from the front: almost every triangle's normal points toward +z.
    t = v[face.triangles]
    normal_z = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])[:, 2]
    assert (normal_z > 0).mean() > 0.98


def test_basis_magnitudes(face):
    basis = face.basis
    assert np.isfinite(basis).all()
    largest = np.linalg.norm(basis, axis=-1).max(1)
    jaw_like = [ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]]
    assert np.delete(largest, jaw_like).max() <= 2.0 + 1e-4  # cm
    assert largest[jaw_like].max() <= 4.5 + 1e-4  # a wide-open jaw drops the chin ~4 cm
    tongue = ARKIT_INDEX["tongueOut"]
    assert largest[tongue] == 0  # no tongue in the mesh
    assert (np.delete(largest, tongue) > 0.1).all()
    # jawOpen: the chin drops (~3.5 cm at weight 1, a wide-open mouth), the forehead stays.
    jaw = basis[ARKIT_INDEX["jawOpen"]]
    assert jaw[CHIN, 1] < -2.5
    assert abs(jaw[FOREHEAD]).max() < 1e-3
    assert jaw[CHIN, 1] < jaw[FOREHEAD, 1]
    # eyeBlinkLeft closes the subject's left eye (+x), not the right one.
    blink = basis[ARKIT_INDEX["eyeBlinkLeft"]]
    assert blink[LEFT_UPPER_LID_MID, 1] < -0.4 and abs(blink[RIGHT_UPPER_LID_MID]).max() < 1e-3
    # mouthSmileLeft raises the subject's left lip corner.
    smile = basis[ARKIT_INDEX["mouthSmileLeft"]]
    assert smile[291, 1] > 0.3 and smile[291, 0] > 0 and abs(smile[61]).max() < 0.05


def test_left_right_mirror(face, mirror, extra):
    flip = np.array([-1, 1, 1], np.float32)
    iris_order = [5, 8, 7, 6, 9, 0, 3, 2, 1, 4]  # right iris <-> left iris, ring +x <-> -x
    for name in ARKIT_NAMES:
        k = ARKIT_INDEX[name]
        if name.endswith("Left"):
            r = ARKIT_INDEX[name[:-4] + "Right"]
            np.testing.assert_allclose(face.basis[r], face.basis[k][mirror] * flip, atol=1e-5)
            np.testing.assert_allclose(extra["iris_basis"][r], extra["iris_basis"][k][iris_order] * flip, atol=1e-5)
        elif not name.endswith("Right"):  # bilateral shapes are symmetric
            np.testing.assert_allclose(face.basis[k], face.basis[k][mirror] * flip, atol=1e-5)


def _project(points: np.ndarray) -> np.ndarray:
    depth = CAMERA_DISTANCE - points[..., 2]
    x = IMAGE_SIZE / 2 + FOCAL_PX * points[..., 0] / depth
    y = IMAGE_SIZE / 2 - FOCAL_PX * points[..., 1] / depth
    return np.stack([x, y], axis=-1).astype(np.float32)


def test_readback(face, extra):
    names = list(READBACK_MIN)
    weights = np.zeros((len(names), 52), np.float32)
    for i, name in enumerate(names):
        weights[i, ARKIT_INDEX[name]] = 1.0
        if name == "mouthClose":  # only meaningful on top of jawOpen
            weights[i, ARKIT_INDEX["jawOpen"]] = 1.0
    verts = face.pose(weights)  # (n, 468, 3)
    iris = extra["iris_vertices"][None] + np.tensordot(weights, extra["iris_basis"], axes=([-1], [0]))
    points = _project(np.concatenate([verts, iris], axis=1)[:, list(LANDMARK_SUBSET)])
    with torch.no_grad():
        scores = to_arkit(BlendshapeRegressor.from_task()(torch.from_numpy(points))).numpy()
    measured = {name: float(scores[i, ARKIT_INDEX[name]]) for i, name in enumerate(names)}
    low = {n: round(s, 3) for n, s in measured.items() if s < READBACK_MIN[n]}
    assert not low, f"read-back below threshold: {low}"
    # The stored read-back is what the regressor gives now.
    for name, score in measured.items():
        assert extra["readback_target"][ARKIT_INDEX[name]] == pytest.approx(score, abs=1e-3)
    # Sided shapes read on their own side.
    for i, name in enumerate(names):
        if name.endswith("Left"):
            assert scores[i, ARKIT_INDEX[name]] > scores[i, ARKIT_INDEX[name[:-4] + "Right"]]
