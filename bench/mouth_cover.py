"""Covered-mouth check: lip contrast on uncovered faces and on the same faces with the mouth covered.

    python bench/mouth_cover.py                       # the bundled faces; ~20 s
    python bench/mouth_cover.py --images t1.jpg ...   # also every face in these photos

Each face is measured as it is, then with its mouth covered by a black bar, by a patch of its own cheek
colour (a hand), and by a surgical mask from nose to chin (light blue, white, black, green). The cover is
found again by the landmarker (a covered face that is no longer found prints "lost"); the table prints
`recognition.mouth_cover.lip_contrast` (lip a* minus skin a*) and the verdict against MIN_LIP_CONTRAST.
More colour faces: insightface's sdist ships `insightface/data/images/t1.jpg` (six faces), e.g.
`pip download --no-deps insightface==0.7.3`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recognition.face import FaceAnalyzer, FaceObservation  # noqa: E402
from recognition.image_io import load_image  # noqa: E402
from recognition.mouth_cover import MIN_LIP_CONTRAST, lip_contrast  # noqa: E402
from rigs.assets import model_path, sample_path  # noqa: E402
from rigs.face_topology import FACE_OVAL, LIPS_OUTER_LOWER, LIPS_OUTER_UPPER  # noqa: E402

MASK_COLOURS = {"blue mask": (150, 200, 230), "white mask": (236, 238, 240), "black mask": (30, 30, 34),
                "green mask": (70, 150, 110)}  # fmt: skip
COVERS = ("black bar", "hand", *MASK_COLOURS)
NOSE_TIP, CHIN = 2, 152


def cover(image: np.ndarray, face: FaceObservation, kind: str) -> np.ndarray:
    """A copy of `image` with the face's mouth covered by `kind` (one of COVERS)."""
    points = face.landmarks[:, :2]
    out = image.copy()
    noise = np.random.default_rng(0).normal(0.0, 3.0, out.shape)
    if kind in MASK_COLOURS:
        oval = points[FACE_OVAL]
        below = oval[oval[:, 1] > points[NOSE_TIP, 1]]
        polygon = np.vstack([below, points[[NOSE_TIP]]])
        hull = cv2.convexHull(np.round(polygon).astype(np.int32))
        region = np.zeros(image.shape[:2], np.uint8)
        cv2.fillConvexPoly(region, hull, 1)
        out[region > 0] = np.clip(np.array(MASK_COLOURS[kind]) + noise[region > 0], 0, 255)
        return out
    lips = points[np.r_[LIPS_OUTER_UPPER, LIPS_OUTER_LOWER]]
    (x0, y0), (x1, y1) = lips.min(0), lips.max(0)
    pad = 0.3 * (x1 - x0)
    x0, y0 = int(max(x0 - pad, 0)), int(max(y0 - pad, 0))
    x1, y1 = int(min(x1 + pad, image.shape[1])), int(min(y1 + pad, image.shape[0]))
    if kind == "black bar":
        colour = np.array([25.0, 25.0, 25.0])
    else:  # a hand: the face's own cheek colour
        cx, cy = np.round(points[50]).astype(int)
        s = max(2, (x1 - x0) // 10)
        colour = image[cy - s : cy + s, cx - s : cx + s].reshape(-1, 3).mean(0)
    out[y0:y1, x0:x1] = np.clip(colour + noise[y0:y1, x0:x1], 0, 255)
    return out


def same_face(faces: list[FaceObservation], face: FaceObservation) -> FaceObservation | None:
    """The face in `faces` whose landmarks lie where `face`'s did (within a tenth of its width), if any."""
    centre = face.landmarks[:, :2].mean(0)
    for other in faces:
        if np.linalg.norm(other.landmarks[:, :2].mean(0) - centre) < 0.1 * face.width:
            return other
    return None


def verdict(contrast: float | None) -> str:
    if contrast is None:
        return "no colour"
    return f"{contrast:+.1f} {'covered' if contrast < MIN_LIP_CONTRAST else 'visible'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, nargs="*", default=[], help="more photos (every face in each)")
    args = parser.parse_args()
    analyzer = FaceAnalyzer()
    photos = {name: load_image(sample_path(name)) for name in ("portrait.png", "hopper.jpg", "cameraman.png")}
    photos["astronaut"] = load_image(model_path("reference/astronaut_face_150.png"))
    photos.update({path.name: load_image(path) for path in args.images})

    table = Table(title=f"Lip contrast (lip a* - skin a*); covered below {MIN_LIP_CONTRAST:+.1f}")
    for column in ("face", "uncovered", *COVERS):
        table.add_column(column, justify="right")
    uncovered, covered, wrong = [], [], 0
    for name, image in photos.items():
        faces = analyzer(image)
        for index, face in enumerate(faces):
            contrast = lip_contrast(image, face.landmarks)
            row = [name if len(faces) == 1 else f"{name} #{index}", verdict(contrast)]
            if contrast is not None:
                uncovered.append(contrast)
                wrong += contrast < MIN_LIP_CONTRAST
            for kind in COVERS:
                picture = cover(image, face, kind)
                found = same_face(analyzer(picture), face)
                if found is None:
                    row.append("lost")
                    continue
                value = lip_contrast(picture, found.landmarks)
                row.append(verdict(value))
                if value is not None:
                    covered.append(value)
                    wrong += value >= MIN_LIP_CONTRAST
            table.add_row(*row)
    Console(width=140).print(table)
    if uncovered and covered:
        print(
            f"uncovered {min(uncovered):+.1f} .. {max(uncovered):+.1f} ({len(uncovered)} faces); covered "
            f"{min(covered):+.1f} .. {max(covered):+.1f} ({len(covered)} covers found); misjudged: {wrong}"
        )


if __name__ == "__main__":
    main()
