"""Coarticulation: phones -> a smooth per-frame mouth pose by dominance blending (Cohen & Massaro).

Every phone pulls each channel toward its target with a dominance that is flat over the phone's core
and decays before it (anticipation) and after it (carry-over); a frame's pose is the dominance-weighted
mean of the targets around it. Then the hard constraints are imposed: bilabials close the lips,
labiodentals put the lower lip to the teeth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from generation.motion.visemes import BILABIALS, LABIODENTALS, viseme_table
from recognition.phonemes import SILENCE, PhoneTimeline
from recognition.phonemes.timeline import Phone
from rigs.arkit import ARKIT_INDEX

JAW, CLOSE = ARKIT_INDEX["jawOpen"], ARKIT_INDEX["mouthClose"]
ROUNDING = [ARKIT_INDEX[n] for n in ("mouthFunnel", "mouthPucker")]
LIP_OPENERS = [
    ARKIT_INDEX[n] for n in ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight")
]
ROLL_LOWER = ARKIT_INDEX["mouthRollLower"]


@dataclass
class CoarticulationConfig:
    anticipation_s: float = 0.07  # decay time of a phone's pull before it starts
    carryover_s: float = 0.05  # decay time after it ends
    reach_s: float = 0.35  # phones further than this do not pull a frame at all
    closure_jaw: float = 0.08  # bilabial closure: jaw at most this open, lips sealed
    # Phones recognised without a transcript ("allphone"): the lips stay closed at most this long (s) in
    # the middle of each bilabial. About a third of recognised bilabials are wrong (a t, k, d or n), and a
    # brief wrong closure shows far less than one held for the whole phone; a right one still closes.
    # None holds every closure for its whole phone. (bench/lipsync.py, no transcript: false closures 5.9
    # -> 4.5 % of speech frames, bilabial recall unchanged; 0.03 s started to miss closures.)
    recognised_closure_s: float | None = 0.04


def frame_phone_spans(timeline: PhoneTimeline, fps: float, frames: int) -> list[tuple[str, int, int]]:
    """`(phone, first_frame, last_frame_exclusive)` per phone; every phone gets at least one frame."""
    spans = []
    for phone in timeline.phones:
        a = int(np.ceil(phone.start * fps - 1e-9))
        b = int(np.ceil(phone.end * fps - 1e-9))
        if b <= a:  # shorter than a frame: the frame nearest its middle
            a = min(frames - 1, int(round((phone.start + phone.end) / 2 * fps)))
            b = a + 1
        spans.append((phone.label, max(0, a), min(frames, b)))
    return spans


def blend_visemes(timeline: PhoneTimeline, fps: float, frames: int, config: CoarticulationConfig) -> np.ndarray:
    """`(frames, 52) float32` mouth and jaw pose from the phones (other channels stay 0)."""
    phones, poses, dominance = viseme_table()
    index = {p: i for i, p in enumerate(phones)}
    t = np.arange(frames) / fps
    numerator = np.zeros((frames, poses.shape[1]), np.float64)
    denominator = np.full((frames, poses.shape[1]), 1e-4, np.float64)  # a faint pull toward rest
    for phone in timeline.phones:
        k = index[phone.label]
        core = 0.25 * (phone.end - phone.start)  # the middle half of the phone holds full dominance
        centre = (phone.start + phone.end) / 2
        lo = np.searchsorted(t, phone.start - config.reach_s)
        hi = np.searchsorted(t, phone.end + config.reach_s)
        offset = t[lo:hi] - centre
        before = np.maximum(0.0, -offset - core) / config.anticipation_s
        after = np.maximum(0.0, offset - core) / config.carryover_s
        falloff = np.exp(-(before + after))[:, None]
        weight = falloff * dominance[k]
        numerator[lo:hi] += weight * poses[k]
        denominator[lo:hi] += weight
    return (numerator / denominator).astype(np.float32)


def brief_closures(timeline: PhoneTimeline, hold_s: float) -> PhoneTimeline:
    """A copy of `timeline` whose bilabials last at most `hold_s` seconds, centred on where they were;
    the neighbours on either side take the time (bilabial neighbours keep their shared boundary)."""
    phones = [Phone(p.label, p.start, p.end, p.confidence) for p in timeline.phones]
    for i, phone in enumerate(phones):
        if phone.label not in BILABIALS or phone.duration <= hold_s:
            continue
        centre = (phone.start + phone.end) / 2
        if i > 0 and phones[i - 1].label not in BILABIALS:
            phone.start = phones[i - 1].end = centre - hold_s / 2
        if i + 1 < len(phones) and phones[i + 1].label not in BILABIALS:
            phone.end = phones[i + 1].start = centre + hold_s / 2
    return PhoneTimeline(phones, timeline.words, timeline.source, timeline.method)


def articulated_phones(timeline: PhoneTimeline, config: CoarticulationConfig) -> PhoneTimeline:
    """The phones the mouth articulates: `timeline`, with `brief_closures` when it was recognised without
    a transcript (see `CoarticulationConfig.recognised_closure_s`)."""
    if timeline.method == "allphone" and config.recognised_closure_s is not None:
        return brief_closures(timeline, config.recognised_closure_s)
    return timeline


def _constraint_weight(frames: int, a: int, b: int, ramp: int) -> tuple[slice, np.ndarray]:
    """1 on frames [a, b), falling linearly to 0 over `ramp` frames on each side: `(slice, weights)`."""
    lo, hi = max(0, a - ramp), min(frames, b + ramp)
    idx = np.arange(lo, hi)
    weight = np.clip(1.0 - np.maximum(a - idx, idx - (b - 1)) / (ramp + 1), 0.0, 1.0)
    return slice(lo, hi), weight[:, None]


def enforce_articulation(pose: np.ndarray, timeline: PhoneTimeline, fps: float, config: CoarticulationConfig) -> None:
    """In place: lips meet on every bilabial, the lower lip meets the teeth on every labiodental.

    The constraint holds fully over the phone's frames and eases in and out over ~30 ms around them, so
    closures stay exact without the corners a hard clamp would put into smoothed curves.
    """
    ramp = int(0.03 * fps)  # frames; none below ~34 fps, where one frame is already longer than the ramp
    for label, a, b in frame_phone_spans(timeline, fps, len(pose)):
        if label not in BILABIALS and label not in LABIODENTALS:
            continue
        span, w = _constraint_weight(len(pose), a, b, ramp)
        segment = pose[span]
        target = segment.copy()
        if label in BILABIALS:
            target[:, JAW] = np.minimum(target[:, JAW], config.closure_jaw)
            target[:, CLOSE] = target[:, JAW]  # sealed lips: jawOpen - mouthClose = 0
            target[:, ROUNDING] *= 0.3
            target[:, LIP_OPENERS] = np.minimum(target[:, LIP_OPENERS], 0.03)
        else:
            target[:, ROLL_LOWER] = np.maximum(target[:, ROLL_LOWER], 0.35)
            target[:, JAW] = np.minimum(target[:, JAW], 0.16)
            target[:, CLOSE] = 0.0
        segment += w * (target - segment)


def speech_activity(timeline: PhoneTimeline, fps: float, frames: int) -> np.ndarray:
    """`(frames,) bool`: True where a non-silence phone sounds."""
    active = np.zeros(frames, bool)
    for label, a, b in frame_phone_spans(timeline, fps, frames):
        if label != SILENCE:
            active[a:b] = True
    return active
