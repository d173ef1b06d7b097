"""`TalkingFacePipeline`: a portrait + speech (or text) + an emotion -> an MP4 of that face speaking.

    pipeline = TalkingFacePipeline()
    result = pipeline("portrait.jpg", audio=load_audio("line.wav"), emotion="happy:0.7", output="talk.mp4")
    result.video_path, result.motion, result.score

The recipe: fit the face once; speech -> phones and emotion -> rig curves (`RigCurvesPipeline`); render
every frame of the curves on the portrait (`WarpRenderer`, or any `Renderer` passed as `renderer=`),
paste it back into the whole picture (or, with `framing="face"`, keep the square close-up the renderer
drew) and encode it with the audio as it goes (flat memory, however long the speech). An optional
`scorer` (the studio passes `studio.scoring.score_talking_face`) re-measures the result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from generation.motion import MotionConfig
from generation.rig_curves import RigCurvesPipeline, RigCurvesResult
from generation.talking_face.refiner import MouthRefiner, MouthRefinerConfig, RefinedRenderer
from generation.talking_face.renderer import Renderer, RendererFactory, WarpRenderer
from generation.talking_face.wrinkles import DEFAULT_DEPTH
from generation.video_writer import VideoWriter
from recognition.audio import Audio
from recognition.emotion_spec import EmotionSpec
from recognition.face import FaceAnalyzer, FaceObservation
from recognition.image_io import as_rgb8
from recognition.mouth_cover import mouth_looks_covered
from rigs.atomic import check_writable
from rigs.errors import AffectStudioError, InputFileError
from rigs.face_mesh import CanonicalFace, load_canonical_face
from rigs.motion import FaceMotion

log = logging.getLogger(__name__)

# What the video shows: the whole picture with the face animated in it, or the square the renderer draws
# around the face (`resolution` pixels a side, ~2.2 face heights: head and shoulders), cut to the picture.
FRAMINGS = ("portrait", "face")


@dataclass
class TalkingFaceConfig:
    resolution: int = 512  # side of the square face crop that is rendered: 256, 512 or 1024
    fps: float = 25.0
    max_output_side: int = 1280  # larger portraits are scaled down to this (long side, pixels)
    face_index: int = 0  # which face, largest first
    max_yaw_deg: float = 35.0  # a face turned further than this cannot be animated convincingly in 2D
    min_face_px: int = 64  # smaller faces still work, upscaled, with a warning
    crf: int = 20  # H.264 quality (lower is better and bigger)
    wrinkle_depth: float = DEFAULT_DEPTH  # expression creases (nose, brows, nasolabial folds); 0 turns them off
    motion: MotionConfig = field(default_factory=lambda: MotionConfig(fps=25.0))
    refiner: MouthRefinerConfig | None = None  # a local diffusers inpainting model repaints the mouth
    framing: str = "portrait"  # one of FRAMINGS

    def __post_init__(self) -> None:
        if self.resolution not in (256, 512, 1024):
            raise AffectStudioError(f"resolution must be 256, 512 or 1024, not {self.resolution}")
        if self.framing not in FRAMINGS:
            raise AffectStudioError(f"framing must be one of {', '.join(FRAMINGS)}, not {self.framing!r}")
        self.motion.fps = self.fps
        self.motion.__post_init__()  # validates the fps


@dataclass
class TalkingFaceResult:
    video_path: Path
    motion: FaceMotion
    curves: RigCurvesResult
    face: FaceObservation
    crop_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # rendered window in the portrait, px
    score: Any = None  # whatever the scorer returns (the studio's ScoreReport)
    seconds: dict[str, float] = field(default_factory=dict)
    # a face close-up: the portrait's part the video shows (px); None: the whole portrait, the face pasted back
    shown_box: tuple[float, float, float, float] | None = None
    video_scale: float = 1.0  # video pixels per portrait pixel

    def to_video(self, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A box `(x0, y0, x1, y1)` in portrait pixels -> the same place in the video's pixels."""
        if self.shown_box is None:
            return box
        x0, y0, s = self.shown_box[0], self.shown_box[1], self.video_scale
        return ((box[0] - x0) * s, (box[1] - y0) * s, (box[2] - x0) * s, (box[3] - y0) * s)


def fit_portrait_size(image: np.ndarray, max_side: int) -> np.ndarray:
    """Scale down (never up) so the long side is at most `max_side`; even sizes for H.264."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    w, h = int(width * scale) // 2 * 2, int(height * scale) // 2 * 2
    if (w, h) == (width, height):
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


class TalkingFacePipeline:
    """Portrait + speech or text + emotion -> `TalkingFaceResult`. Components are built once and reused.

    `renderer` swaps the default `WarpRenderer` for another backend: a `RendererFactory` called once per
    video with the (size-fitted) portrait and the chosen face. The mouth refiner wraps the default only."""

    def __init__(
        self,
        config: TalkingFaceConfig | None = None,
        analyzer: FaceAnalyzer | None = None,
        curves: RigCurvesPipeline | None = None,
        canonical: CanonicalFace | None = None,
        scorer: Callable[..., Any] | None = None,
        renderer: RendererFactory | None = None,
    ):
        self.config = config or TalkingFaceConfig()
        if renderer is not None and self.config.refiner is not None:
            raise AffectStudioError("the mouth refiner repaints the default warp renderer's frames, not another's")
        self.analyzer = analyzer or FaceAnalyzer()
        self.curves = curves or RigCurvesPipeline(motion=self.config.motion)
        self.canonical = canonical or load_canonical_face()
        self.scorer = scorer
        self.refiner = MouthRefiner(self.config.refiner) if self.config.refiner is not None else None
        # the factory, not `renderer or self.warp_renderer`: a bound method stored on self is a reference cycle,
        # and a pipeline left to the cyclic GC closes MediaPipe's landmarker from inside a collection, which
        # can deadlock (its close() waits on MediaPipe's dispatcher thread)
        self.renderer = renderer

    def warp_renderer(self, portrait: np.ndarray, face: FaceObservation) -> Renderer:
        """The default backend: `WarpRenderer` at the configured resolution, through the refiner if set."""
        renderer = WarpRenderer(portrait, face, self.canonical, self.config.resolution, self.config.wrinkle_depth)
        return RefinedRenderer(renderer, self.refiner) if self.refiner is not None else renderer

    def choose_face(self, portrait: np.ndarray, source: str) -> FaceObservation:
        """The face to animate, with one-line errors for no face, a bad index or a profile view, and
        warnings for several faces, a tiny face or a covered mouth."""
        faces = self.analyzer(portrait)
        if not faces:
            raise InputFileError(source, "no face found in the portrait")
        index = self.config.face_index
        if index >= len(faces):
            raise InputFileError(source, f"face index {index} asked for, but only {len(faces)} face(s) found")
        if len(faces) > 1:
            log.warning(
                "%s: %d faces found; animating #%d, counting the largest as #1 as `analyze` labels them (face "
                "index %d)", source, len(faces), index + 1, index,
            )  # fmt: skip
        face = faces[index]
        if abs(face.head_pose.yaw) > self.config.max_yaw_deg:
            raise InputFileError(
                source,
                f"the face is turned {abs(face.head_pose.yaw):.0f} degrees (more than {self.config.max_yaw_deg:.0f}); "
                "use a more frontal portrait",
            )
        if max(face.width, face.height) < self.config.min_face_px:
            log.warning("%s: the face is only %.0f px tall; it is upscaled and will look soft", source, face.height)
        if mouth_looks_covered(portrait, face.landmarks):
            log.warning(
                "%s: the mouth looks covered (the lips are no redder than the skin around them); the moving "
                "mouth is drawn over whatever covers it",
                source,
            )
        return face

    def __call__(
        self,
        portrait: str | Path | np.ndarray | Image.Image,
        audio: Audio | str | Path | None = None,
        text: str | None = None,
        emotion: str | EmotionSpec = "auto",
        output: str | Path = "talking_face.mp4",
        voice: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> TalkingFaceResult:
        """Render the talking face to `output` (MP4, H.264 + AAC). `portrait` may be a path, a PIL image or
        an RGB(A) array (`as_rgb8`), `audio` a path. With both `audio` and `text`, the audio is spoken and
        the text is its transcript; `text` alone is spoken by offline TTS first. `progress(done, total)` is
        called after each frame."""
        seconds: dict[str, float] = {}
        output = check_writable(output)
        source = str(portrait) if isinstance(portrait, (str, Path)) else "portrait"
        clock = time.perf_counter()
        image = as_rgb8(portrait)
        image = fit_portrait_size(image, self.config.max_output_side)
        face = self.choose_face(image, source)
        seconds["face fit"] = time.perf_counter() - clock
        if audio is not None and text:
            log.info("both audio and text given: the audio is animated and the text used as its transcript")

        curves = self.curves(
            audio=audio,
            text=text if audio is None else None,
            transcript=text if audio is not None else None,
            emotion=emotion,
            voice=voice,
        )
        seconds.update(curves.seconds)
        motion = curves.motion

        clock = time.perf_counter()
        renderer = (self.renderer or self.warp_renderer)(image, face)
        shown_box, video_scale = None, 1.0
        if self.config.framing == "face":
            rows, cols, shown_box, video_scale = _inside_the_picture(
                renderer.crop_box, renderer.resolution, image.shape
            )
        sound = curves.speech.audio
        total = motion.num_frames
        with VideoWriter(output, motion.fps, audio=(sound.samples, sound.sample_rate), crf=self.config.crf) as writer:
            for i in range(total):
                # expression channels are absolute: a neutral clip of a smiling photo stops smiling
                pose = (motion.blendshapes[i], motion.head[i], motion.eyes[i])
                frame = renderer.render_portrait(*pose) if shown_box is None else renderer.render(*pose)[rows, cols]
                writer.write(frame)
                if progress is not None:
                    progress(i + 1, total)
        seconds["render and encode"] = time.perf_counter() - clock

        result = TalkingFaceResult(
            output, motion, curves, face, renderer.crop_box, seconds=seconds, shown_box=shown_box,
            video_scale=video_scale,
        )  # fmt: skip
        if self.scorer is not None:
            clock = time.perf_counter()
            result.score = self.scorer(result, image)
            seconds["scoring"] = time.perf_counter() - clock
        return result


def _inside_the_picture(
    window: tuple[float, float, float, float], resolution: int, shape: tuple[int, ...]
) -> tuple[slice, slice, tuple[float, float, float, float], float]:
    """The part of a rendered `window` (portrait px, drawn at `resolution`²) that lies inside the picture
    of `shape`: `(rows, cols)` slices of the render (even sizes, for H.264), the same part in portrait px,
    and render pixels per portrait pixel. Outside the picture the render only repeats its edge pixels."""
    height, width = shape[:2]
    x0, y0, x1, _ = window
    scale = resolution / (x1 - x0)

    def span(origin: float, size: int) -> tuple[int, int]:
        start = int(np.ceil(max(0.0, -origin) * scale))
        stop = min(resolution, int(np.floor((size - origin) * scale)))
        return start, stop - (stop - start) % 2

    (c0, c1), (r0, r1) = span(x0, width), span(y0, height)
    shown = (x0 + c0 / scale, y0 + r0 / scale, x0 + c1 / scale, y0 + r1 / scale)
    return slice(r0, r1), slice(c0, c1), shown, scale
