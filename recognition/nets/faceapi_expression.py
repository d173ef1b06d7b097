"""PyTorch re-implementation of face-api's ``FaceExpressionNet``.

Source model: ``model/face_expression_model.bin`` (+ weights manifest) from the npm
package ``@vladmandic/face-api`` 1.7.15 (originally justadudewhohacks/face-api.js).
Weights are converted by ``scripts/convert_faceapi.py``; the check against the
original TF.js runtime is ``tests/test_faceapi_nets.py``.

Graph (``src/faceFeatureExtractor/FaceFeatureExtractor.ts``, ``denseBlock.ts``,
``src/common/depthwiseSeparableConv.ts``, ``src/faceProcessor/FaceProcessor.ts``)::

    x (N,3,112,112) RGB 0..255 -> (x - (122.782, 117.001, 104.298)) / 255
    dense0: conv 3x3 stride 2 'same' 3->32 (plain conv, bias)      (N,32,56,56)
    dense1..3: sepconv 3x3 stride 2 'same' -> 64, 128, 256        28 -> 14 -> 7
        every dense block (C = 32, 64, 128, 256):
            out1 = relu(conv0(x))                       (the stride-2 conv)
            out2 = conv1(out1)
            out3 = conv2(relu(out1 + out2))
            out4 = conv3(relu(out1 + (out2 + out3)))
            y    = relu(out1 + (out2 + (out3 + out4)))
        conv1..3 are depthwise-separable 3x3 stride 1 'same' (+ bias after the pointwise)
    avg pool 7x7 stride 2 'valid' (TF)                             (N,256,1,1)
    fc 256 -> 7                                                    (N,7) logits

face-api applies ``softmax`` to these logits (``FaceExpressionNet.forwardInput``);
this module returns the logits and leaves the softmax to the caller.

TF 'same' padding with stride 2 on an even side puts the single padding pixel on
the bottom/right (112 -> pad (0, 1)), so padding is done explicitly with ``F.pad``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CLASS_NAMES = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
"""Output order of the net (face-api ``FACE_EXPRESSION_LABELS``)."""

INPUT_SIZE = 112
"""Input side length in pixels (square RGB face crop)."""

MEAN_RGB = (122.782, 117.001, 104.298)
"""Per-channel mean subtracted by face-api before dividing by 255."""


def pad_same(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """Zero-pad (N, C, H, W) the way TensorFlow's ``padding='same'`` does.

    Output side is ceil(in / stride); the total padding is split with the odd
    pixel on the bottom/right.
    """

    def pads(size: int) -> tuple[int, int]:
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel_size - size, 0)
        return total // 2, total - total // 2

    top, bottom = pads(x.shape[-2])
    left, right = pads(x.shape[-1])
    if top == bottom == left == right == 0:
        return x
    return F.pad(x, (left, right, top, bottom))


def faceapi_input_tensor(image: np.ndarray, size: int) -> torch.Tensor:
    """Imitate face-api's ``NetInput.toBatchTensor(size, isCenterInputs=true)`` for a tensor input.

    ``image``: (H, W, 3) RGB face crop (uint8 or float, values 0..255), e.g. the
    ``tf.slice`` of the box face-api's ``extractFaceTensors`` takes from the frame.
    Returns ``(1, 3, size, size)`` float32 in [0, 255] for ``FaceExpressionNet``
    (size 112) or ``FaceRecognitionNet`` (size 150).

    Steps (``src/ops/padToSquare.ts``, ``src/dom/NetInput.ts``):

    1. pad to square with zeros (black) along the shorter side: ``round(diff / 2)``
       (JS ``Math.round``, .5 rounds up) rows/columns after (bottom/right), the rest
       before (top/left);
    2. if the side is not ``size``: ``tf.image.resizeBilinear(alignCorners=false,
       halfPixelCenters=false)``, i.e. legacy TF bilinear with source coordinate
       ``dst * in / out`` (no half-pixel offset, no antialiasing), computed here in
       float64 exactly as tfjs-backend-cpu does, then rounded to float32.
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB image, got {img.shape}")
    height, width = img.shape[:2]
    if height != width:
        diff = abs(height - width)
        after = math.floor(diff * 0.5 + 0.5)
        before = diff - after
        pads = ((before, after), (0, 0), (0, 0)) if height < width else ((0, 0), (before, after), (0, 0))
        img = np.pad(img, pads)
    side = img.shape[0]
    if side != size:
        src = np.arange(size, dtype=np.float64) * (side / size)
        lo = np.maximum(0, np.floor(src)).astype(np.int64)
        hi = np.minimum(side - 1, np.ceil(src)).astype(np.int64)
        frac = src - lo
        x = img.astype(np.float64)
        rows_lo, rows_hi = x[lo], x[hi]  # (size, side, 3)
        fc = frac[None, :, None]
        top = rows_lo[:, lo] + (rows_lo[:, hi] - rows_lo[:, lo]) * fc
        bottom = rows_hi[:, lo] + (rows_hi[:, hi] - rows_hi[:, lo]) * fc
        img = (top + (bottom - top) * frac[:, None, None]).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


class ConvSame(nn.Module):
    """Plain 3x3 conv with bias, TF 'same' padding. (N,C_in,H,W) -> (N,C_out,ceil(H/s),ceil(W/s))."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(pad_same(x, 3, self.stride))


class SeparableConvSame(nn.Module):
    """TF ``separableConv2d`` (3x3 depthwise, multiplier 1, 'same') + 1x1 pointwise + bias.

    Shape: (N, C_in, H, W) -> (N, C_out, ceil(H/stride), ceil(W/stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        # stride 1: TF 'same' is a symmetric pad of 1, which Conv2d does itself (no copy)
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            3,
            stride=stride,
            padding=1 if stride == 1 else 0,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = pad_same(x, 3, self.stride)
        return self.pointwise(self.depthwise(x))


class DenseBlock(nn.Module):
    """face-api ``denseBlock4``: a stride-2 conv followed by three densely connected sepconvs.

    Shape: (N, C_in, H, W) -> (N, C_out, ceil(H/2), ceil(W/2)).
    """

    def __init__(self, in_channels: int, out_channels: int, first: bool = False) -> None:
        super().__init__()
        self.conv0 = (
            ConvSame(in_channels, out_channels, stride=2)
            if first
            else SeparableConvSame(in_channels, out_channels, stride=2)
        )
        self.conv1 = SeparableConvSame(out_channels, out_channels, stride=1)
        self.conv2 = SeparableConvSame(out_channels, out_channels, stride=1)
        self.conv3 = SeparableConvSame(out_channels, out_channels, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = F.relu(self.conv0(x))
        out2 = self.conv1(out1)
        out3 = self.conv2(F.relu(out1 + out2))
        out4 = self.conv3(F.relu(out1 + (out2 + out3)))
        return F.relu(out1 + (out2 + (out3 + out4)))


class FaceExpressionNet(nn.Module):
    """face-api's 7-class facial-expression classifier.

    Input: ``(N, 3, 112, 112)`` float32 RGB face crops with values in [0, 255]
    (face-api's own mean subtraction and /255 are done inside ``forward``).
    Output: ``(N, 7)`` float32 logits, classes in ``CLASS_NAMES`` order;
    ``softmax(dim=1)`` of them equals face-api's expression probabilities.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer(
            "mean_rgb", torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.dense0 = DenseBlock(3, 32, first=True)
        self.dense1 = DenseBlock(32, 64)
        self.dense2 = DenseBlock(64, 128)
        self.dense3 = DenseBlock(128, 256)
        self.fc = nn.Linear(256, len(CLASS_NAMES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected (N, 3, {INPUT_SIZE}, {INPUT_SIZE}) RGB input, got {tuple(x.shape)}")
        x = (x - self.mean_rgb) / 255.0
        x = self.dense0(x)
        x = self.dense1(x)
        x = self.dense2(x)
        x = self.dense3(x)
        x = F.avg_pool2d(x, kernel_size=7, stride=2)  # TF 'valid': 7x7 -> 1x1
        return self.fc(x.flatten(1))

    @classmethod
    def from_safetensors(cls, path: str | Path) -> FaceExpressionNet:
        """Build the net, load ``path`` (strict) and return it in eval mode."""
        from safetensors.torch import load_file

        net = cls()
        net.load_state_dict(load_file(str(path)), strict=True)
        return net.eval()
