"""Rich tables for analysis results: what a person reads in the terminal."""

from __future__ import annotations

from rich.table import Table

from recognition.analysis import FaceAnalysis
from rigs.arkit import ARKIT_NAMES
from rigs.facs import ACTION_UNIT_BY_NUMBER


def faces_table(faces: list[FaceAnalysis], title: str) -> Table:
    """One column per face, one row per measure: box, emotions, derived V/A, head pose, strongest
    blendshapes and AUs. Faces are columns so that a face gets the terminal's width (ARKit names do not
    wrap), which a row per face could not give in 80 columns."""
    table = Table(title=title, show_lines=True)
    table.add_column("", style="bold")
    for number in range(1, len(faces) + 1):
        table.add_column(f"face #{number}", overflow="fold")
    columns = [_face_cells(analysis) for analysis in faces]
    for measure in columns[0] if columns else ():
        table.add_row(measure, *(cells[measure] for cells in columns))
    return table


def _face_cells(analysis: FaceAnalysis) -> dict[str, str]:
    """One face's column of `faces_table`: measure -> text."""
    face, pose = analysis.face, analysis.face.head_pose
    x0, y0, x1, y1 = face.box
    order = face.blendshapes.argsort()[::-1][:4]
    aus = sorted(analysis.action_units.items(), key=lambda kv: -kv[1])[:4]
    return {
        "box (px)": f"{x0:.0f},{y0:.0f} {x1 - x0:.0f}x{y1 - y0:.0f}",
        "emotion (top 3)": "\n".join(f"{name} {p:.0%}" for name, p in analysis.emotion.ranked()[:3]),
        "valence / arousal (derived)": f"{analysis.emotion.valence:+.2f} / {analysis.emotion.arousal:+.2f}",
        "head yaw / pitch / roll (deg)": f"{pose.yaw:+.1f} / {pose.pitch:+.1f} / {pose.roll:+.1f}",
        "strongest blendshapes": "\n".join(f"{ARKIT_NAMES[i]} {face.blendshapes[i]:.2f}" for i in order),
        "strongest AUs": "\n".join(f"AU{n} {ACTION_UNIT_BY_NUMBER[n].name} {v:.2f}" for n, v in aus),
    }


def video_summary_table(result, title: str) -> Table:
    """A `VideoAnalysis` in one row: how often the face was found and the mean of each class."""
    import numpy as np

    from rigs.emotions import EMOTIONS

    mean = np.nanmean(result.probabilities, axis=0) if np.isfinite(result.probabilities).any() else None
    table = Table(title=title)
    table.add_column("face found in")
    for emotion in EMOTIONS:
        table.add_column(f"mean {emotion}", justify="right")
    cells = [f"{p:.0%}" for p in mean] if mean is not None else ["—"] * len(EMOTIONS)
    table.add_row(f"{result.detected_fraction:.0%} of frames", *cells)
    return table


def speech_table(analysis) -> Table:
    """A `SpeechAnalysis` summary: timing facts, then the emotion per sentence (text) and overall."""
    from collections import Counter

    track = analysis.emotion
    table = Table(title=f"{analysis.audio.source}: {analysis.audio.duration:.1f} s", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    speech_s = sum(b - a for a, b in analysis.segments)
    table.add_row("speech", f"{speech_s:.1f} s in {len(analysis.segments)} segment(s)")
    phones = analysis.timeline.speech_phones
    table.add_row(
        "phones",
        f"{len(phones)} ({analysis.timeline.method}): "
        + " ".join(p.label for p in phones[:24])
        + (" ..." if len(phones) > 24 else ""),
    )
    if analysis.timeline.words:
        words = analysis.timeline.words
        table.add_row("words", " ".join(w.text for w in words[:20]) + (" ..." if len(words) > 20 else ""))
    share = Counter(track.dominant())
    table.add_row("emotion (fused)", ", ".join(f"{e} {n / track.num_frames:.0%}" for e, n in share.most_common(3)))
    table.add_row("valence / arousal", f"{track.valence.mean():+.2f} / {track.arousal.mean():+.2f} (mean)")
    for sentence in analysis.text_emotions:
        name, p = sentence.ranked()[0]
        table.add_row("text", f"{name} {p:.0%}, valence {sentence.valence:+.2f}: {sentence.text[:60]}")
    return table


def stage_table(seconds: dict[str, float], motion, title: str, exclude: tuple[str, ...] = ("loading",)) -> Table:
    """Wall-clock seconds per stage and as a fraction of the clip's duration ("x real time"), with a total
    over the stages not in `exclude` (one-off model loading, optional scoring) and the frames per second."""
    duration = motion.duration
    table = Table(title=title)
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_column("x real time", justify="right")
    for stage, spent in seconds.items():
        table.add_row(stage, f"{spent:.3f}", "" if stage.startswith(exclude) else f"{spent / duration:.4f}")
    work = sum(spent for stage, spent in seconds.items() if not stage.startswith(exclude))
    table.add_row(f"total (without {' and '.join(exclude)})", f"{work:.3f}", f"{work / duration:.4f}", style="bold")
    table.add_row("frames per second", f"{motion.num_frames / max(work, 1e-6):.1f}", "", style="bold")
    return table


YIELD_COLUMNS = ("class", "requested", "kept", "relabelled in", "relabelled out", "rejected", "yield", "images")


def yield_table(report, title: str = "") -> Table:
    """A synthetic dataset's `YieldReport` per class, with an "all" row and the balance as caption."""
    table = Table(title=title)
    for column in YIELD_COLUMNS:
        table.add_column(column, justify="left" if column == "class" else "right")
    for c in report.rows():
        rate = "—" if c.yield_rate is None else f"{c.yield_rate:.0%}"
        table.add_row(
            c.emotion, str(c.requested), str(c.kept), str(c.relabelled_in), str(c.relabelled_out), str(c.rejected),
            rate, str(c.final),
        )  # fmt: skip
    table.add_row("all", str(report.requested), "", str(report.relabelled), "", str(report.rejected), "",
                  str(report.final), style="bold")  # fmt: skip
    balance = "—" if report.balance is None else f"{report.balance:.2f}"
    table.caption = f"balance (smallest / largest class) {balance}"
    return table
