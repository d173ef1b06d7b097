"""The PyTorch port of face-api's SSD MobileNetV1 face detector agrees with the original.

Reference: ``assets/models/reference/faceapi_ssd_reference.json``, written by
``scripts/faceapi_reference/ssd_reference.mjs`` (@vladmandic/face-api 1.7.15 on
@tensorflow/tfjs 4.22.0, pure-JS cpu backend) from the same uint8 pixels, together
with the synthetic ``group_small_faces.png`` (the portrait's face pasted 180, 120,
80 and 56 px wide on a 960x640 grey canvas). face-api finds 3 of the 4 pasted faces
at its default ``minConfidence`` 0.5 (the 56 px one scores ~0.35) and all 4 at 0.2.
"""

from __future__ import annotations

import hashlib
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

from recognition.nets.faceapi_ssd import (  # noqa: E402
    INPUT_SIZE,
    NUM_ANCHORS,
    SsdMobilenetV1,
    detect_faces,
    non_max_suppression,
    ssd_input_tensor,
)

MODELS = ROOT / "assets" / "models"
REF_FILE = MODELS / "reference" / "faceapi_ssd_reference.json"
PX_TOL = 0.5  # pixels
SCORE_TOL = 1e-3


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REF_FILE.read_text())


@pytest.fixture(scope="module")
def net() -> SsdMobilenetV1:
    return SsdMobilenetV1.from_safetensors(MODELS / "faceapi_ssd_mobilenetv1.safetensors")


def load_rgb(rel_path: str) -> np.ndarray:
    return np.asarray(Image.open(ROOT / rel_path).convert("RGB"))


@pytest.fixture(scope="module")
def detections(reference: dict, net: SsdMobilenetV1) -> dict:
    """Our ``detect_faces`` for every (case, recorded run): {(case, min_confidence): faces}."""
    out = {}
    for name, case in reference["cases"].items():
        img = load_rgb(case["input"])
        for run in case["runs"]:
            out[name, run["min_confidence"]] = detect_faces(
                net, img, min_confidence=run["min_confidence"], max_results=run["max_results"]
            )
    return out


def as_xyxy(det: dict) -> np.ndarray:
    b = det["box"]
    return np.array([b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]])


def center_in(box: tuple | np.ndarray, rect: dict) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return rect["left"] <= cx < rect["left"] + rect["width"] and rect["top"] <= cy < rect["top"] + rect["height"]


def test_reference_metadata(reference: dict) -> None:
    assert reference["versions"]["face-api"] == "1.7.15"
    assert reference["backend"] == "cpu"
    assert set(reference["cases"]) == {"portrait", "group"}
    for case in reference["cases"].values():
        img = load_rgb(case["input"])
        assert img.shape == (case["height"], case["width"], 3)
        assert hashlib.sha256(img.tobytes()).hexdigest() == case["rgb_sha256"], case["input"]
        assert case["num_anchors"] == NUM_ANCHORS


def test_raw_outputs_match_faceapi(reference: dict, net: SsdMobilenetV1) -> None:
    """Pre-processing + net + box decoding, before NMS: the top-scoring anchors agree."""
    for name, case in reference["cases"].items():
        x = ssd_input_tensor(load_rgb(case["input"]))
        assert x.shape == (1, 3, INPUT_SIZE, INPUT_SIZE)
        with torch.no_grad():
            encodings, scores = net(x)
            boxes = net.decode_boxes(encodings)[0].numpy()
        scores = scores[0].numpy()
        assert boxes.shape == (NUM_ANCHORS, 4) and scores.shape == (NUM_ANCHORS,)
        for anchor in case["top_anchors"]:
            i = anchor["index"]
            assert abs(scores[i] - anchor["score"]) < SCORE_TOL, (name, i)
            assert np.abs(boxes[i] - np.asarray(anchor["box"])).max() * INPUT_SIZE < PX_TOL, (name, i)
        top = [a["index"] for a in case["top_anchors"][:5]]
        assert list(np.argsort(-scores, kind="stable")[:5]) == top, name


def test_detections_match_faceapi(reference: dict, detections: dict) -> None:
    for name, case in reference["cases"].items():
        for run in case["runs"]:
            ours = detections[name, run["min_confidence"]]
            expected = run["detections"]
            assert len(ours) == len(expected), (name, run["min_confidence"])
            for det, exp in zip(ours, expected, strict=True):
                assert np.abs(np.asarray(det[:4]) - as_xyxy(exp)).max() < PX_TOL, (name, det, exp)
                assert abs(det[4] - exp["score"]) < SCORE_TOL, (name, det, exp)


def test_portrait_has_one_face(reference: dict, detections: dict) -> None:
    assert reference["cases"]["portrait"]["runs"][0]["min_confidence"] == 0.5  # the default
    faces = detections["portrait", 0.5]
    assert len(faces) == 1
    crop = reference["group_image"]["crop"]  # the face region of the portrait
    assert center_in(faces[0], crop) and faces[0][4] > 0.9


def test_group_finds_pasted_faces(reference: dict, detections: dict) -> None:
    case = reference["cases"]["group"]
    pastes = reference["group_image"]["pastes"]
    assert [p["width"] for p in pastes] == [180, 120, 80, 56]
    for run in case["runs"]:
        faces = detections["group", run["min_confidence"]]
        assert len(faces) == len(run["detections"])
        hit = sorted(next(k for k, p in enumerate(pastes) if center_in(f, p)) for f in faces)
        assert hit == list(range(len(faces)))  # one box per face, the largest faces first
    # face-api (and we) find 3 faces at the default 0.5 (the 56 px one scores ~0.35), all 4 at 0.2
    assert [len(r["detections"]) for r in case["runs"]] == [3, 4]
    assert len(detections["group", 0.5]) == 3
    assert len(detections["group", 0.2]) == 4


def test_nms_follows_faceapi() -> None:
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 0.9], [0, 0.45, 1, 1.45], [0, 0, 1, 1], [2, 2, 3, 3]], np.float32)
    scores = np.array([0.9, 0.95, 0.8, 0.95, 0.3], np.float32)
    # 1 and 3 tie: index order; 3 overlaps 1 (IoU 0.9) -> dropped, 0 likewise; 2 has IoU 0.31 with 1
    assert non_max_suppression(boxes, scores, 100, 0.5, 0.5) == [1, 2]
    assert non_max_suppression(boxes, scores, 1, 0.5, 0.5) == [1]
    assert non_max_suppression(boxes, scores, 100, 0.5, 0.2) == [1, 2, 4]


def test_input_checks(net: SsdMobilenetV1) -> None:
    with pytest.raises(ValueError):
        net(torch.zeros(1, 3, 256, 256))
    with pytest.raises(ValueError):
        detect_faces(net, np.zeros((64, 64, 3), np.uint8), min_confidence=0.0)
    assert detect_faces(net, np.full((64, 96, 3), 128, np.uint8)) == []
