"""MiniXception (PyTorch port of fer's emotion net) vs. fer's original runtimes.

References come from ``scripts/fer_reference.py`` and are stored in
``assets/models/reference/fer_reference.json``:

* ``probabilities`` / ``logits``: fer's shipped ``emotion_model_quantized.tflite``
  run by ai-edge-litert 2.3.0. Its weights are int8 (dynamic-range quantised),
  ours are the float32 hdf5 weights, so they differ by quantisation error.
* ``keras_probabilities`` / ``keras_logits``: the float32 ``emotion_model.hdf5``
  run by Keras 3.15.1 (torch backend); must agree to float32 rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from recognition.nets.mini_xception import CLASS_NAMES, MiniXception

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "assets" / "models" / "fer_mini_xception.safetensors"
REFERENCE_DIR = REPO / "assets" / "models" / "reference"

# vs. quantised TFLite. Measured (torch 2.13 CPU, 3 reference inputs): max abs
# difference 0.00425 in softmax probability (loose crop, 'fear' 0.0971 vs
# 0.0929) and 0.137 in logits (mirrored crop). Bounds set a little above.
TFLITE_PROB_ATOL = 0.006
TFLITE_LOGIT_ATOL = 0.2
# vs. float32 Keras. Measured: 8.9e-7 (probabilities), 3.8e-6 (logits, |logit| up
# to ~10). Bound leaves room for other CPUs' float32 conv kernels, and is still
# orders of magnitude below any layout / padding / epsilon mistake.
KERAS_ATOL = 2e-5


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads((REFERENCE_DIR / "fer_reference.json").read_text())


@pytest.fixture(scope="module")
def outputs(reference: dict) -> dict[str, np.ndarray]:
    """file name -> (7,) float64 logits of the torch net."""
    model = MiniXception.from_safetensors(WEIGHTS)
    images = [np.array(Image.open(REFERENCE_DIR / r["file"]).convert("L")) for r in reference["inputs"]]
    x = torch.from_numpy(np.stack(images).astype(np.float32))[:, None]  # (N, 1, 64, 64), 0..255
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (len(images), len(CLASS_NAMES))
    return {r["file"]: logits[i].double().numpy() for i, r in enumerate(reference["inputs"])}


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()


def test_class_names_match_reference(reference: dict) -> None:
    assert tuple(reference["class_names"]) == CLASS_NAMES


def test_matches_tflite(reference: dict, outputs: dict[str, np.ndarray]) -> None:
    for record in reference["inputs"]:
        logits = outputs[record["file"]]
        np.testing.assert_allclose(
            _softmax(logits), record["probabilities"], rtol=0, atol=TFLITE_PROB_ATOL, err_msg=record["file"]
        )
        np.testing.assert_allclose(
            logits, record["logits"], rtol=0, atol=TFLITE_LOGIT_ATOL, err_msg=record["file"]
        )


def test_matches_keras(reference: dict, outputs: dict[str, np.ndarray]) -> None:
    if "keras_runtime" not in reference:
        pytest.skip("reference recorded without --keras-hdf5")
    for record in reference["inputs"]:
        logits = outputs[record["file"]]
        np.testing.assert_allclose(
            _softmax(logits), record["keras_probabilities"], rtol=0, atol=KERAS_ATOL, err_msg=record["file"]
        )
        np.testing.assert_allclose(
            logits, record["keras_logits"], rtol=0, atol=KERAS_ATOL, err_msg=record["file"]
        )


def test_astronaut_is_happy(outputs: dict[str, np.ndarray]) -> None:
    assert CLASS_NAMES[int(np.argmax(outputs["astronaut_face_64_grey.png"]))] == "happy"
    assert CLASS_NAMES[int(np.argmax(outputs["astronaut_face_64_grey_mirrored.png"]))] == "happy"


def test_batch_independent() -> None:
    """Eval-mode BatchNorm: a sample's output must not depend on its batch mates."""
    model = MiniXception.from_safetensors(WEIGHTS)
    x = torch.rand(5, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-5)
