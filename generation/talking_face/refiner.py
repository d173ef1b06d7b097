"""Optional neural mouth refiner: a local `diffusers` inpainting pipeline repaints the mouth region of
each rendered frame, for users who have such a model on disk (nothing is downloaded).

    refiner = MouthRefiner(MouthRefinerConfig(model_dir="models/sd-inpainting"))
    renderer = RefinedRenderer(WarpRenderer(...), refiner)
    crop = renderer.render(weights, head, eyes)       # as WarpRenderer, with the mouth repainted

Temporal consistency: every frame starts from the same seeded noise and a low `strength` (the warp's
mouth is kept, only its texture is refined), and the repainted patch is blended with the previous
frame's where the mouth hardly moved. `xformers` attention is used only when CUDA is present.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from generation.talking_face.renderer import WarpRenderer, compose
from generation.talking_face.rig import mouth_polygon, polygon_coverage
from rigs.errors import InputFileError
from rigs.face_topology import LIPS_OUTER_LOWER, LIPS_OUTER_UPPER

log = logging.getLogger(__name__)


@dataclass
class MouthRefinerConfig:
    model_dir: str | Path  # a diffusers inpainting pipeline folder (model_index.json, unet/, vae/, ...)
    prompt: str = "a photo of a person's mouth, natural lips and teeth, sharp, detailed"
    strength: float = 0.35  # how much of the warp's mouth is repainted (0 = untouched, 1 = from noise)
    steps: int = 12  # denoising steps at full strength (about strength x steps are run)
    guidance_scale: float = 5.0
    patch_size: int = 512  # side the mouth patch is repainted at (the model's native size)
    temporal_blend: float = 0.5  # weight of the previous frame's patch where the mouth did not move
    seed: int = 0
    device: str | None = None  # default: cuda when available, else cpu


def load_inpainting_pipeline(model_dir: str | Path, device: str):
    """A diffusers inpainting pipeline from a local folder only; one-line error if it is not one."""
    from diffusers import AutoPipelineForInpainting

    folder = Path(model_dir)
    if not (folder / "model_index.json").is_file():
        raise InputFileError(folder, "not a diffusers pipeline folder (no model_index.json)")
    import torch

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    try:
        pipe = AutoPipelineForInpainting.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except (OSError, ValueError) as error:
        raise InputFileError(folder, f"cannot load the inpainting pipeline: {error}") from error
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    if device.startswith("cuda"):
        try:
            pipe.enable_xformers_memory_efficient_attention()
        except (ImportError, ModuleNotFoundError, ValueError) as error:  # the `gpu` extra is optional
            log.info("xformers not used: %s", error)
    return pipe


@dataclass
class MouthPatch:
    """One frame's repainted mouth patch `(P, P, 3) float32` and its mask `(P, P) float32` in [0, 1]."""

    pixels: np.ndarray
    mask: np.ndarray


class MouthRefiner:
    """Repaints the mouth patch of `(R, R, 3) uint8` crops with a local inpainting pipeline."""

    def __init__(self, config: MouthRefinerConfig, pipeline=None):
        import torch

        self.config = config
        self.device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.pipe = pipeline if pipeline is not None else load_inpainting_pipeline(config.model_dir, self.device)

    def __call__(
        self, crop: np.ndarray, points: np.ndarray, previous: MouthPatch | None = None
    ) -> tuple[np.ndarray, MouthPatch]:
        """`crop` `(R, R, 3) uint8`, `points` the frame's control points `(N, 2)` crop pixels, `previous`
        the last frame's repainted patch (None at a video's start) -> the crop with its mouth region
        repainted (same shape), and this frame's patch for the next one."""
        import torch
        from PIL import Image

        mouth = mouth_polygon(points)
        x0, y0, side = _mouth_box(points, crop.shape[0])
        size = self.config.patch_size
        patch = cv2.resize(crop[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_CUBIC)
        mask = _feathered_mask((mouth - (x0, y0)) * (size / side), size)
        generator = torch.Generator(device="cpu").manual_seed(self.config.seed)  # the same noise every frame
        result = self.pipe(
            prompt=self.config.prompt,
            image=Image.fromarray(patch),
            mask_image=Image.fromarray((mask * 255).astype(np.uint8)),
            height=size,
            width=size,
            strength=self.config.strength,
            num_inference_steps=self.config.steps,
            guidance_scale=self.config.guidance_scale,
            generator=generator,
            output_type="np",
        ).images[0]
        repainted = np.clip(np.asarray(result, np.float32) * 255.0, 0, 255)
        if previous is not None:
            still = 1.0 - np.clip(np.abs(mask - previous.mask) * 4.0, 0.0, 1.0)  # where the mouth kept its shape
            keep = (self.config.temporal_blend * still)[..., None]
            repainted = keep * previous.pixels + (1.0 - keep) * repainted
        blended = mask[..., None] * repainted + (1.0 - mask[..., None]) * patch.astype(np.float32)
        out = crop.copy()
        out[y0 : y0 + side, x0 : x0 + side] = cv2.resize(
            np.clip(blended + 0.5, 0, 255).astype(np.uint8), (side, side), interpolation=cv2.INTER_AREA
        )
        return out, MouthPatch(repainted, mask)


def _mouth_box(points: np.ndarray, resolution: int) -> tuple[int, int, int]:
    """A square around the lips (twice the mouth width), inside the crop: x0, y0, side."""
    lips = points[np.r_[LIPS_OUTER_UPPER, LIPS_OUTER_LOWER]]
    centre = lips.mean(axis=0)
    side = int(min(resolution, max(16, 2.0 * np.ptp(lips[:, 0]))))
    x0 = int(np.clip(round(centre[0] - side / 2), 0, resolution - side))
    y0 = int(np.clip(round(centre[1] - side / 2), 0, resolution - side))
    return x0, y0, side


def _feathered_mask(polygon: np.ndarray, size: int) -> np.ndarray:
    """`(size, size) float32` in [0, 1]: the lips' polygon grown by the lip thickness, edges feathered."""
    grow = max(3, size // 24)
    mask = cv2.dilate(
        polygon_coverage(polygon, 0, 0, size, size), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2)
    )
    return cv2.GaussianBlur(mask, (0, 0), grow / 2)


class RefinedRenderer:
    """A `Renderer` that runs a `WarpRenderer`, then the mouth refiner on its output. Build one per video:
    it carries the previous frame's patch for temporal consistency."""

    def __init__(self, base: WarpRenderer, refiner: MouthRefiner):
        self.base, self.refiner = base, refiner
        self.resolution = base.resolution
        self.rig = base.rig
        self.previous: MouthPatch | None = None

    @property
    def crop_box(self) -> tuple[float, float, float, float]:
        return self.base.crop_box

    def render(self, weights: np.ndarray, head: np.ndarray | None = None, eyes: np.ndarray | None = None) -> np.ndarray:
        crop = self.base.render(weights, head, eyes)
        out, self.previous = self.refiner(crop, self.base.last_points, self.previous)
        return out

    def render_portrait(
        self, weights: np.ndarray, head: np.ndarray | None = None, eyes: np.ndarray | None = None
    ) -> np.ndarray:
        return compose(self.base.portrait, self.render(weights, head, eyes), self.rig, self.base.paste_mask)
