"""Live Link Face CSV: the file Epic's iPhone app records, which Unreal, Blender and Maya importers read.

Layout (`rigs.livelink.HEADER`): `Timecode,BlendShapeCount,` 52 PascalCase blendshapes in the app's order
(JawRight before JawLeft, MouthRight before MouthLeft), then 9 head/eye rotations; `BlendShapeCount` is 61
on every row. Columns are written and read by name, never by position.

Timecode `HH:MM:SS:FF.fff`: hours, minutes, seconds, then the frame within the second *as a decimal* —
`FF` is the frame number at the timecode rate and `.fff` the sub-frame, the fraction of a frame (0.000 ≤
sub-frame < 1). Source: Unreal Engine's ARKit face CSV writer, `FAppleARKitLiveLinkFileWriterCsv::BuildCsvRow`
in `Engine/Plugins/Runtime/AR/AppleAR/AppleARKitFaceSupport/.../AppleARKitLiveLinkSource.cpp`, which prints
`Timecode.Frames + FrameTime.GetSubFrame()` with three decimals after `HH:MM:SS:`; app captures look like
`07:44:57:02.944` (frame 2 plus 0.944 of a frame). Our frames fall exactly on frame boundaries, so the
sub-frame is always `.000`; the timecode starts at 00:00:00:00 and counts at `round(fps)` frames per second.

Rotations are not degrees: the app normalises each Euler angle from [-180°, 180°] to [-1, 1], i.e.
`value = degrees / 180`. Source: Unreal Engine's `ToBlendShapeMap` in
`Engine/Plugins/Runtime/AR/AppleAR/AppleARKitFaceSupport/.../AppleARKitFaceMeshConversion.h` ("Map the
-180..180 range to -1..1": `HeadYaw = TrackedRot.Yaw / 180.f`, same for pitch, roll and both eyes), the code
that fills the 61 values Live Link Face streams and records. Signs here are `FaceMotion`'s (yaw > 0 turns
toward the subject's left, pitch > 0 looks down, roll > 0 tilts counter-clockwise as the viewer sees it);
they have not been checked against a device capture. `FaceMotion` has no eye roll: those columns are 0.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES
from rigs.errors import InputFileError
from rigs.export.base import Exporter, ExportInput, format_cells, register
from rigs.livelink import BLENDSHAPE_COLUMNS, BLENDSHAPE_COUNT, HEADER, LIVELINK_TO_ARKIT, livelink_name
from rigs.motion import SUPPORTED_FPS, FaceMotion

ROTATION_UNIT_DEGREES = 180.0  # a Live Link rotation value of 1.0 is 180 degrees

# FaceMotion channels behind each rotation column; None = not in FaceMotion (written as 0).
_ROTATION_SOURCES: dict[str, tuple[str, int] | None] = {
    "HeadYaw": ("head", 0), "HeadPitch": ("head", 1), "HeadRoll": ("head", 2),
    "LeftEyeYaw": ("eyes", 0), "LeftEyePitch": ("eyes", 1), "LeftEyeRoll": None,
    "RightEyeYaw": ("eyes", 2), "RightEyePitch": ("eyes", 3), "RightEyeRoll": None,
}  # fmt: skip


def timecode_rate(fps: float) -> int:
    """Frames per second of the timecode: the nominal integer rate (30 for 29.97), at least 1."""
    return max(1, int(round(fps)))


def format_timecode(frame: int, fps: float, subframe: float = 0.0) -> str:
    """Frame index `frame` -> `HH:MM:SS:FF.fff` at `timecode_rate(fps)` frames per second."""
    rate = timecode_rate(fps)
    seconds, ff = divmod(int(frame), rate)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff + subframe:06.3f}"


def parse_timecode(timecode: str, rate: int) -> float:
    """`HH:MM:SS:FF.fff` -> frame number (with sub-frame) counted at `rate` frames per second."""
    try:
        hh, mm, ss, frames = timecode.strip().split(":")
        return ((int(hh) * 60 + int(mm)) * 60 + int(ss)) * rate + float(frames)
    except ValueError:
        raise ValueError(f"not a Live Link timecode (HH:MM:SS:FF.fff): {timecode!r}") from None


def _number(value: float) -> str:
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@register
class LiveLinkExporter(Exporter):
    name = "livelink"
    suffix = ".csv"
    description = "Live Link Face CSV (Unreal Engine, MetaHuman via Live Link, Blender/Maya importers)"

    def render(self, data: ExportInput) -> str:
        motion = data.motion
        columns: dict[str, np.ndarray] = {
            column: motion.blendshapes[:, ARKIT_INDEX[LIVELINK_TO_ARKIT[column]]] for column in BLENDSHAPE_COLUMNS
        }
        for column, source in _ROTATION_SOURCES.items():
            if source is None:
                columns[column] = np.zeros(motion.num_frames, dtype=np.float32)
            else:
                array, index = source
                columns[column] = getattr(motion, array)[:, index].astype(np.float64) / ROTATION_UNIT_DEGREES
        out = io.StringIO()
        out.write(",".join(HEADER) + "\n")
        # by name, in the header's order; float32 columns widen exactly, so each cell is _number(float(value))
        values = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in HEADER[2:]])
        cells = format_cells(values, _number)
        count = str(BLENDSHAPE_COUNT)
        for frame, row in enumerate(cells.tolist()):
            out.write(f"{format_timecode(frame, motion.fps)},{count},{','.join(row)}\n")
        return out.getvalue()


def _guess_fps(frame_numbers: np.ndarray) -> float:
    # The timecode carries no rate. The highest frame-within-second seen + 1 is the rate if the take spans a
    # whole second; otherwise take the smallest supported rate that can hold it.
    highest = int(np.max(np.floor(frame_numbers))) + 1 if len(frame_numbers) else 1
    for rate in SUPPORTED_FPS:
        if rate >= highest:
            return float(rate)
    return float(highest)


def read_livelink_csv(path: str | Path, fps: float | None = None) -> FaceMotion:
    """Parse a Live Link Face CSV (ours or the app's) into a `FaceMotion`, matching columns by name.

    `fps` is the capture rate; if `None` it is inferred from the timecodes (pass it for takes shorter than
    a second, where a 60 fps take cannot be told from a 30 fps one). Frames are taken in file order; the
    timecode of the first row is stored as `metadata["start_timecode"]`. Missing blendshape or rotation
    columns read as 0; rotations are converted back to degrees.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [name.strip() for name in next(reader)]
            rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, StopIteration) as error:
        raise InputFileError(path, f"not a readable Live Link CSV ({error or 'empty file'})") from None
    if "Timecode" not in header:
        raise InputFileError(path, "not a Live Link CSV: no Timecode column")
    index = {name.lower(): i for i, name in enumerate(header)}

    def column(name: str) -> np.ndarray | None:
        i = index.get(name.lower())
        if i is None:
            return None
        try:
            return np.array([float(row[i]) if i < len(row) and row[i].strip() else 0.0 for row in rows])
        except ValueError as error:
            raise InputFileError(path, f"column {name}: {error}") from None

    n = len(rows)
    blendshapes = np.zeros((n, len(ARKIT_NAMES)), dtype=np.float32)
    for arkit in ARKIT_NAMES:
        values = column(livelink_name(arkit))
        if values is not None:
            blendshapes[:, ARKIT_INDEX[arkit]] = values
    head = np.zeros((n, 3), dtype=np.float32)
    eyes = np.zeros((n, 4), dtype=np.float32)
    for name, source in _ROTATION_SOURCES.items():
        values = column(name)
        if source is not None and values is not None:
            target = head if source[0] == "head" else eyes
            target[:, source[1]] = values * ROTATION_UNIT_DEGREES
    timecodes = [row[index["timecode"]] for row in rows]
    if fps is None:
        try:
            within_second = np.array([float(tc.strip().split(":")[3]) for tc in timecodes])
        except (IndexError, ValueError):
            raise InputFileError(path, "Timecode is not HH:MM:SS:FF.fff") from None
        fps = _guess_fps(within_second)
    if not math.isfinite(fps) or fps <= 0:
        raise InputFileError(path, f"invalid frame rate {fps}")
    metadata = {"source": str(path)}
    if timecodes:
        metadata["start_timecode"] = timecodes[0].strip()
    return FaceMotion(blendshapes, head, eyes, float(fps), metadata)
