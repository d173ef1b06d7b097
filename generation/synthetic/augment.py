"""Augmentations of a rendered still: crop, mirror flip, colour, lighting, blur, noise, JPEG.

    params = sample_augment(spec.augment, rng)     # drawn once per job, when the job is made
    image = apply_augment(image, params, seed)     # (R, R, 3) uint8 -> (R, R, 3) uint8, deterministic

Parameters are drawn when jobs are expanded, so every job carries the exact values it used (they go into
its labels), and applying them is a pure function of the image, the parameters and the job's seed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from generation.synthetic.spec import AugmentSpec

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class AugmentParams:
    """One image's augmentation. Fractions are of the image side; angles in degrees."""

    crop_scale: float = 1.0
    crop_shift: tuple[float, float] = (0.0, 0.0)
    flip: bool = False
    brightness: float = 0.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    lighting_angle: float = 0.0
    lighting: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    jpeg_quality: int = 0  # 0: no JPEG round trip

    def to_dict(self) -> dict:
        data = asdict(self)
        data["crop_shift"] = list(self.crop_shift)
        data["white_balance"] = list(self.white_balance)
        return data

    @property
    def identity(self) -> bool:
        return self == AugmentParams()


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def sample_augment(spec: AugmentSpec, rng: np.random.Generator) -> AugmentParams:
    """Draw one image's parameters. Every value is drawn, in a fixed order, whether or not its range is
    zero, so switching one augmentation on does not change what the others draw."""
    u = rng.uniform(0.0, 1.0, size=16)

    def between(low: float, high: float, t: float) -> float:
        return low + (high - low) * t

    jpeg = 0
    if spec.jpeg_quality is not None:
        low, high = spec.jpeg_quality
        jpeg = min(high, low + int(u[15] * (high - low + 1)))
    return AugmentParams(
        crop_scale=_r(between(*spec.crop_scale, u[0])),
        crop_shift=(_r(spec.crop_shift * (2 * u[1] - 1)), _r(spec.crop_shift * (2 * u[2] - 1))),
        flip=bool(u[3] < spec.flip),
        brightness=_r(spec.brightness * (2 * u[4] - 1)),
        contrast=_r(1 + spec.contrast * (2 * u[5] - 1)),
        saturation=_r(1 + spec.saturation * (2 * u[6] - 1)),
        hue=_r(spec.hue * (2 * u[7] - 1), 2),
        white_balance=tuple(_r(1 + spec.white_balance * (2 * t - 1)) for t in u[8:11]),
        lighting_angle=_r(360 * u[11], 2),
        lighting=_r(spec.lighting * u[12]),
        blur=_r(spec.blur * u[13]),
        noise=_r(spec.noise * u[14], 2),
        jpeg_quality=jpeg,
    )


def crop(image: np.ndarray, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """A square of `scale` × the side, centred `shift` (fractions of the side) off the middle and kept
    inside the image, resized back to the image's size."""
    size = image.shape[0]
    side = scale * size
    limit = (size - side) / 2
    cx = size / 2 + float(np.clip(shift[0] * size, -limit, limit))
    cy = size / 2 + float(np.clip(shift[1] * size, -limit, limit))
    s = size / side
    matrix = np.array([[s, 0, -s * (cx - side / 2) + 0.5 * (s - 1)], [0, s, -s * (cy - side / 2) + 0.5 * (s - 1)]])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _hue_matrix(degrees: float) -> np.ndarray:
    """`(3, 3)` RGB -> RGB rotation of the hue by `degrees` about the grey axis, keeping luma (YIQ)."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    rotate = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    return (np.linalg.inv(to_yiq) @ rotate @ to_yiq).astype(np.float32)


def _has_colour(params: AugmentParams) -> bool:
    return (
        params.hue != 0.0
        or params.white_balance != (1.0, 1.0, 1.0)
        or params.saturation != 1.0
        or params.contrast != 1.0
        or params.brightness != 0.0
        or params.lighting != 0.0
    )


def colour_matrix(params: AugmentParams, mean_rgb: np.ndarray) -> np.ndarray:
    """`(3, 4)`: hue rotation, white balance, saturation, contrast about the mean luma and brightness, as
    one affine map of RGB in grey levels (all are linear, so one pass over the pixels does them all)."""
    hue = _hue_matrix(params.hue).astype(np.float64)
    balance = np.diag(params.white_balance)
    s = params.saturation
    saturation = s * np.eye(3) + (1 - s) * np.outer(np.ones(3), LUMA)
    linear = saturation @ balance @ hue
    mean_luma = float(LUMA.astype(np.float64) @ balance @ hue @ mean_rgb)  # saturation keeps luma
    c = params.contrast
    offset = (1 - c) * mean_luma + 255.0 * params.brightness
    return np.column_stack([c * linear, np.full(3, offset)]).astype(np.float32)


def _colour(image: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Colour and lighting in float, rounded back to uint8 once."""
    mean_rgb = np.array(cv2.mean(image)[:3], np.float64)
    x = cv2.transform(image.astype(np.float32), colour_matrix(params, mean_rgb))
    if params.lighting:
        size = x.shape[0]
        a = math.radians(params.lighting_angle)
        t = (np.arange(size, dtype=np.float32) - (size - 1) / 2) / (size / 2)
        ramp = np.clip(np.add.outer(t * np.float32(math.sin(a)), t * np.float32(math.cos(a))), -1.0, 1.0)
        x *= (1.0 + np.float32(params.lighting) * ramp)[..., None]
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def apply_augment(image: np.ndarray, params: AugmentParams, seed: int) -> np.ndarray:
    """`(R, R, 3) uint8` RGB -> the augmented `(R, R, 3) uint8`. `seed` drives the noise."""
    if params.identity:
        return image
    out = image
    if params.crop_scale < 1.0 or params.crop_shift != (0.0, 0.0):
        out = crop(out, params.crop_scale, params.crop_shift)
    if params.flip:
        out = np.ascontiguousarray(out[:, ::-1])

    if _has_colour(params):
        out = _colour(out, params)
    if params.blur >= 0.05:
        out = cv2.GaussianBlur(out, (0, 0), params.blur)
    if params.noise > 0:
        noise = np.random.default_rng(seed).standard_normal(out.shape, dtype=np.float32)
        out = np.clip(out + noise * np.float32(params.noise) + 0.5, 0, 255).astype(np.uint8)
    if params.jpeg_quality:
        ok, data = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])
        out = np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1])
    return out
