"""A quick look at rig curves: the canonical face mesh posed by a `FaceMotion`, flat-shaded, as frames.

Software rendering with OpenCV (painter's algorithm over the 898 triangles), a few ms per frame: enough
to judge lip sync, blinks and head motion before importing the curves into an engine.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rigs.face_mesh import CanonicalFace
from rigs.face_topology import MOUTH_OPENING, eye_opening, triangles_inside
from rigs.motion import FaceMotion

LIGHT = np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0])
SKIN = np.array([214, 170, 150], np.float32)
BACKGROUND = (36, 38, 44)
MOUTH_INSIDE = (92, 30, 34)
SCLERA, IRIS = (235, 232, 228), (70, 52, 40)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """`(3, 3)` rotation for degrees in `FaceMotion`'s conventions (x right, y up, z toward the viewer):
    `R = Rz(roll) @ Ry(yaw) @ Rx(-pitch)`, so yaw > 0 turns the face to image right and pitch > 0 looks down."""
    y, p, r = np.radians([yaw, -pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


class MeshPreview:
    """`MeshPreview(face, size)(motion, i) -> (size, size, 3) uint8` RGB frame of frame `i`."""

    def __init__(self, face: CanonicalFace, size: int = 384):
        self.face = face
        self.size = size
        centre = face.vertices.mean(axis=0)
        self.pivot = centre - np.array([0, 4.0, 2.0])  # the neck, below and behind the face centre
        extent = np.ptp(face.vertices[:, :2], axis=0).max()
        self.scale = 0.8 * size / extent
        self.centre = centre
        # The mesh fills its eye and mouth openings with skin; draw those as eyes and a mouth instead.
        openings = [MOUTH_OPENING, eye_opening("right"), eye_opening("left")]
        self.skin = ~np.any([triangles_inside(face.triangles, p) for p in openings], axis=0)
        self.openings = openings

    def __call__(self, motion: FaceMotion, index: int) -> np.ndarray:
        verts = self.face.pose(motion.blendshapes[index]) - self.pivot
        verts = verts @ rotation(*motion.head[index]).T + self.pivot - self.centre
        xy = np.column_stack([verts[:, 0], -verts[:, 1]]) * self.scale + self.size / 2
        tris = self.face.triangles
        a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
        normals = np.cross(b - a, c - a)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
        facing = normals[:, 2] > 0
        shade = np.clip(normals @ LIGHT, 0.15, 1.0)
        order = np.argsort(a[:, 2] + b[:, 2] + c[:, 2])  # far first
        canvas = np.full((self.size, self.size, 3), BACKGROUND, np.uint8)
        pixels = np.round(xy * 16).astype(np.int32)  # 4 bits of sub-pixel precision
        self._draw_openings(canvas, pixels, xy, motion.eyes[index])
        for t in order:
            if facing[t] and self.skin[t]:
                colour = tuple(int(v) for v in SKIN * shade[t])
                cv2.fillConvexPoly(canvas, pixels[tris[t]], colour, lineType=cv2.LINE_AA, shift=4)
        return canvas

    def _draw_openings(self, canvas: np.ndarray, pixels: np.ndarray, xy: np.ndarray, eyes: np.ndarray) -> None:
        """Mouth interior and eyeballs (sclera, iris following the gaze), drawn behind the skin."""
        mouth, right_eye, left_eye = self.openings
        cv2.fillPoly(canvas, [pixels[mouth]], MOUTH_INSIDE, lineType=cv2.LINE_AA, shift=4)
        for polygon, yaw, pitch in ((right_eye, eyes[2], eyes[3]), (left_eye, eyes[0], eyes[1])):
            cv2.fillPoly(canvas, [pixels[polygon]], SCLERA, lineType=cv2.LINE_AA, shift=4)
            corners = xy[polygon[[0, len(polygon) // 2]]]
            width = np.linalg.norm(corners[0] - corners[1])
            centre = corners.mean(axis=0) + np.array([yaw, pitch]) / 30.0 * 0.35 * width
            cv2.circle(
                canvas, tuple(np.round(centre * 16).astype(int)), int(0.24 * width * 16), IRIS, -1, cv2.LINE_AA, shift=4
            )


def render_preview(motion: FaceMotion, audio, path, size: int = 384) -> Path:
    """Write an MP4 of the posed mesh with the speech (`Audio` or None), frame by frame."""
    from generation.video_writer import VideoWriter
    from rigs.face_mesh import load_canonical_face

    preview = MeshPreview(load_canonical_face(), size)
    sound = (audio.samples, audio.sample_rate) if audio is not None else None
    with VideoWriter(path, motion.fps, audio=sound) as writer:
        for i in range(motion.num_frames):
            writer.write(preview(motion, i))
    return writer.path
