"""PyTorch re-implementation of face-api's ``SsdMobilenetv1`` face detector.

Source model: ``model/ssd_mobilenetv1_model.bin`` (+ weights manifest) from the npm
package ``@vladmandic/face-api`` 1.7.15 (originally justadudewhohacks/face-api.js).
Weights are converted by ``scripts/convert_faceapi.py``; the check against the
original TF.js runtime is ``tests/test_faceapi_ssd.py``.

Graph (``src/ssdMobilenetv1/*.ts``)::

    x (N,3,512,512) RGB 0..255 -> x / 127.5 - 1
    MobileNetV1 (every conv 'same', every activation relu6 = clip(0, 6)):
        conv_0: 3x3 stride 2 conv 3->32 (+ bias)                         256x256
        conv_1..13: depthwise 3x3 (+ batch norm, eps 1e-3) -> relu6
                    -> 1x1 conv (+ bias) -> relu6
                    stride 2 at 2, 4, 6, 12 -> 128, 64, 32, 16;
                    channels 64 128 128 256 256 512 x6 1024 1024
        conv11 = output of conv_11 (N,512,32,32);  out = conv_13 (N,1024,16,16)
    prediction layer: relu6 convs on ``out``: conv_0 1x1 ->256, conv_1 3x3 s2 ->512 (8x8),
        conv_2 1x1 ->128, conv_3 3x3 s2 ->256 (4x4), conv_4 1x1 ->128, conv_5 3x3 s2 ->256 (2x2),
        conv_6 1x1 ->64, conv_7 3x3 s2 ->128 (1x1)
    box predictors (1x1 conv + bias, no activation) on
        conv11 (32x32, 3 anchors), out (16x16, 6), conv_1 (8x8, 6), conv_3 (4x4, 6),
        conv_5 (2x2, 6), conv_7 (1x1, 6)  -> 3072+1536+384+96+24+6 = 5118 anchors,
        ordered (predictor, row, column, anchor); 4 box numbers + 3 class logits each.

The anchors (``Output/extra_dim``, buffer ``anchors`` (5118, 4)) are
``(ymin, xmin, ymax, xmax)`` in [0, 1] of the 512x512 input. Box encodings are
``(ty, tx, th, tw)`` with the usual SSD scales 10, 10, 5, 5 (``outputLayer.ts``),
and the face score is ``sigmoid`` of class logit 1 (logit 0 is background).

TF 'same' padding with stride 2 on an even side puts the single padding pixel on
the bottom/right, so stride-2 convs pad explicitly (``pad_same``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognition.nets.faceapi_expression import pad_same

INPUT_SIZE = 512
"""Side length in pixels of the square net input."""

NUM_ANCHORS = 5118
"""Number of prior boxes (outputs per image)."""

BATCH_NORM_EPSILON = 0.0010000000474974513
"""face-api's batch-norm epsilon (float32 0.001), ``mobileNetV1.ts``."""

IOU_THRESHOLD = 0.5
"""Fixed NMS IoU threshold of ``SsdMobilenetv1.locateFaces``."""

_BACKBONE = (  # (in, out, depthwise stride) of conv_1..conv_13
    (32, 64, 1),
    (64, 128, 2),
    (128, 128, 1),
    (128, 256, 2),
    (256, 256, 1),
    (256, 512, 2),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 512, 1),
    (512, 1024, 2),
    (1024, 1024, 1),
)
_PREDICTION = (  # (in, out, kernel) of prediction conv_0..7; the 3x3 ones have stride 2
    (1024, 256, 1),
    (256, 512, 3),
    (512, 128, 1),
    (128, 256, 3),
    (256, 128, 1),
    (128, 256, 3),
    (256, 64, 1),
    (64, 128, 3),
)
_BOX_PREDICTORS = ((512, 3), (1024, 6), (512, 6), (256, 6), (256, 6), (128, 6))  # (in channels, anchors per cell)


class PointwiseConv(nn.Module):
    """face-api ``pointwiseConvLayer``: conv ('same', bias = folded batch-norm offset) -> relu6.

    Shape: (N, C_in, H, W) -> (N, C_out, ceil(H/stride), ceil(W/stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel_size > 1:
            x = pad_same(x, self.kernel_size, self.stride)
        return F.hardtanh(self.conv(x), 0.0, 6.0)


class DepthwiseConvBN(nn.Module):
    """face-api ``depthwiseConvLayer``: depthwise 3x3 ('same', no bias) -> batch norm -> relu6.

    Batch norm (inference): ``(x - mean) / sqrt(variance + eps) * scale + offset``.
    Shape: (N, C, H, W) -> (N, C, ceil(H/stride), ceil(W/stride)).
    """

    def __init__(self, channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(
            channels, channels, 3, stride=stride, padding=1 if stride == 1 else 0, groups=channels, bias=False
        )
        self.batch_norm_scale = nn.Parameter(torch.ones(channels))
        self.batch_norm_offset = nn.Parameter(torch.zeros(channels))
        self.register_buffer("batch_norm_mean", torch.zeros(channels))
        self.register_buffer("batch_norm_variance", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = pad_same(x, 3, self.stride)
        x = F.batch_norm(
            self.conv(x),
            self.batch_norm_mean,
            self.batch_norm_variance,
            self.batch_norm_scale,
            self.batch_norm_offset,
            training=False,
            eps=BATCH_NORM_EPSILON,
        )
        return F.hardtanh(x, 0.0, 6.0)


class ConvPair(nn.Module):
    """MobileNetV1 block: ``DepthwiseConvBN`` then 1x1 ``PointwiseConv``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise = DepthwiseConvBN(in_channels, stride)
        self.pointwise = PointwiseConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class MobileNetV1(nn.Module):
    """Backbone. (N, 3, 512, 512) normalised -> (conv11 (N,512,32,32), out (N,1024,16,16))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_0 = PointwiseConv(3, 32, kernel_size=3, stride=2)
        for i, (cin, cout, stride) in enumerate(_BACKBONE, start=1):
            self.add_module(f"conv_{i}", ConvPair(cin, cout, stride))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv_0(x)
        conv11 = x
        for i in range(1, len(_BACKBONE) + 1):
            x = getattr(self, f"conv_{i}")(x)
            if i == 11:
                conv11 = x
        return conv11, x


class BoxPredictor(nn.Module):
    """1x1 box-encoding and class convs of one feature map.

    (N, C, H, W) -> encodings (N, H*W*A, 4), class logits (N, H*W*A, 3), in TF's
    (row, column, anchor) order.
    """

    def __init__(self, in_channels: int, anchors: int) -> None:
        super().__init__()
        self.box_encoding_predictor = nn.Conv2d(in_channels, anchors * 4, 1, bias=True)
        self.class_predictor = nn.Conv2d(in_channels, anchors * 3, 1, bias=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        boxes = self.box_encoding_predictor(x).permute(0, 2, 3, 1).reshape(n, -1, 4)
        classes = self.class_predictor(x).permute(0, 2, 3, 1).reshape(n, -1, 3)
        return boxes, classes


class PredictionLayer(nn.Module):
    """Extra SSD feature maps + the six box predictors (``predictionLayer.ts``).

    (conv11, out) -> encodings (N, 5118, 4), class logits (N, 5118, 3).
    """

    def __init__(self) -> None:
        super().__init__()
        for i, (cin, cout, k) in enumerate(_PREDICTION):
            self.add_module(f"conv_{i}", PointwiseConv(cin, cout, kernel_size=k, stride=2 if k == 3 else 1))
        for i, (cin, anchors) in enumerate(_BOX_PREDICTORS):
            self.add_module(f"box_predictor_{i}", BoxPredictor(cin, anchors))

    def forward(self, conv11: torch.Tensor, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = [conv11, out]
        x = out
        for i in range(len(_PREDICTION)):
            x = getattr(self, f"conv_{i}")(x)
            if i % 2 == 1:
                feats.append(x)
        preds = [getattr(self, f"box_predictor_{i}")(f) for i, f in enumerate(feats)]
        return torch.cat([p[0] for p in preds], 1), torch.cat([p[1] for p in preds], 1)


class SsdMobilenetV1(nn.Module):
    """face-api's SSD MobileNetV1 face detector (the net; see ``detect_faces`` for the full pipeline).

    Input: ``(N, 3, 512, 512)`` float32 RGB with values in [0, 255] (face-api's
    ``/ 127.5 - 1`` normalisation is done inside ``forward``).
    Output: ``(encodings, scores)``: raw box encodings ``(N, 5118, 4)``
    ``(ty, tx, th, tw)`` relative to ``self.anchors`` (decode with ``decode_boxes``),
    and face scores ``(N, 5118)`` in [0, 1] (sigmoid of the face class logit).
    """

    def __init__(self) -> None:
        super().__init__()
        self.mobilenet = MobileNetV1()
        self.prediction = PredictionLayer()
        self.register_buffer("anchors", torch.zeros(NUM_ANCHORS, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"expected (N, 3, {INPUT_SIZE}, {INPUT_SIZE}) RGB input, got {tuple(x.shape)}")
        x = x / 127.5 - 1.0
        conv11, out = self.mobilenet(x)
        encodings, classes = self.prediction(conv11, out)
        return encodings, torch.sigmoid(classes[..., 1])

    def decode_boxes(self, encodings: torch.Tensor) -> torch.Tensor:
        """(N, 5118, 4) encodings -> (N, 5118, 4) boxes ``(ymin, xmin, ymax, xmax)``, in [0, 1] units of the
        512x512 input (not clipped). Same float32 op order as face-api's ``outputLayer.ts``."""
        a = self.anchors
        size_y, size_x = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
        center_y, center_x = a[:, 0] + size_y / 2, a[:, 1] + size_x / 2
        half_h = torch.exp(encodings[..., 2] / 5) * size_y / 2
        half_w = torch.exp(encodings[..., 3] / 5) * size_x / 2
        cy = encodings[..., 0] / 10 * size_y + center_y
        cx = encodings[..., 1] / 10 * size_x + center_x
        return torch.stack([cy - half_h, cx - half_w, cy + half_h, cx + half_w], dim=-1)

    @classmethod
    def from_safetensors(cls, path: str | Path) -> SsdMobilenetV1:
        """Build the net, load ``path`` (strict) and return it in eval mode."""
        from safetensors.torch import load_file

        net = cls()
        net.load_state_dict(load_file(str(path)), strict=True)
        return net.eval()


def _js_round(x: float) -> int:
    """JavaScript ``Math.round`` (halves round up)."""
    return math.floor(x + 0.5)


def ssd_input_tensor(image: np.ndarray) -> torch.Tensor:
    """Imitate face-api's ``NetInput.toBatchTensor(512, isCenterInputs=false)`` for a tensor input.

    ``image``: (H, W, 3) RGB, uint8 (or float values 0..255). Returns ``(1, 3, 512, 512)``
    float32 in [0, 255].

    1. ``padToSquare(isCenterImage=false)``: zeros (black) appended on the bottom
       (H < W) or right (W < H); the image keeps its top-left corner;
    2. if the side is not 512: ``tf.image.resizeBilinear(alignCorners=false,
       halfPixelCenters=false)`` (source coordinate ``dst * side / 512``, no
       antialiasing), computed in float64 like tfjs-backend-cpu, then rounded to float32.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB image, got {img.shape}")
    height, width = img.shape[:2]
    side = max(height, width)
    if side == INPUT_SIZE and height == width:
        out = img.astype(np.float32)
    else:
        src = np.arange(INPUT_SIZE, dtype=np.float64) * (side / INPUT_SIZE)
        lo = np.maximum(0, np.floor(src)).astype(np.int64)
        hi = np.minimum(side - 1, np.ceil(src)).astype(np.int64)
        frac = src - lo

        def corner(r: np.ndarray, c: np.ndarray) -> np.ndarray:  # (512, 512, 3) float64; padding is zero
            v = img.take(np.minimum(r, height - 1), 0).take(np.minimum(c, width - 1), 1).astype(np.float64)
            v[r >= height] = 0.0
            v[:, c >= width] = 0.0
            return v

        fc = frac[None, :, None]
        top_left, top_right = corner(lo, lo), corner(lo, hi)
        bottom_left, bottom_right = corner(hi, lo), corner(hi, hi)
        top = top_left + (top_right - top_left) * fc
        bottom = bottom_left + (bottom_right - bottom_left) * fc
        out = (top + (bottom - top) * frac[:, None, None]).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))[None]


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, max_output_size: int, iou_threshold: float, score_threshold: float
) -> list[int]:
    """face-api's greedy NMS (``nonMaxSuppression.ts``): indices of the kept boxes, best first.

    ``boxes``: (M, 4) ``(ymin, xmin, ymax, xmax)`` (any consistent unit); ``scores``: (M,).
    Candidates have ``score > score_threshold``, are visited by decreasing score (ties
    in index order, as JS's stable sort) and kept unless their IoU with an already kept
    box is > ``iou_threshold``. IoU is computed in float64 like JS.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    output_size = min(max_output_size, len(boxes))
    cand = np.flatnonzero(scores > score_threshold)
    cand = cand[np.argsort(-scores[cand], kind="stable")]
    y0 = np.minimum(boxes[:, 0], boxes[:, 2])
    x0 = np.minimum(boxes[:, 1], boxes[:, 3])
    y1 = np.maximum(boxes[:, 0], boxes[:, 2])
    x1 = np.maximum(boxes[:, 1], boxes[:, 3])
    area = (y1 - y0) * (x1 - x0)
    selected: list[int] = []
    for i in cand:
        if len(selected) >= output_size:
            break
        if selected:
            s = np.asarray(selected)
            inter = np.maximum(np.minimum(y1[i], y1[s]) - np.maximum(y0[i], y0[s]), 0.0) * np.maximum(
                np.minimum(x1[i], x1[s]) - np.maximum(x0[i], x0[s]), 0.0
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                iou = inter / (area[i] + area[s] - inter)
            iou = np.where((area[i] <= 0) | (area[s] <= 0), 0.0, iou)
            # JS: a box is dropped as soon as one IoU (!= 0) is not <= threshold (NaN included)
            if np.any((iou != 0.0) & ~(iou <= iou_threshold)):
                continue
        selected.append(int(i))
    return selected


@torch.no_grad()
def detect_faces(
    net: SsdMobilenetV1,
    image: np.ndarray,
    min_confidence: float = 0.5,
    max_results: int = 100,
    iou_threshold: float = IOU_THRESHOLD,
) -> list[tuple[float, float, float, float, float]]:
    """Detect faces like face-api's ``ssdMobilenetv1.locateFaces`` / ``detectAllFaces``.

    ``image``: (H, W, 3) uint8 RGB. Returns ``(x0, y0, x1, y1, score)`` per face, in
    pixels of ``image`` (x right, y down; x1/y1 exclusive edges), best score first.

    Pipeline: ``ssd_input_tensor`` (pad bottom/right to a square, resize to 512) ->
    net -> ``decode_boxes`` -> ``non_max_suppression`` (score > ``min_confidence``,
    IoU ``iou_threshold``, face-api fixes it at 0.5) on the unclipped boxes -> clip to
    [0, 1] of the padded square -> scale by ``512 / round(side * 512 / max(H, W))`` per
    axis (face-api's ``getReshapedInputDimensions``) and by the image size. As in
    face-api, boxes are not clipped to the image itself.
    """
    if not 0.0 < min_confidence < 1.0:
        raise ValueError(f"min_confidence must be in (0, 1), got {min_confidence}")
    if max_results < 1:
        raise ValueError(f"max_results must be >= 1, got {max_results}")
    height, width = np.asarray(image).shape[:2]
    x = ssd_input_tensor(image).to(net.anchors.device)
    with torch.inference_mode():
        encodings, scores = net(x)
        boxes = net.decode_boxes(encodings)[0].cpu().numpy()
    return postprocess(boxes, scores[0].cpu().numpy(), height, width, min_confidence, max_results, iou_threshold)


def postprocess(
    boxes: np.ndarray,
    scores: np.ndarray,
    height: int,
    width: int,
    min_confidence: float = 0.5,
    max_results: int = 100,
    iou_threshold: float = IOU_THRESHOLD,
) -> list[tuple[float, float, float, float, float]]:
    """Decoded anchor boxes `(5118, 4)` (top, left, bottom, right in [0, 1] of the padded square) and
    scores `(5118,)` -> face-api's detections `(x0, y0, x1, y1, score)` in pixels of an `height x width`
    image: NMS, clipping to the square, and face-api's rescaling (see `detect_faces`)."""
    scores_np = scores
    keep = non_max_suppression(boxes, scores_np, max_results, iou_threshold, min_confidence)

    scale = INPUT_SIZE / max(height, width)
    pad_x = INPUT_SIZE / _js_round(width * scale)
    pad_y = INPUT_SIZE / _js_round(height * scale)
    results = []
    for i in keep:
        b = [float(v) for v in boxes[i]]
        top, bottom = max(0.0, b[0]) * pad_y, min(1.0, b[2]) * pad_y
        left, right = max(0.0, b[1]) * pad_x, min(1.0, b[3]) * pad_x
        x0, y0 = left * width, top * height
        results.append((x0, y0, x0 + (right - left) * width, y0 + (bottom - top) * height, float(scores_np[i])))
    return results
