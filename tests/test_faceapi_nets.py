"""The PyTorch face-api ports agree with the original TF.js runtime.

Reference: ``assets/models/reference/faceapi_reference.json``, written by
``scripts/faceapi_reference/reference.mjs`` (@vladmandic/face-api 1.7.15 on
@tensorflow/tfjs 4.22.0, pure-JS cpu backend) from the same uint8 pixels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from recognition.nets.faceapi_expression import (  # noqa: E402
    CLASS_NAMES,
    FaceExpressionNet,
    faceapi_input_tensor,
)
from recognition.nets.faceapi_recognition import FaceRecognitionNet  # noqa: E402

MODELS = ROOT / "assets" / "models"
REF_DIR = MODELS / "reference"
TOL = 1e-4


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REF_DIR / "faceapi_reference.json").read_text())


@pytest.fixture(scope="module")
def expression_net() -> FaceExpressionNet:
    return FaceExpressionNet.from_safetensors(MODELS / "faceapi_expression.safetensors")


@pytest.fixture(scope="module")
def recognition_net() -> FaceRecognitionNet:
    return FaceRecognitionNet.from_safetensors(MODELS / "faceapi_recognition.safetensors")


def pattern(size: int) -> np.ndarray:
    """The formula image of reference.mjs (``pattern_formula`` in the JSON), (S, S, 3) uint8."""
    y, x = np.mgrid[0:size, 0:size].astype(np.int64)
    r = (255 * x) // (size - 1)
    g = (255 * y) // (size - 1)
    b = (x * y + 37 * x) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def case_image(case: dict) -> np.ndarray:
    """Rebuild a reference case's (H, W, 3) uint8 input exactly as reference.mjs did."""
    if case["input"] == "pattern":
        return pattern(case["size"])
    img = np.asarray(Image.open(REF_DIR / case["input"]).convert("RGB"))
    if case.get("transform") == "flip left-right":
        img = img[:, ::-1]
    if "slice" in case:
        s = case["slice"]
        img = img[s["top"] : s["top"] + s["height"], s["left"] : s["left"] + s["width"]]
    return np.ascontiguousarray(img)


def batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images).astype(np.float32)).permute(0, 3, 1, 2).contiguous()


def test_reference_metadata(reference: dict) -> None:
    assert reference["versions"]["face-api"] == "1.7.15"
    assert reference["backend"] == "cpu"
    assert tuple(reference["expression"]["labels"]) == CLASS_NAMES
    assert pattern(112).shape == (112, 112, 3)


def test_expression_matches_faceapi(reference: dict, expression_net: FaceExpressionNet) -> None:
    cases = {k: v for k, v in reference["expression"]["cases"].items() if "slice" not in v}
    assert {"face", "pattern"} <= set(cases)
    x = batch([case_image(c) for c in cases.values()])  # run as one batch
    with torch.no_grad():
        logits = expression_net(x).double()
    probs = torch.softmax(logits, dim=1).numpy()
    for i, (name, case) in enumerate(cases.items()):
        assert np.abs(probs[i] - np.asarray(case["probabilities"])).max() < TOL, name
        assert np.abs(logits[i].numpy() - np.asarray(case["logits"])).max() < TOL, name
    face = list(cases).index("face")
    assert CLASS_NAMES[int(probs[face].argmax())] == "happy"


def test_descriptor_matches_faceapi(reference: dict, recognition_net: FaceRecognitionNet) -> None:
    cases = {k: v for k, v in reference["recognition"]["cases"].items() if "slice" not in v}
    assert {"face", "pattern"} <= set(cases)
    x = batch([case_image(c) for c in cases.values()])
    with torch.no_grad():
        desc = recognition_net(x).numpy()
    assert desc.shape == (len(cases), 128)
    for i, (name, case) in enumerate(cases.items()):
        assert np.abs(desc[i] - np.asarray(case["descriptor"])).max() < TOL, name
    # the astronaut and her mirror image are the same person for face-api (distance < 0.6)
    names = list(cases)
    assert np.linalg.norm(desc[names.index("face")] - desc[names.index("face_mirrored")]) < 0.6


def test_faceapi_input_preprocessing(
    reference: dict, expression_net: FaceExpressionNet, recognition_net: FaceRecognitionNet
) -> None:
    """A non-square crop through faceapi_input_tensor matches face-api's own pad + resize."""
    case = reference["expression"]["cases"]["preprocess_non_square"]
    with torch.no_grad():
        probs = torch.softmax(expression_net(faceapi_input_tensor(case_image(case), 112)).double(), 1)
    assert np.abs(probs[0].numpy() - np.asarray(case["probabilities"])).max() < TOL

    case = reference["recognition"]["cases"]["preprocess_non_square"]
    with torch.no_grad():
        desc = recognition_net(faceapi_input_tensor(case_image(case), 150))[0].numpy()
    assert np.abs(desc - np.asarray(case["descriptor"])).max() < TOL
