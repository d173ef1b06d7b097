"""Rhubarb Lip Sync mouth cues, as Rhubarb's own `tsv` and `json` exporters write them.

Both files come from the same cue timeline, so both formats live here, each its own registered exporter:

- `rhubarb` (`.tsv`): one `start<TAB>shape` line per cue, then a closing `end<TAB>X` line at the end time
  (Rhubarb's `TsvExporter`: "Output closed mouth with end time");
- `rhubarb_json` (`.rhubarb.json`): `{"metadata": {"soundFile", "duration"}, "mouthCues": [{"start", "end",
  "value"}, ...]}` (Rhubarb's `JsonExporter`; `soundFile` is the absolute audio path, "" if none).

Times are seconds with two decimals, as Rhubarb's `formatDuration` prints them (Rhubarb works in
centiseconds). The timeline is made the way Rhubarb's is: sorted, clipped to [0, duration], gaps filled with
the rest shape X, neighbours with the same shape merged, contiguous from 0 to the motion's duration.
Source: `rhubarb/src/exporters/tsv-exporter.cpp` and `json-exporter.cpp` in DanielSWolf/rhubarb-lip-sync.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

from rigs.errors import AffectStudioError, InputFileError
from rigs.export.base import Exporter, ExportInput, register
from rigs.visemes import RHUBARB_SHAPES, MouthCue

REST = "X"


def _centiseconds(seconds: float) -> int:
    return int(round(seconds * 100))


def _seconds(centiseconds: int) -> str:
    return f"{centiseconds / 100:.2f}"


def rhubarb_timeline(cues: list[MouthCue], duration: float) -> list[tuple[int, int, str]]:
    """Cues -> contiguous `(start_cs, end_cs, shape)` covering [0, duration] in centiseconds (see module doc).

    Unknown shapes raise `AffectStudioError`. No cues (or a zero duration) give one rest cue.
    """
    end_cs = max(_centiseconds(duration), 0)
    for cue in cues:
        if cue.shape not in RHUBARB_SHAPES:
            raise AffectStudioError(
                f"mouth cue shape {cue.shape!r} is not a Rhubarb shape ({', '.join(RHUBARB_SHAPES)})"
            )
    timeline: list[tuple[int, int, str]] = []
    position = 0
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        start = min(max(_centiseconds(cue.start), position), end_cs)
        stop = min(max(_centiseconds(cue.end), start), end_cs)
        if start > position:
            timeline.append((position, start, REST))
        if stop > start:
            timeline.append((start, stop, cue.shape))
        position = max(position, stop)
    if position < end_cs or not timeline:
        timeline.append((position, end_cs, REST))
    merged: list[tuple[int, int, str]] = []
    for start, stop, shape in timeline:
        if merged and merged[-1][2] == shape and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], stop, shape)
        else:
            merged.append((start, stop, shape))
    return merged


@register
class RhubarbTsvExporter(Exporter):
    name = "rhubarb"
    suffix = ".tsv"
    description = "Rhubarb Lip Sync TSV mouth cues (start seconds, shape A-H/X; closing X at the end)"

    def render(self, data: ExportInput) -> str:
        timeline = rhubarb_timeline(data.mouth_cues, data.motion.duration)
        lines = [f"{_seconds(start)}\t{shape}" for start, _, shape in timeline]
        lines.append(f"{_seconds(timeline[-1][1])}\t{REST}")
        return "\n".join(lines) + "\n"


@register
class RhubarbJsonExporter(Exporter):
    name = "rhubarb_json"
    suffix = ".rhubarb.json"
    description = "Rhubarb Lip Sync JSON mouth cues ({metadata: {soundFile, duration}, mouthCues: [...]})"

    def render(self, data: ExportInput) -> str:
        timeline = rhubarb_timeline(data.mouth_cues, data.motion.duration)
        sound_file = str(Path(data.audio_path).absolute()) if data.audio_path else ""
        # Written by hand, like Rhubarb, for its exact layout: one cue per line.
        cues = ",\n".join(
            f'    {{ "start": {_seconds(start)}, "end": {_seconds(stop)}, "value": "{shape}" }}'
            for start, stop, shape in timeline
        )
        return (
            "{\n"
            '  "metadata": {\n'
            f'    "soundFile": {json.dumps(sound_file, ensure_ascii=False)},\n'
            f'    "duration": {_seconds(timeline[-1][1])}\n'
            "  },\n"
            '  "mouthCues": [\n'
            f"{cues}\n"
            "  ]\n"
            "}\n"
        )


def read_rhubarb_tsv(path: str | Path) -> list[MouthCue]:
    """Parse Rhubarb TSV: each cue ends where the next starts; the final line only marks the end time."""
    path = Path(path)
    try:
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        marks = [(float(start), shape.strip()) for start, shape in rows]
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, ValueError) as error:
        raise InputFileError(path, f"not Rhubarb TSV (start<TAB>shape lines): {error}") from None
    return [MouthCue(start, end, shape) for (start, shape), (end, _) in pairwise(marks)]


def read_rhubarb_json(path: str | Path) -> tuple[list[MouthCue], dict[str, Any]]:
    """Parse Rhubarb JSON -> (cues, metadata)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        cues = [MouthCue(float(c["start"]), float(c["end"]), str(c["value"])) for c in document["mouthCues"]]
        return cues, dict(document["metadata"])
    except FileNotFoundError:
        raise InputFileError(path, "file not found") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputFileError(path, f"not Rhubarb JSON: {error}") from None
