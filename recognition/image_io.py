"""Loading still images the way users have them, with one-line errors naming the file and the problem."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rigs.errors import AffectStudioError, InputFileError

MAX_PIXELS = 100_000_000  # 10000 x 10000; above this an image is refused instead of exhausting memory
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Any PIL image (grey, palette, RGBA, 16-bit, CMYK) -> `(H, W, 3) uint8` RGB.

    Transparent pixels are composited on white, the way viewers show them; 16-bit samples are scaled down.
    """
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max() > 255 else 255.0
        grey = np.clip(values / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "F":
        grey = np.clip(np.asarray(image) * (255.0 if np.asarray(image).max() <= 1.0 else 1.0), 0, 255)
        return np.repeat(grey.astype(np.uint8)[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file -> `(H, W, 3) uint8` RGB, upright (EXIF orientation applied).

    Raises `InputFileError` with a one-line reason for a missing, unreadable, non-image, corrupt,
    truncated or oversized file.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, expected an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise InputFileError(
                        path, f"image is {width}x{height} px, above the {MAX_PIXELS // 1_000_000} MP limit"
                    )
                image.load()
                return to_rgb8(ImageOps.exif_transpose(image))
    except InputFileError:
        raise
    except PermissionError:
        raise InputFileError(path, "permission denied") from None
    except UnidentifiedImageError:
        raise InputFileError(path, "not an image (or an unsupported image format)") from None
    except Image.DecompressionBombError:
        raise InputFileError(path, f"image is above the {MAX_PIXELS // 1_000_000} MP limit") from None
    except (OSError, SyntaxError, ValueError) as error:
        reason = str(error).rstrip(".") or type(error).__name__
        raise InputFileError(path, f"corrupt or truncated image ({reason})") from None


def as_rgb8(image: str | Path | Image.Image | np.ndarray) -> np.ndarray:
    """An image as users hand it over (a file's path, a PIL image, or an array `(H, W)`, `(H, W, 3)` or
    `(H, W, 4)`, uint8 or float in [0, 1]) -> `(H, W, 3) uint8` RGB. Arrays are taken as RGB(A), not
    OpenCV's BGR; anything else is refused in one line."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return to_rgb8(image)
    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)) or min(array.shape[:2]) < 1:
        raise AffectStudioError(f"image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}")
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.dtype.kind == "f":
        peak = float(np.nanmax(array))
        if peak > 1.0 + 1e-6:
            raise AffectStudioError(f"a float image array must be in [0, 1]; got values up to {peak:g}")
        array = np.clip(np.nan_to_num(array) * 255.0 + 0.5, 0, 255)
    elif array.dtype != np.uint8:
        raise AffectStudioError(f"image array must be uint8 or float in [0, 1]; got {array.dtype}")
    return to_rgb8(Image.fromarray(array.astype(np.uint8)))
