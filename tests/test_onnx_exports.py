"""The ONNX files the studio runs compute what the verified PyTorch ports compute."""

import numpy as np
import pytest
import torch
from PIL import Image

from recognition import models
from rigs.assets import assets_dir, model_path

REFERENCE = assets_dir() / "models" / "reference"


def _inputs(png: str, channels: int, size: int) -> np.ndarray:
    face = np.asarray(Image.open(REFERENCE / png).convert("L" if channels == 1 else "RGB"), dtype=np.float32)
    face = face[None] if channels == 1 else face.transpose(2, 0, 1)
    noise = np.random.default_rng(0).uniform(0, 255, (3, channels, size, size)).astype(np.float32)
    return np.concatenate([face[None], noise])


@pytest.mark.parametrize(
    "name, module, png, channels, size",
    [
        (
            "faceapi_expression",
            "recognition.nets.faceapi_expression:FaceExpressionNet",
            "astronaut_face_112.png",
            3,
            112,
        ),
        (
            "faceapi_recognition",
            "recognition.nets.faceapi_recognition:FaceRecognitionNet",
            "astronaut_face_150.png",
            3,
            150,
        ),
        ("fer_mini_xception", "recognition.nets.mini_xception:MiniXception", "astronaut_face_64_grey.png", 1, 64),
    ],
)
def test_onnx_matches_pytorch_port(name, module, png, channels, size):
    module_name, class_name = module.split(":")
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    net = cls.from_safetensors(model_path(f"{name}.safetensors"))
    batch = _inputs(png, channels, size)
    with torch.inference_mode():
        expected = net(torch.from_numpy(batch)).numpy()
    onnx = models.load(name)
    got = onnx(batch)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-4)
    # Batch size is dynamic and chunked/threaded inference gives the same answer.
    np.testing.assert_allclose(onnx(batch[:1]), expected[:1], rtol=0, atol=2e-4)
    np.testing.assert_allclose(onnx.map_batches(batch, chunk=1, workers=2), got, rtol=0, atol=1e-5)
