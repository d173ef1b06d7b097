"""Convert face-api's TF.js expression, recognition and SSD face-detector weights to safetensors.

Usage::

    python scripts/convert_faceapi.py path/to/@vladmandic/face-api assets/models

``PACKAGE_DIR`` is the unpacked npm package ``@vladmandic/face-api`` (1.7.15); its
``model/`` folder holds ``<name>-weights_manifest.json`` + ``<name>.bin``. Writes

* ``OUT_DIR/faceapi_expression.safetensors``  (``recognition.nets.faceapi_expression.FaceExpressionNet``)
* ``OUT_DIR/faceapi_recognition.safetensors`` (``recognition.nets.faceapi_recognition.FaceRecognitionNet``)
* ``OUT_DIR/faceapi_ssd_mobilenetv1.safetensors`` (``recognition.nets.faceapi_ssd.SsdMobilenetV1``)

Only numpy and safetensors are needed (no TensorFlow).

TF.js weight format: the tensors are concatenated in manifest order in the .bin.
A tensor with a ``quantization`` entry is stored as uint8 (or uint16) ``q`` and
TF.js decodes it as ``float32(q * scale + min)`` computed in double precision
(tfjs-core ``io.decodeWeights``); this script does the same, so the weights are
bit-identical to what face-api runs with. Tensors without ``quantization`` are raw
little-endian float32.

Layout mapping (TF channels-last -> PyTorch):

* conv filters          (kH, kW, C_in, C_out) -> (C_out, C_in, kH, kW)
* depthwise filters     (kH, kW, C, 1)        -> (C, 1, kH, kW)
* pointwise filters     (1, 1, C_in, C_out)   -> (C_out, C_in, 1, 1)
* dense / fc weights    (in, out)             -> (out, in)

The SSD model's manifest also holds int32 graph constants (reshape sizes, slice
bounds, the 512 resize size) and the TF preprocessor scalars (``x * 2/255 - 1``);
face-api does not use them (it hard-codes ``x / 127.5 - 1``), so they are dropped.
Its anchors (``Output/extra_dim``, raw float32) are stored as ``anchors`` (5118, 4).

Output tensors are float32, contiguous, sorted by name, with a single fixed
metadata entry (``source``: package name, version and model name; a single key
because safetensors writes metadata from a hash map, in no fixed order), so the
files are byte-identical on every run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

EXPRESSION_OUTPUT = "faceapi_expression.safetensors"
RECOGNITION_OUTPUT = "faceapi_recognition.safetensors"
SSD_OUTPUT = "faceapi_ssd_mobilenetv1.safetensors"

_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16}


def read_tfjs_weights(model_dir: Path, model_name: str, *, allow_int32: bool = False) -> dict[str, np.ndarray]:
    """Decode ``model_dir/<model_name>-weights_manifest.json`` into float32 arrays, TF layout.

    Returns the tensors by TF.js name, in manifest order. With ``allow_int32`` int32
    tensors (graph constants) are decoded too, as TF.js does (quantized:
    ``Math.round(q * scale + min)``), and returned as int32 arrays; otherwise any
    non-float32 tensor is an error.
    """
    manifest = json.loads((model_dir / f"{model_name}-weights_manifest.json").read_text())
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            name, shape, dtype = entry["name"], entry["shape"], entry["dtype"]
            if dtype not in (("float32", "int32") if allow_int32 else ("float32",)):
                raise ValueError(f"{model_name}: {name} has dtype {dtype}, expected float32")
            count = int(np.prod(shape, dtype=np.int64))
            quant = entry.get("quantization")
            if quant is None:
                nbytes = 4 * count
                raw_dtype = "<f4" if dtype == "float32" else "<i4"
                values = np.frombuffer(data, dtype=raw_dtype, count=count, offset=offset).astype(_DTYPES[dtype])
            else:
                if quant["dtype"] not in ("uint8", "uint16") or "scale" not in quant or "min" not in quant:
                    raise ValueError(f"{model_name}: {name} has unsupported quantization {quant}")
                qdtype = np.dtype(_DTYPES[quant["dtype"]]).newbyteorder("<")
                nbytes = qdtype.itemsize * count
                q = np.frombuffer(data, dtype=qdtype, count=count, offset=offset)
                # tfjs: values[i] = q[i] * scale + min, in JS doubles, stored into a Float32Array
                decoded = q.astype(np.float64) * float(quant["scale"]) + float(quant["min"])
                if dtype == "float32":
                    values = decoded.astype(np.float32)
                else:  # tfjs: Math.round (half up) into an Int32Array
                    values = np.floor(decoded + 0.5).astype(np.int32)
            if name in weights:
                raise ValueError(f"{model_name}: duplicate tensor {name}")
            weights[name] = values.reshape(shape)
            offset += nbytes
        if offset != len(data):
            raise ValueError(f"{model_name}: {len(data) - offset} bytes left over in {group['paths']}")
    return weights


def _conv(w: np.ndarray) -> np.ndarray:
    """(kH, kW, C_in, C_out) -> (C_out, C_in, kH, kW)."""
    assert w.ndim == 4
    return w.transpose(3, 2, 0, 1)


def _depthwise(w: np.ndarray) -> np.ndarray:
    """(kH, kW, C, 1) -> (C, 1, kH, kW)."""
    assert w.ndim == 4 and w.shape[3] == 1
    return w.transpose(2, 3, 0, 1)


def _dense(w: np.ndarray) -> np.ndarray:
    """(in, out) -> (out, in)."""
    assert w.ndim == 2
    return w.T


def _vector(w: np.ndarray) -> np.ndarray:
    assert w.ndim == 1
    return w


def _expression_key(name: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """TF.js name of a face_expression_model tensor -> (torch key, layout transform)."""
    parts = name.split("/")
    if parts == ["fc", "weights"]:
        return "fc.weight", _dense
    if parts == ["fc", "bias"]:
        return "fc.bias", _vector
    block, conv, kind = parts
    prefix = f"{block}.{conv}"
    if block == "dense0" and conv == "conv0":  # the only plain conv
        return {"filters": (f"{prefix}.conv.weight", _conv), "bias": (f"{prefix}.conv.bias", _vector)}[kind]
    return {
        "depthwise_filter": (f"{prefix}.depthwise.weight", _depthwise),
        "pointwise_filter": (f"{prefix}.pointwise.weight", _conv),
        "bias": (f"{prefix}.pointwise.bias", _vector),
    }[kind]


def _recognition_key(name: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """TF.js name of a face_recognition_model tensor -> (torch key, layout transform)."""
    if name == "fc":
        return "fc.weight", _dense
    *layer, op, kind = name.split("/")
    prefix = ".".join(layer)
    return {
        ("conv", "filters"): (f"{prefix}.conv.weight", _conv),
        ("conv", "bias"): (f"{prefix}.conv.bias", _vector),
        ("scale", "weights"): (f"{prefix}.scale.weight", _vector),
        ("scale", "biases"): (f"{prefix}.scale.bias", _vector),
    }[(op, kind)]


_SSD_UNUSED = ("Preprocessor/mul/x", "Preprocessor/sub/y")
"""float32 scalars of the SSD manifest that face-api does not use (it divides by 127.5, subtracts 1)."""


def _ssd_key(name: str) -> tuple[str, Callable[[np.ndarray], np.ndarray]] | None:
    """TF.js name of a ssd_mobilenetv1_model tensor -> (torch key, layout transform), None = drop.

    Torch keys follow face-api's own parameter names (``extractParamsFromWeightMap.ts``).
    """
    if name in _SSD_UNUSED:
        return None
    if name == "Output/extra_dim":
        return "anchors", lambda w: w.reshape(-1, 4)  # (1, 5118, 4) -> (5118, 4)
    parts = name.split("/")
    if parts[0] in ("MobilenetV1", "Prediction") and parts[1].startswith("Conv2d_"):
        _, idx, kind = parts[1].split("_")
        root = "mobilenet" if parts[0] == "MobilenetV1" else "prediction"
        if kind == "pointwise":
            # backbone conv_0 is a 3x3 stride-2 conv, the rest 1x1 (prediction conv_1/3/5/7: 3x3 stride 2)
            prefix = f"{root}.conv_{idx}" if root == "prediction" or idx == "0" else f"{root}.conv_{idx}.pointwise"
            return {
                "weights": (f"{prefix}.conv.weight", _conv),
                "convolution_bn_offset": (f"{prefix}.conv.bias", _vector),
            }[parts[2]]
        if kind == "depthwise" and root == "mobilenet":
            prefix = f"mobilenet.conv_{idx}.depthwise"
            leaf = "/".join(parts[2:])
            return {
                "depthwise_weights": (f"{prefix}.conv.weight", _depthwise),
                "BatchNorm/gamma": (f"{prefix}.batch_norm_scale", _vector),
                "BatchNorm/beta": (f"{prefix}.batch_norm_offset", _vector),
                "BatchNorm/moving_mean": (f"{prefix}.batch_norm_mean", _vector),
                "BatchNorm/moving_variance": (f"{prefix}.batch_norm_variance", _vector),
            }[leaf]
    if parts[0] == "Prediction" and parts[1].startswith("BoxPredictor_") and len(parts) == 4:
        idx = parts[1].split("_")[1]
        predictor = {"BoxEncodingPredictor": "box_encoding_predictor", "ClassPredictor": "class_predictor"}[parts[2]]
        prefix = f"prediction.box_predictor_{idx}.{predictor}"
        return {"weights": (f"{prefix}.weight", _conv), "biases": (f"{prefix}.bias", _vector)}[parts[3]]
    raise KeyError(f"ssd_mobilenetv1_model: unexpected tensor {name}")


def _save(tensors: dict[str, np.ndarray], out_path: Path, metadata: dict[str, str]) -> Path:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: tensors[k] for k in sorted(tensors)}, str(out_path), metadata=metadata)
    return out_path


def _convert_one(
    model_dir: Path,
    model_name: str,
    key_fn: Callable[[str], tuple[str, Callable[[np.ndarray], np.ndarray]]],
    out_path: Path,
    metadata: dict[str, str],
) -> Path:
    tensors: dict[str, np.ndarray] = {}
    for name, value in read_tfjs_weights(model_dir, model_name).items():
        key, transform = key_fn(name)
        if key in tensors:
            raise ValueError(f"{model_name}: two tensors map to {key}")
        tensors[key] = np.ascontiguousarray(transform(value), dtype=np.float32)
    return _save(tensors, out_path, metadata)


def convert_ssd(package_dir: Path, out_dir: Path) -> Path:
    """Convert ``model/ssd_mobilenetv1_model`` of ``package_dir`` to ``out_dir/faceapi_ssd_mobilenetv1.safetensors``.

    The int32 graph constants and the two unused preprocessor scalars are dropped;
    every float32 tensor face-api uses is kept (an unexpected name is an error).
    Returns the written path; the bytes are the same on every run.
    """
    package_dir, out_dir = Path(package_dir), Path(out_dir)
    package = json.loads((package_dir / "package.json").read_text())
    model_name = "ssd_mobilenetv1_model"
    tensors: dict[str, np.ndarray] = {}
    for name, value in read_tfjs_weights(package_dir / "model", model_name, allow_int32=True).items():
        if value.dtype != np.float32:
            continue  # graph constants (shapes, slice bounds, axis), not weights
        mapped = _ssd_key(name)
        if mapped is None:
            continue
        key, transform = mapped
        if key in tensors:
            raise ValueError(f"{model_name}: two tensors map to {key}")
        tensors[key] = np.ascontiguousarray(transform(value), dtype=np.float32)
    metadata = {"source": f"{package['name']}@{package['version']} model/{model_name}"}
    return _save(tensors, out_dir / SSD_OUTPUT, metadata)


def convert(package_dir: Path, out_dir: Path) -> list[Path]:
    """Convert the expression, recognition and SSD models of ``package_dir`` into ``out_dir``.

    Returns the written paths: [expression, recognition, ssd_mobilenetv1].
    """
    package_dir, out_dir = Path(package_dir), Path(out_dir)
    package = json.loads((package_dir / "package.json").read_text())
    source = f"{package['name']}@{package['version']}"
    model_dir = package_dir / "model"
    return [
        _convert_one(
            model_dir,
            "face_expression_model",
            _expression_key,
            out_dir / EXPRESSION_OUTPUT,
            {"source": f"{source} model/face_expression_model"},
        ),
        _convert_one(
            model_dir,
            "face_recognition_model",
            _recognition_key,
            out_dir / RECOGNITION_OUTPUT,
            {"source": f"{source} model/face_recognition_model"},
        ),
        convert_ssd(package_dir, out_dir),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package_dir", type=Path, help="unpacked npm package @vladmandic/face-api")
    parser.add_argument("out_dir", type=Path, help="output folder for the .safetensors files")
    args = parser.parse_args()
    for path in convert(args.package_dir, args.out_dir):
        print(path)


if __name__ == "__main__":
    main()
