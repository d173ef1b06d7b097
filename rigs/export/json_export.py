"""Readable JSON of a whole export input: every channel by name, timing, metadata and mouth cues.

    {
      "format": "affect-studio.face-motion", "version": 1,
      "name": "take1", "fps": 60.0, "frame_count": 120, "duration": 2.0,
      "units": {...},
      "metadata": {"source_audio": "speech.wav", "emotion": "happy", ...},
      "channels": {"eyeBlinkLeft": [0.0, 0.01, ...], ..., "headYaw": [...], "rightEyePitch": [...]},
      "mouth_cues": [{"start": 0.0, "end": 0.12, "value": "X"}, ...]
    }

Channel names are `rigs.motion.MOTION_CHANNELS` (ARKit camelCase names, then head and eye rotations in
degrees); each list has one value per frame, frame `i` at `i / fps` seconds. Values are rounded to 6
decimals. `read_motion_json` reads it back into an `ExportInput`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from rigs.errors import InputFileError
from rigs.export.base import Exporter, ExportInput, format_cells, register
from rigs.motion import MOTION_CHANNELS, FaceMotion
from rigs.visemes import MouthCue

FORMAT = "affect-studio.face-motion"
VERSION = 1
DECIMALS = 6
UNITS = {
    "blendshapes": "weight in [0, 1] (ARKit)",
    "head": "degrees; yaw > 0 toward the subject's left, pitch > 0 looks down, roll > 0 counter-clockwise "
    "as the viewer sees it",
    "eyes": "degrees, same signs as the head",
    "time": "seconds",
}

# A list of plain numbers that json.dumps(indent=...) spread over many lines.
_NUMBER_LIST = re.compile(r"\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]")


# A mouth cue object, which json.dumps(indent=...) spreads over five lines.
_CUE = re.compile(r"\{\s*(\"start\": [^{}\[\]]*?)\s*\}")


# A channel's stand-in string `"\0<index>\0"` as json.dumps writes it.
_STAND_IN = re.compile(r'"\\u0000(\d+)\\u0000"')


def _compact(text: str) -> str:
    """One line per channel and per mouth cue, so the file reads as a table."""
    text = _NUMBER_LIST.sub(lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]", text)
    return _CUE.sub(lambda m: "{" + re.sub(r",\s*\n\s*", ", ", m.group(1)) + "}", text)


def _channel_value(value: float) -> float:
    return round(value, DECIMALS) + 0.0  # + 0.0: no "-0.0"


def motion_document(data: ExportInput, channels: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document for `data`, as plain Python objects (`channels`: stand-ins for the channel lists)."""
    motion = data.motion
    if channels is None:
        curves = motion.to_curves()
        channels = {name: [_channel_value(float(v)) for v in curves[name]] for name in MOTION_CHANNELS}
    metadata = dict(motion.metadata)
    # The input's own facts win; a value already in the motion's metadata is kept when the input has none.
    metadata["source_audio"] = data.audio_path if data.audio_path is not None else metadata.get("source_audio")
    metadata["emotion"] = data.emotion if data.emotion is not None else metadata.get("emotion")
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": data.name,
        "fps": float(motion.fps),
        "frame_count": motion.num_frames,
        "duration": round(motion.duration, DECIMALS),
        "units": UNITS,
        "metadata": metadata,
        "channels": channels,
        "mouth_cues": [
            {"start": round(cue.start, DECIMALS), "end": round(cue.end, DECIMALS), "value": cue.shape}
            for cue in data.mouth_cues
        ],
    }


@register
class JsonExporter(Exporter):
    name = "json"
    suffix = ".json"
    description = "Readable JSON: every channel by name, fps, duration, metadata and mouth cues"

    def render(self, data: ExportInput) -> str:
        curves = data.motion.to_curves()
        values = np.column_stack([curves[name] for name in MOTION_CHANNELS])
        if not np.isfinite(values).all():  # NaN/Infinity lists are left uncompacted by _compact: the slow way
            return _compact(json.dumps(motion_document(data), indent=2, ensure_ascii=False)) + "\n"
        # The same text, faster: each distinct value formatted once (json writes floats as repr), and the
        # channel lists put in one line each, as _compact would, into the document dumped without them.
        cells = format_cells(values, lambda v: repr(_channel_value(v))).T.tolist()
        stand_ins = {name: f"\0{j}\0" for j, name in enumerate(MOTION_CHANNELS)}
        text = _compact(json.dumps(motion_document(data, stand_ins), indent=2, ensure_ascii=False))
        return _STAND_IN.sub(lambda m: "[" + ", ".join(cells[int(m.group(1))]) + "]", text) + "\n"


def read_motion_json(path: str | Path) -> ExportInput:
    """Read a file written by the `json` exporter back into an `ExportInput` (channels matched by name)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(path, f"not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputFileError(path, f"not an Affect Studio motion file (format must be {FORMAT!r})")
    try:
        channels = document["channels"]
        frames = int(document["frame_count"])
        values = np.zeros((frames, len(MOTION_CHANNELS)), dtype=np.float32)
        for j, name in enumerate(MOTION_CHANNELS):
            if name in channels:
                values[:, j] = np.asarray(channels[name], dtype=np.float32)
        metadata = dict(document.get("metadata", {}))
        audio_path = metadata.pop("source_audio", None)
        emotion = metadata.pop("emotion", None)
        motion = FaceMotion(values[:, :52], values[:, 52:55], values[:, 55:59], float(document["fps"]), metadata)
        cues = [MouthCue(float(c["start"]), float(c["end"]), str(c["value"])) for c in document.get("mouth_cues", [])]
    except (KeyError, TypeError, ValueError) as error:
        raise InputFileError(path, f"malformed motion file ({error})") from None
    return ExportInput(motion, cues, audio_path, emotion, str(document.get("name", path.stem)))
