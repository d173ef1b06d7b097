"""Drawing analysis results onto images: face box, landmarks, emotion, derived V/A and head pose."""

from __future__ import annotations

import cv2
import numpy as np

from recognition.analysis import FaceAnalysis

BOX_COLOUR = (40, 200, 120)
POINT_COLOUR = (255, 220, 60)
TEXT_COLOUR = (255, 255, 255)


def annotate(image: np.ndarray, faces: list[FaceAnalysis]) -> np.ndarray:
    """A copy of `(H, W, 3) uint8` RGB `image` with each face's box, landmarks and a label drawn on it."""
    canvas = image.copy()
    scale = max(image.shape[:2]) / 1000.0
    thickness = max(1, int(round(2 * scale)))
    for number, analysis in enumerate(faces, start=1):
        face = analysis.face
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX_COLOUR, thickness, cv2.LINE_AA)
        radius = max(1, int(round(face.width / 250)))
        for x, y in face.landmarks[:, :2].astype(int):
            cv2.circle(canvas, (int(x), int(y)), radius, POINT_COLOUR, -1, cv2.LINE_AA)
        emotion, probability = analysis.emotion.ranked()[0]
        pose = face.head_pose
        lines = [
            f"#{number} {emotion} {probability:.0%}",
            f"V {analysis.emotion.valence:+.2f} A {analysis.emotion.arousal:+.2f} (derived)",
            f"yaw {pose.yaw:+.0f} pitch {pose.pitch:+.0f} roll {pose.roll:+.0f}",
        ]
        _label(canvas, lines, (x0, y1), max(0.4, 0.5 * scale * 1.6), thickness)
    return canvas


def _label(canvas: np.ndarray, lines: list[str], anchor: tuple[int, int], font_scale: float, thickness: int):
    """Text lines on a dark panel below `anchor` (or above the bottom edge if there is no room)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    sizes = [cv2.getTextSize(line, font, font_scale, thickness)[0] for line in lines]
    line_height = max(h for _, h in sizes) + int(8 * font_scale)
    width = max(w for w, _ in sizes) + 8
    height = line_height * len(lines) + 6
    x = int(np.clip(anchor[0], 0, max(0, canvas.shape[1] - width)))
    y = anchor[1] + 4 if anchor[1] + 4 + height <= canvas.shape[0] else max(0, canvas.shape[0] - height)
    panel = canvas[y : y + height, x : x + width]
    panel[:] = (panel * 0.35).astype(np.uint8)
    for i, line in enumerate(lines):
        baseline = y + line_height * (i + 1)
        cv2.putText(canvas, line, (x + 4, baseline), font, font_scale, TEXT_COLOUR, thickness, cv2.LINE_AA)
