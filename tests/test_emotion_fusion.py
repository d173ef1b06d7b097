"""User emotion specs and fusion of estimates into one per-frame track."""

import logging

import numpy as np
import pytest

from recognition.emotion_spec import EmotionSpecError, parse_emotion_spec
from recognition.emotion_track import EmotionTrack
from recognition.fusion import FusionConfig, apply_override, fuse
from rigs.emotions import EMOTIONS


def constant_track(emotion: str, frames: int, fps: float, source: str, confidence: float = 1.0) -> EmotionTrack:
    p = np.zeros((frames, 7), np.float32)
    p[:, EMOTIONS.index(emotion)] = 1
    return EmotionTrack(
        p, np.full(frames, 0.5), np.full(frames, 0.2), np.full(frames, 0.8), fps, np.full(frames, confidence), source
    )


def test_single_class_with_intensity():
    track = parse_emotion_spec("Happy:0.5").track(duration=2.0, fps=30)
    assert track.num_frames == 60 and set(track.dominant()) == {"happy"}
    assert np.allclose(track.intensity, 0.5) and np.allclose(track.valence, 0.83 * 0.5)
    assert track.embedding.shape == (60, 10)


def test_valence_arousal_point_picks_the_nearest_class():
    track = parse_emotion_spec("va:-0.6,-0.3").track(1.0, 25)
    assert track.dominant()[0] == "sad" and track.valence[0] == pytest.approx(-0.6)


def test_keyframes_hold_and_ramp():
    track = parse_emotion_spec("0s:neutral, 1s:angry:0.7, 2.5s:happy").track(duration=4.0, fps=10)
    dominant = track.dominant()
    assert dominant[5] == "neutral" and dominant[20] == "angry" and dominant[35] == "happy"
    assert track.intensity[20] == pytest.approx(0.7)
    assert 0 < track.intensity[11] < 0.7  # mid-ramp: a smooth change, not a jump
    assert np.allclose(track.probabilities.sum(axis=1), 1)


def test_keys_after_the_speech_ends_are_warned_of(caplog):
    spec = parse_emotion_spec("0s:neutral, 1s:angry, 5s:happy, 9s:sad")
    with caplog.at_level(logging.WARNING):
        spec.track(duration=4.0, fps=10)
    assert "emotion key(s) at 5s, 9s come after the speech ends (4.0 s)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        spec.track(duration=10.0, fps=10)
    assert caplog.text == ""


@pytest.mark.parametrize(
    "text, points_at",
    [
        ("blissful", "'blissful'"),
        ("happy:1.5", "out of range"),
        ("happy:lots", "expected a number"),
        ("0s:happy, 2x:sad", "'2x:sad'"),
        ("2s:happy, 1s:sad", "not after the previous key"),
        ("va:0.2", "va:VALENCE,AROUSAL"),
        ("va:0.2,3", "out of range"),
    ],
)
def test_malformed_specs_point_at_the_bad_token(text, points_at):
    with pytest.raises(EmotionSpecError) as error:
        parse_emotion_spec(text)
    assert points_at in str(error.value) and "\n" not in str(error.value)


def test_fusion_weighs_sources_by_confidence_and_smooths():
    fps = 25
    speech = constant_track("angry", 50, fps, "speech", confidence=0.2)
    text = constant_track("happy", 50, fps, "text", confidence=1.0)
    fused = fuse([speech, text], fps=fps, duration=2.0)
    assert set(fused.dominant()) == {"happy"}
    happy = fused.probabilities[:, EMOTIONS.index("happy")]
    assert happy.mean() == pytest.approx(1 / 1.2, abs=0.02)
    # A source covering only half the time still fills its half; elsewhere the other source rules.
    short = constant_track("sad", 25, fps, "speech")
    mixed = fuse(
        [short, constant_track("neutral", 50, fps, "text", confidence=0.1)], fps, 2.0, FusionConfig(smoothing_s=0.0)
    )
    assert mixed.dominant()[5] == "sad"


def test_fusion_resamples_to_the_requested_grid():
    track = constant_track("fearful", 10, fps=5, source="speech")  # 2 s at 5 fps
    fused = fuse([track], fps=60, duration=2.0)
    assert fused.num_frames == 120 and fused.fps == 60 and set(fused.dominant()) == {"fearful"}


def test_override_replace_blend_and_auto():
    estimate = constant_track("sad", 50, 25, "fused")
    spec = parse_emotion_spec("happy")
    assert set(apply_override(estimate, spec, 25, 2.0).dominant()) == {"happy"}
    blended = apply_override(estimate, spec, 25, 2.0, FusionConfig(override_mode="blend", override_weight=0.7))
    assert blended.probabilities[0, EMOTIONS.index("happy")] == pytest.approx(0.7)
    assert apply_override(estimate, parse_emotion_spec("auto"), 25, 2.0) is estimate
