"""Face landmarks, ARKit blendshapes and head pose, from MediaPipe's Face Landmarker (bundled `.task`).

`FaceAnalyzer` finds every face in a still image (largest first) or tracks faces through video frames,
and returns one `FaceObservation` per face: 478 landmarks, 52 ARKit blendshapes and the head pose.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from recognition import models
from rigs.arkit import ARKIT_NAMES, arkit_vector

log = logging.getLogger(__name__)

NUM_LANDMARKS = 478
# Landmark indices (MediaPipe's 478-point topology). "Right"/"left" are the subject's sides.
RIGHT_IRIS = slice(468, 473)  # image-left in an unmirrored photo
LEFT_IRIS = slice(473, 478)
NOSE_TIP = 1


@dataclass
class HeadPose:
    """Head rotation in degrees, from the landmarker's 4x4 face transformation matrix.

    Camera axes: x to image right, y up, z toward the viewer; angles are the Z-Y-X decomposition
    `R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`. So: yaw > 0 turns the face toward image right (the subject's
    left), pitch > 0 tips the chin down, roll > 0 tilts the head counter-clockwise as seen in the image.
    """

    yaw: float
    pitch: float
    roll: float
    matrix: np.ndarray = field(repr=False)  # (4, 4) float32, canonical face -> camera, metric units

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> HeadPose:
        r = np.asarray(matrix, dtype=np.float64)[:3, :3]
        yaw = math.degrees(math.asin(float(np.clip(-r[2, 0], -1.0, 1.0))))
        pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
        roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
        return cls(yaw, pitch, roll, np.asarray(matrix, dtype=np.float32))


@dataclass
class FaceObservation:
    """One face in one image or video frame.

    `landmarks` is `(478, 3) float32` in pixels of the analysed image: x, y, and a relative depth z on the
    same scale as x (smaller is closer to the camera). `blendshapes` is `(52,) float32` in [0, 1] in ARKit
    order (`rigs.arkit.ARKIT_NAMES`); MediaPipe does not estimate `tongueOut`, which is 0.
    """

    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels, the extent of the landmarks
    landmarks: np.ndarray
    blendshapes: np.ndarray
    head_pose: HeadPose
    image_size: tuple[int, int]  # (width, height) of the analysed image
    timestamp: float | None = None  # seconds, for video frames

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def landmarks_normalized(self) -> np.ndarray:
        """`(478, 3)`: x / width, y / height, z / width, as MediaPipe reports them."""
        w, h = self.image_size
        return self.landmarks / np.array([w, h, w], dtype=np.float32)

    def blendshape(self, name: str) -> float:
        return float(self.blendshapes[ARKIT_NAMES.index(name)])

    def blendshape_scores(self) -> dict[str, float]:
        """ARKit name -> score, in ARKit order."""
        return {name: float(v) for name, v in zip(ARKIT_NAMES, self.blendshapes, strict=True)}

    def to_dict(self, include_landmarks: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "box": [round(v, 2) for v in self.box],
            "image_size": list(self.image_size),
            "head_pose": {
                "yaw": round(self.head_pose.yaw, 2),
                "pitch": round(self.head_pose.pitch, 2),
                "roll": round(self.head_pose.roll, 2),
                "matrix": self.head_pose.matrix.round(5).tolist(),
            },
            "blendshapes": {k: round(v, 4) for k, v in self.blendshape_scores().items()},
        }
        if self.timestamp is not None:
            data["timestamp"] = round(self.timestamp, 4)
        if include_landmarks:
            data["landmarks"] = self.landmarks.round(2).tolist()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceObservation:
        pose = HeadPose.from_matrix(np.asarray(data["head_pose"]["matrix"], dtype=np.float32))
        return cls(
            box=tuple(data["box"]),
            landmarks=np.asarray(data["landmarks"], dtype=np.float32),
            blendshapes=arkit_vector(data["blendshapes"]),
            head_pose=pose,
            image_size=tuple(data["image_size"]),
            timestamp=data.get("timestamp"),
        )


@dataclass
class FaceAnalyzerConfig:
    max_faces: int = 5
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    # The landmarker's detector (BlazeFace short range) misses faces that are small in the frame. Stills
    # are therefore also searched in overlapping square tiles: one level of tiles the size of the short
    # side, plus `extra_tile_levels` levels of tiles half as large each (slower, finds smaller faces).
    extra_tile_levels: int = 0
    duplicate_iou: float = 0.4  # two detections overlapping more than this are the same face


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def square_tiles(width: int, height: int, extra_levels: int = 0) -> list[tuple[int, int, int]]:
    """Overlapping square tiles `(x0, y0, side)` covering an image, coarsest first.

    Level 0 has tiles of side `min(width, height)` at half-side stride (none for a square image, which is
    covered by the whole-image pass); each extra level halves the side, down to 96 px.
    """
    tiles: list[tuple[int, int, int]] = []
    side = min(width, height)
    for level in range(extra_levels + 1):
        if side < 96:
            break
        if level > 0 or width != height:
            stride = max(1, side // 2)
            xs = list(range(0, width - side + 1, stride)) or [0]
            ys = list(range(0, height - side + 1, stride)) or [0]
            if xs[-1] != width - side:
                xs.append(width - side)
            if ys[-1] != height - side:
                ys.append(height - side)
            tiles += [(x, y, side) for y in ys for x in xs]
        side //= 2
    return tiles


class FaceAnalyzer:
    """Landmarks, blendshapes and head pose for every face: `FaceAnalyzer()(image) -> [FaceObservation]`.

    The model bytes are shared process-wide (`recognition.models`); one analyzer keeps one landmarker per
    mode, so create it once and reuse it.
    """

    def __init__(self, config: FaceAnalyzerConfig | None = None):
        self.config = config or FaceAnalyzerConfig()
        self._still = self._landmarker(vision.RunningMode.IMAGE)

    def _landmarker(self, mode: vision.RunningMode) -> vision.FaceLandmarker:
        c = self.config
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=models.load("face_landmarker")),
            running_mode=mode,
            num_faces=c.max_faces,
            min_face_detection_confidence=c.min_detection_confidence,
            min_face_presence_confidence=c.min_detection_confidence,
            min_tracking_confidence=c.min_tracking_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        with _native_stderr_silenced():  # MediaPipe's C++ start-up chatter, not actionable for users
            return vision.FaceLandmarker.create_from_options(options)

    def __call__(self, image: np.ndarray) -> list[FaceObservation]:
        """All faces in an `(H, W, 3) uint8` RGB image, largest first (empty list if none)."""
        height, width = image.shape[:2]
        found: list[tuple[float, FaceObservation]] = []  # (face size relative to the view, face)
        views = [(0, 0, width, height)] + [
            (x, y, side, side) for x, y, side in square_tiles(width, height, self.config.extra_tile_levels)
        ]
        for x0, y0, w, h in views:
            crop = np.ascontiguousarray(image[y0 : y0 + h, x0 : x0 + w])
            result = self._still.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
            for face in _observations(result, (w, h), offset=(x0, y0), image_size=(width, height)):
                found.append((face.width / w, face))
        return self._deduplicate(found)

    def _deduplicate(self, found: list[tuple[float, FaceObservation]]) -> list[FaceObservation]:
        # Keep, for each face, the view in which it was largest (most pixels under the landmark model).
        kept: list[FaceObservation] = []
        for _, face in sorted(found, key=lambda item: -item[0]):
            if all(_box_iou(face.box, other.box) < self.config.duplicate_iou for other in kept):
                kept.append(face)
        return sorted(kept, key=lambda f: -f.area)[: self.config.max_faces]

    def track(
        self, frames: Iterable[tuple[float, np.ndarray]]
    ) -> Iterator[tuple[float, np.ndarray, list[FaceObservation]]]:
        """Video: `(seconds, (H, W, 3) uint8 RGB)` frames in time order -> `(seconds, frame, faces)`,
        faces largest first.

        Uses the landmarker's tracking mode (detection only when tracking is lost), so the cost per frame
        stays flat however long the video is. Each call starts a fresh tracker.
        """
        with self._landmarker(vision.RunningMode.VIDEO) as tracker:
            last_ms = -1
            for seconds, frame in frames:
                height, width = frame.shape[:2]
                ms = max(int(round(seconds * 1000)), last_ms + 1)  # the tracker needs increasing stamps
                last_ms = ms
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
                faces = _observations(
                    tracker.detect_for_video(image, ms), (width, height), (0, 0), (width, height), seconds
                )
                yield seconds, frame, sorted(faces, key=lambda f: -f.area)

    def close(self) -> None:
        """Release the native landmarker (MediaPipe complains at exit about unclosed ones)."""
        self._still.close()

    def __enter__(self) -> FaceAnalyzer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (Python's own stderr is flushed first)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _observations(
    result: vision.FaceLandmarkerResult,
    view_size: tuple[int, int],
    offset: tuple[int, int],
    image_size: tuple[int, int],
    timestamp: float | None = None,
) -> list[FaceObservation]:
    """Convert a landmarker result on a view (the image or a tile of it) to full-image observations."""
    w, h = view_size
    faces = []
    for i, points in enumerate(result.face_landmarks):
        xyz = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float32)
        landmarks = xyz * np.array([w, h, w], dtype=np.float32) + np.array([*offset, 0.0], dtype=np.float32)
        scores = {c.category_name: c.score for c in result.face_blendshapes[i]}
        x0, y0 = landmarks[:, :2].min(axis=0)
        x1, y1 = landmarks[:, :2].max(axis=0)
        faces.append(
            FaceObservation(
                box=(float(x0), float(y0), float(x1), float(y1)),
                landmarks=landmarks,
                blendshapes=arkit_vector(scores),
                head_pose=HeadPose.from_matrix(np.asarray(result.facial_transformation_matrixes[i])),
                image_size=image_size,
                timestamp=timestamp,
            )
        )
    return faces
