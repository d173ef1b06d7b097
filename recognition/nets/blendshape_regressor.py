"""PyTorch rebuild of MediaPipe's face blendshape regressor (`face_blendshapes.tflite`).

Source model: `face_blendshapes.tflite` inside the bundled `face_landmarker.task` (Google, Apache-2.0).
The weights are read straight from that tflite flatbuffer (fp16 constants, widened to float32), so no
converted copy is stored. `tests/test_blendshape_regressor.py` checks it against LiteRT.

Why: the rebuild is differentiable, so it can refine a 3D blendshape basis through the regressor and
serve as a fast batched verifier ("what would MediaPipe read from these landmarks?").

Input: the 146-landmark subset (`LANDMARK_SUBSET`, MediaPipe's `kLandmarksSubsetIdxs`) of the
landmarker's 478 landmarks, x and y in **pixels** of the analysed image (normalised x * width,
y * height; MediaPipe's LandmarksToTensorCalculator with IMAGE_SIZE). Output: 52 sigmoid scores in
MediaPipe's order (`MEDIAPIPE_NAMES`: `_neutral`, then 51 names alphabetically; no `tongueOut`). Map to
ARKit order by name with `to_arkit`.

Graph (read from the flatbuffer; Keras name `GhumMarkerPoserMlpMixerGeneral`)::

    p (N,146,2) -> p - mean(p); / mean_i ||p_i||; * 0.5       translation and scale invariant,
                                                               not rotation or aspect invariant
    transpose -> (N,2,146) -> Linear 146->96 -> transpose      "conv2d": 146 points -> 96 tokens
    Linear 2->64                                               "input_tokens_embedding": (N,96,64)
    prepend a learned token                                    "AddExtraTokens": (N,97,64)
    4 x MixerBlock:
        x = x + T(Lin 384->97(ReLU(Lin 97->384(T(LN1(x))))))   token mixing
        x = x + Lin 256->64(ReLU(Lin 64->256(LN2(x))))         channel mixing
        LN: over the 64 channels, eps 1e-6 (stored fp16), scale only (no bias)
    token 0 -> Linear 64->52 -> sigmoid                        "output_blendweights"
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

# MediaPipe's kLandmarksSubsetIdxs: the 146 of the 478 landmarks the model reads, in input order.
# Source: google-ai-edge/mediapipe, mediapipe/tasks/cc/vision/face_landmarker/face_blendshapes_graph.cc
# (same list in every release since the model shipped in 2023; includes the 10 iris points 468-477).
LANDMARK_SUBSET: tuple[int, ...] = (
    0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39,
    40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78, 80,
    81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133,
    136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159, 160,
    161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246,
    249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295,
    296, 297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334,
    336, 338, 356, 361, 362, 365, 373, 374, 375, 377, 378, 379, 380, 381, 382,
    384, 385, 386, 387, 388, 389, 390, 397, 398, 400, 402, 405, 409, 415, 454,
    466, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477,
)  # fmt: skip

# Output order of the model (kBlendshapeNames in the same file).
MEDIAPIPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)  # fmt: skip

TFLITE_NAME = "face_blendshapes.tflite"
_PREFIX = "model_1/GhumMarkerPoserMlpMixerGeneral/"
_MIXER = _PREFIX + "MLPMixer/"
NUM_BLOCKS = 4


def _arkit_index() -> np.ndarray:
    """`(51,)` ARKit index of MediaPipe outputs 1..51 (by name)."""
    from rigs.arkit import ARKIT_INDEX, MEDIAPIPE_TO_ARKIT

    return np.array([ARKIT_INDEX[MEDIAPIPE_TO_ARKIT[n]] for n in MEDIAPIPE_NAMES[1:]], dtype=np.int64)


def to_arkit(scores: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """`(..., 52)` scores in MediaPipe order -> `(..., 52)` in ARKit order (`_neutral` dropped,
    `tongueOut` 0). Works on tensors (differentiably) and arrays."""
    idx = _arkit_index()
    if isinstance(scores, torch.Tensor):
        out = scores.new_zeros(scores.shape)
        out[..., torch.from_numpy(idx)] = scores[..., 1:]
        return out
    scores = np.asarray(scores)
    out = np.zeros(scores.shape, dtype=scores.dtype)
    out[..., idx] = scores[..., 1:]
    return out


def read_tflite_constants(tflite: bytes) -> dict[str, np.ndarray]:
    """Every constant tensor of a tflite flatbuffer: name (up to the first ';') -> float32 / int32 array."""
    # The tflite flatbuffer schema as generated Python, shipped inside mediapipe (needs only `flatbuffers`).
    from mediapipe.tasks.metadata import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(tflite, 0)
    graph = model.Subgraphs(0)
    dtypes = {
        schema.TensorType.FLOAT32: np.float32,
        schema.TensorType.FLOAT16: np.float16,
        schema.TensorType.INT32: np.int32,
    }
    out: dict[str, np.ndarray] = {}
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        buffer = model.Buffers(tensor.Buffer())
        if buffer is None or buffer.DataLength() == 0 or tensor.Type() not in dtypes:
            continue
        shape = tuple(int(s) for s in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        data = np.frombuffer(buffer.DataAsNumpy().tobytes(), dtype=dtypes[tensor.Type()]).reshape(shape)
        if data.dtype == np.float16:
            data = data.astype(np.float32)
        out[tensor.Name().decode().split(";")[0]] = data
    return out


def read_task_member(task_path: str | Path, member: str) -> bytes:
    """One file (`face_blendshapes.tflite`, the geometry metadata, ...) out of a `.task` zip."""
    with zipfile.ZipFile(task_path) as archive:
        return archive.read(member)


class ScaleOnlyLayerNorm(nn.Module):
    """Keras LayerNormalization(center=False) over the last axis: (x - mean) / sqrt(var + eps) * gamma."""

    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(-1, keepdim=True)
        var = (x - mean).square().mean(-1, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight


class MixerBlock(nn.Module):
    def __init__(self, tokens: int = 97, channels: int = 64, token_hidden: int = 384,
                 channel_hidden: int = 256, eps: float = 1e-6) -> None:  # fmt: skip
        super().__init__()
        self.norm1 = ScaleOnlyLayerNorm(channels, eps)
        self.token1 = nn.Linear(tokens, token_hidden)
        self.token2 = nn.Linear(token_hidden, tokens)
        self.norm2 = ScaleOnlyLayerNorm(channels, eps)
        self.channel1 = nn.Linear(channels, channel_hidden)
        self.channel2 = nn.Linear(channel_hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, tokens, channels)
        y = self.norm1(x).transpose(1, 2)
        x = x + self.token2(torch.relu(self.token1(y))).transpose(1, 2)
        return x + self.channel2(torch.relu(self.channel1(self.norm2(x))))


class BlendshapeRegressor(nn.Module):
    """`forward(points_px: (N, 146, 2)) -> (N, 52)` scores in MediaPipe order (`MEDIAPIPE_NAMES`)."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.points_to_tokens = nn.Linear(146, 96)
        self.embed = nn.Linear(2, 64)
        self.extra_token = nn.Parameter(torch.zeros(1, 1, 64))
        self.blocks = nn.ModuleList(MixerBlock(eps=eps) for _ in range(NUM_BLOCKS))
        self.head = nn.Linear(64, 52)
        self.input_scale = 0.5

    @classmethod
    def from_tflite(cls, tflite: bytes) -> BlendshapeRegressor:
        c = read_tflite_constants(tflite)
        eps = float(c[_MIXER + "MixerBlock_0/layer_norm1/batchnorm/add/y"])
        model = cls(eps=eps)
        model.input_scale = float(c[_PREFIX + "tf.math.truediv/truediv"])

        def dense(layer: nn.Linear, kernel: str, bias: str) -> None:
            w = c[kernel]  # tflite conv kernel (out, 1, 1, in)
            layer.weight.data = torch.from_numpy(w.reshape(w.shape[0], -1).copy())
            layer.bias.data = torch.from_numpy(c[bias].copy())

        dense(model.points_to_tokens, _PREFIX + "conv2d/Conv2D", _PREFIX + "conv2d/BiasAdd/ReadVariableOp")
        dense(model.embed, _MIXER + "input_tokens_embedding/Conv2D",
              _MIXER + "input_tokens_embedding/BiasAdd/ReadVariableOp")  # fmt: skip
        model.extra_token.data = torch.from_numpy(c[_MIXER + "AddExtraTokens/strided_slice_1"].reshape(1, 1, 64).copy())
        for b, block in enumerate(model.blocks):
            p = f"{_MIXER}MixerBlock_{b}/"
            block.norm1.weight.data = torch.from_numpy(c[p + "layer_norm1/batchnorm/mul/ReadVariableOp"].copy())
            block.norm2.weight.data = torch.from_numpy(c[p + "layer_norm2/batchnorm/mul/ReadVariableOp"].copy())
            for layer, name in ((block.token1, "mlp_token_mixing/Mlp_1"), (block.token2, "mlp_token_mixing/Mlp_2"),
                                (block.channel1, "mlp_channel_mixing/Mlp_1"),
                                (block.channel2, "mlp_channel_mixing/Mlp_2")):  # fmt: skip
                dense(layer, p + name + "/Conv2D", p + name + "/BiasAdd/ReadVariableOp")
        dense(
            model.head, _PREFIX + "output_blendweights/Conv2D", _PREFIX + "output_blendweights/BiasAdd/ReadVariableOp"
        )
        return model.eval()

    @classmethod
    def from_task(cls, task_path: str | Path | None = None) -> BlendshapeRegressor:
        """Load from the landmarker `.task` (default: the bundled `face_landmarker.task`)."""
        if task_path is None:
            from rigs.assets import model_path

            task_path = model_path("face_landmarker.task")
        return cls.from_tflite(read_task_member(task_path, TFLITE_NAME))

    @staticmethod
    def normalize(points_px: torch.Tensor) -> torch.Tensor:
        """The model's own input normalisation (without the 0.5 factor): centroid to 0, mean radius 1."""
        centred = points_px - points_px.mean(dim=1, keepdim=True)
        radius = centred.square().sum(-1, keepdim=True).sqrt().mean(dim=1, keepdim=True)
        return centred / radius

    def forward(self, points_px: torch.Tensor) -> torch.Tensor:
        """`(N, 146, 2)` pixels -> `(N, 52)` scores in [0, 1], MediaPipe order."""
        return torch.sigmoid(self.logits(points_px))

    def logits(self, points_px: torch.Tensor) -> torch.Tensor:
        """The pre-sigmoid outputs (for optimisation: their gradients do not vanish at saturation)."""
        x = self.normalize(points_px) * self.input_scale  # (N, 146, 2)
        x = self.points_to_tokens(x.transpose(1, 2)).transpose(1, 2)  # (N, 96, 2)
        x = self.embed(x)  # (N, 96, 64)
        x = torch.cat([self.extra_token.expand(x.shape[0], -1, -1), x], dim=1)  # (N, 97, 64)
        for block in self.blocks:
            x = block(x)
        return self.head(x[:, 0])

    def from_landmarks(
        self, landmarks: np.ndarray | torch.Tensor, image_size: Sequence[int] | None = None
    ) -> torch.Tensor:
        """`(478, 2+)` or `(N, 478, 2+)` landmarks -> `(N, 52)` MediaPipe-order scores. Landmarks are in
        pixels, or normalised to [0, 1] when `image_size` (width, height) is given."""
        pts = torch.as_tensor(np.asarray(landmarks) if not isinstance(landmarks, torch.Tensor) else landmarks,
                              dtype=torch.float32)  # fmt: skip
        if pts.ndim == 2:
            pts = pts[None]
        pts = pts[:, list(LANDMARK_SUBSET), :2]
        if image_size is not None:
            pts = pts * torch.tensor([float(image_size[0]), float(image_size[1])])
        return self(pts)
