"""Phones -> Rhubarb mouth cues (A-H, X) for 2D animation tools, with Rhubarb's tidy-ups: neighbouring
phones of the same shape merge, and blips shorter than a frame of 2D animation fold into a neighbour."""

from __future__ import annotations

from recognition.phonemes import PhoneTimeline
from rigs.visemes import PHONE_TO_RHUBARB, MouthCue

MIN_CUE_S = 0.04  # shorter cues are absorbed (Rhubarb animates at ~24 fps, a frame is ~42 ms)


def mouth_cues(timeline: PhoneTimeline, duration: float | None = None) -> list[MouthCue]:
    """Cues covering `[0, duration]` (default: the timeline's end) back to back, starting at 0."""
    end_time = duration if duration is not None else timeline.duration
    cues: list[list] = []  # [start, end, shape]
    cursor = 0.0
    for phone in timeline.phones:
        start, end = max(cursor, phone.start), min(phone.end, end_time)
        if end <= start:
            continue
        if start > cursor + 1e-6:  # a gap in the timeline is rest
            cues.append([cursor, start, "X"])
        shape = PHONE_TO_RHUBARB[phone.label]
        if cues and cues[-1][2] == shape:
            cues[-1][1] = end
        else:
            cues.append([start, end, shape])
        cursor = end
    if cursor < end_time - 1e-6:
        cues.append([cursor, end_time, "X"])
    # Fold blips into the previous cue, except closures (A): a missed closure is the most visible error.
    tidy: list[list] = []
    for cue in cues:
        if tidy and cue[1] - cue[0] < MIN_CUE_S and cue[2] != "A":
            tidy[-1][1] = cue[1]
        elif tidy and tidy[-1][2] == cue[2]:
            tidy[-1][1] = cue[1]
        else:
            tidy.append(cue)
    return [MouthCue(round(a, 4), round(b, 4), shape) for a, b, shape in tidy]
