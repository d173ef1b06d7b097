"""PyTorch re-implementation of face-api's ``FaceRecognitionNet`` (128-d face descriptor).

Source model: ``model/face_recognition_model.bin`` (+ weights manifest) from the npm
package ``@vladmandic/face-api`` 1.7.15, itself a TF.js port of dlib's
``dlib_face_recognition_resnet_model_v1`` (a ResNet-34-like net with BatchNorm folded
into per-channel "scale" layers). Weights are converted by ``scripts/convert_faceapi.py``;
the check against the original TF.js runtime is ``tests/test_faceapi_nets.py``.

Graph (``src/faceRecognitionNet/FaceRecognitionNet.ts``, ``convLayer.ts``,
``residualLayer.ts``, ``scaleLayer.ts``)::

    x (N,3,150,150) RGB 0..255 -> (x - (122.782, 117.001, 104.298)) / 255
    conv32_down: conv 7x7 stride 2 'valid' + bias, scale, relu      (N,32,72,72)
    max pool 3x3 stride 2 'valid'                                   (N,32,35,35)
    conv32_1..3        residual                                     (N,32,35,35)
    conv64_down        residual_down                                (N,64,17,17)
    conv64_1..3        residual
    conv128_down       residual_down                                (N,128,8,8)
    conv128_1..2       residual
    conv256_down       residual_down                                (N,256,4,4)
    conv256_1..2       residual
    conv256_down_out   residual_down                                (N,256,2,2)
    mean over H, W                                                  (N,256)
    fc 256 -> 128, no bias                                          (N,128) descriptor

    conv layer  = conv + bias, then scale: y * weight[c] + bias[c] (then relu unless noted)
    residual       : relu(x + conv2_norelu(conv1(x)))               3x3 stride 1 'same' (pad 1)
    residual_down  : main = conv2_norelu(conv1(x)), conv1 3x3 stride 2 'valid';
                     shortcut = avgpool 2x2 stride 2 'valid' of x, zero channels appended
                     when C doubles; when main is one pixel smaller than the shortcut
                     (8 -> 3 vs 4, 4 -> 1 vs 2) face-api appends ONE zero row (bottom) and
                     ONE zero column (right) to main; out = relu(shortcut + main)

The descriptor is returned exactly as face-api returns it: not L2-normalised
(norms of about 1.3-1.5 on the reference inputs). Face-api compares descriptors
with the plain Euclidean distance (``euclideanDistance``; FaceMatcher's default
threshold is 0.6).

To build the input from a non-square face crop the way face-api does (zero-pad
to a centred square, legacy TF bilinear resize), use
``recognition.nets.faceapi_expression.faceapi_input_tensor(crop, 150)``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 150
"""Input side length in pixels (square RGB face crop)."""

DESCRIPTOR_SIZE = 128
"""Length of the face descriptor."""

MEAN_RGB = (122.782, 117.001, 104.298)
"""Per-channel mean subtracted by face-api before dividing by 255 (not 256)."""


class ChannelScale(nn.Module):
    """dlib/face-api affine "scale" layer: ``x * weight[c] + bias[c]`` on (N, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ConvLayer(nn.Module):
    """Conv (with bias) followed by ``ChannelScale``; ReLU is applied by the caller.

    ``stride=1`` uses TF 'same' padding (symmetric, k // 2); ``stride=2`` uses 'valid'
    (no padding), as face-api's ``conv``/``convNoRelu`` vs ``convDown``.
    Shape: (N, C_in, H, W) -> (N, C_out, H', W').
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        padding = kernel_size // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=True
        )
        self.scale = ChannelScale(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.conv(x))


class Residual(nn.Module):
    """face-api ``residual``: relu(x + conv2(relu(conv1(x)))). Shape preserved."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, stride=1)
        self.conv2 = ConvLayer(channels, channels, 3, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(out + x)


class ResidualDown(nn.Module):
    """face-api ``residualDown``: stride-2 'valid' main path + 2x2 avg-pool shortcut.

    Shape: (N, C_in, H, W) -> (N, C_out, H // 2, W // 2).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, out_channels, 3, stride=2)
        self.conv2 = ConvLayer(out_channels, out_channels, 3, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        pooled = F.avg_pool2d(x, kernel_size=2, stride=2)
        if pooled.shape[-2:] != out.shape[-2:]:
            out = F.pad(out, (0, 1, 0, 1))  # one zero column right, one zero row bottom
        if pooled.shape[1] != out.shape[1]:
            pooled = F.pad(pooled, (0, 0, 0, 0, 0, out.shape[1] - pooled.shape[1]))  # zero channels last
        return F.relu(pooled + out)


class FaceRecognitionNet(nn.Module):
    """face-api's ResNet-34-like face descriptor net (dlib port).

    Input: ``(N, 3, 150, 150)`` float32 RGB face crops with values in [0, 255]
    (face-api's own mean subtraction and /255 are done inside ``forward``).
    Output: ``(N, 128)`` float32 descriptors, exactly as face-api returns them
    (not re-normalised).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer(
            "mean_rgb", torch.tensor(MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1), persistent=False
        )
        self.conv32_down = ConvLayer(3, 32, 7, stride=2)
        self.conv32_1 = Residual(32)
        self.conv32_2 = Residual(32)
        self.conv32_3 = Residual(32)
        self.conv64_down = ResidualDown(32, 64)
        self.conv64_1 = Residual(64)
        self.conv64_2 = Residual(64)
        self.conv64_3 = Residual(64)
        self.conv128_down = ResidualDown(64, 128)
        self.conv128_1 = Residual(128)
        self.conv128_2 = Residual(128)
        self.conv256_down = ResidualDown(128, 256)
        self.conv256_1 = Residual(256)
        self.conv256_2 = Residual(256)
        self.conv256_down_out = ResidualDown(256, 256)
        self.fc = nn.Linear(256, DESCRIPTOR_SIZE, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected (N, 3, {INPUT_SIZE}, {INPUT_SIZE}) RGB input, got {tuple(x.shape)}")
        x = (x - self.mean_rgb) / 255.0
        x = F.relu(self.conv32_down(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.conv32_3(self.conv32_2(self.conv32_1(x)))
        x = self.conv64_down(x)
        x = self.conv64_3(self.conv64_2(self.conv64_1(x)))
        x = self.conv128_down(x)
        x = self.conv128_2(self.conv128_1(x))
        x = self.conv256_down(x)
        x = self.conv256_2(self.conv256_1(x))
        x = self.conv256_down_out(x)
        return self.fc(x.mean(dim=(2, 3)))

    @classmethod
    def from_safetensors(cls, path: str | Path) -> FaceRecognitionNet:
        """Build the net, load ``path`` (strict) and return it in eval mode."""
        from safetensors.torch import load_file

        net = cls()
        net.load_state_dict(load_file(str(path)), strict=True)
        return net.eval()
