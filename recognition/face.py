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
from recognition.face_detection import FaceDetector
from rigs.arkit import ARKIT_NAMES, arkit_vector

log = logging.getLogger(__name__)


# The blendshapes MediaPipe's model reads reliably off a face (the rest stay near zero or follow others);
# what re-detection scores (talking-face fidelity, synthetic read-back) compare.
RELIABLE_BLENDSHAPES: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthPucker", "mouthFunnel", "eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight",
    "eyeSquintLeft", "eyeSquintRight", "browInnerUp", "browDownLeft", "browDownRight",
    "browOuterUpLeft", "browOuterUpRight",
)  # fmt: skip

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
    # The landmarker's own detector (BlazeFace short range) misses faces that are small in the frame, so
    # stills are also searched with face-api's SSD detector and the landmarker runs on a crop around
    # each face it finds. Off: faster, but only faces that fill a good part of the image are found.
    use_detector: bool = True
    detector_min_confidence: float = 0.3  # low on purpose: the landmarker rejects what is not a face
    crop_scale: float = 2.0  # side of the crop around a detected face, in face-box sizes
    duplicate_iou: float = 0.3  # two results overlapping more than this are the same face


def _box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _contains_centre(outer: tuple[float, ...], inner: tuple[float, ...]) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def crop_around(box: tuple[float, ...], scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The square of side `scale * max(box sides)` centred on `box`, clipped to the image: x0, y0, x1, y1."""
    side = scale * max(box[2] - box[0], box[3] - box[1])
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    return x0, y0, min(width, int(cx + side / 2) + 1), min(height, int(cy + side / 2) + 1)


class FaceAnalyzer:
    """Landmarks, blendshapes and head pose for every face: `FaceAnalyzer()(image) -> [FaceObservation]`.

    The model bytes are shared process-wide (`recognition.models`); one analyzer keeps one landmarker per
    mode, so create it once and reuse it.
    """

    def __init__(self, config: FaceAnalyzerConfig | None = None):
        self.config = config or FaceAnalyzerConfig()
        self._still = self._landmarker(vision.RunningMode.IMAGE)
        self._detector = (
            FaceDetector(self.config.detector_min_confidence, self.config.max_faces * 4)
            if self.config.use_detector
            else None
        )

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
        faces = self._landmarks_in(image, (0, 0, width, height))
        if self.config.use_detector:
            for detection in self._detector(image):
                if any(_contains_centre(face.box, detection.box) for face in faces):
                    continue  # already found by the whole-image pass
                view = crop_around(detection.box, self.config.crop_scale, width, height)
                for face in self._landmarks_in(image, view)[:1]:
                    if all(_box_iou(face.box, other.box) < self.config.duplicate_iou for other in faces):
                        faces.append(face)
        return sorted(faces, key=lambda f: -f.area)[: self.config.max_faces]

    def _landmarks_in(self, image: np.ndarray, view: tuple[int, int, int, int]) -> list[FaceObservation]:
        """Run the landmarker on the `view` (x0, y0, x1, y1) of the image; results in image pixels."""
        x0, y0, x1, y1 = view
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        result = self._still.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
        size = (image.shape[1], image.shape[0])
        return _observations(result, (x1 - x0, y1 - y0), offset=(x0, y0), image_size=size)

    def track(
        self, frames: Iterable[tuple[float, np.ndarray]], around: tuple[float, float, float, float] | None = None
    ) -> Iterator[tuple[float, np.ndarray, list[FaceObservation]]]:
        """Video: `(seconds, (H, W, 3) uint8 RGB)` frames in time order -> `(seconds, frame, faces)`,
        faces largest first.

        Uses the landmarker's tracking mode (detection only when tracking is lost), so the cost per frame
        stays flat however long the video is. Each call starts a fresh tracker. `around`: `(x0, y0, x1, y1)`
        pixels of one face to follow: only the square around it (`crop_scale` face sizes) is analysed, where
        the tracker finds a face that is small in a wide picture on every frame (over the whole picture its
        own detector misses it on some); the faces are still in frame pixels.
        """
        with self._landmarker(vision.RunningMode.VIDEO) as tracker:
            last_ms = -1
            for seconds, frame in frames:
                height, width = frame.shape[:2]
                x0, y0, x1, y1 = (0, 0, width, height) if around is None else crop_around(
                    around, self.config.crop_scale, width, height
                )  # fmt: skip
                ms = max(int(round(seconds * 1000)), last_ms + 1)  # the tracker needs increasing stamps
                last_ms = ms
                view = np.ascontiguousarray(frame[y0:y1, x0:x1])
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=view)
                faces = _observations(
                    tracker.detect_for_video(image, ms), (x1 - x0, y1 - y0), (x0, y0), (width, height), seconds
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
