"""Rich tables for analysis results: what a person reads in the terminal."""

from __future__ import annotations

from rich.table import Table

from recognition.analysis import FaceAnalysis
from rigs.arkit import ARKIT_NAMES
from rigs.facs import ACTION_UNIT_BY_NUMBER


def faces_table(faces: list[FaceAnalysis], title: str) -> Table:
    """One row per face: emotions, derived V/A, head pose, strongest blendshapes and AUs."""
    table = Table(title=title, show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("box (px)")
    table.add_column("emotion (top 3)")
    table.add_column("valence / arousal\n(derived)")
    table.add_column("head pose (deg)\nyaw / pitch / roll")
    table.add_column("strongest blendshapes")
    table.add_column("strongest AUs")
    for number, analysis in enumerate(faces, start=1):
        face = analysis.face
        emotions = "\n".join(f"{name} {p:.0%}" for name, p in analysis.emotion.ranked()[:3])
        order = face.blendshapes.argsort()[::-1][:4]
        shapes = "\n".join(f"{ARKIT_NAMES[i]} {face.blendshapes[i]:.2f}" for i in order)
        aus = sorted(analysis.action_units.items(), key=lambda kv: -kv[1])[:4]
        au_text = "\n".join(f"AU{n} {ACTION_UNIT_BY_NUMBER[n].name} {v:.2f}" for n, v in aus)
        pose = face.head_pose
        x0, y0, x1, y1 = face.box
        table.add_row(
            str(number),
            f"{x0:.0f},{y0:.0f}\n{x1 - x0:.0f}x{y1 - y0:.0f}",
            emotions,
            f"{analysis.emotion.valence:+.2f} / {analysis.emotion.arousal:+.2f}",
            f"{pose.yaw:+.1f} / {pose.pitch:+.1f} / {pose.roll:+.1f}",
            shapes,
            au_text,
        )
    return table
