"""`RigCurvesPipeline` in process: the speech's emotion is estimated only when something uses it."""

import json

import numpy as np
import pytest
import soundfile

from generation.rig_curves import RigCurvesPipeline
from recognition.fusion import FusionConfig
from recognition.ser import SpeechEmotionRecognizer
from recognition.speech_analysis import SpeechAnalysisPipeline
from recognition.tts import synthesize
from rigs.errors import InputFileError

LINE = "Maybe we should open the big map now."


class CountingSER(SpeechEmotionRecognizer):
    """The real speech emotion recogniser, counting its calls."""

    calls = 0

    def recognize(self, *args, **kwargs):
        self.calls += 1
        return super().recognize(*args, **kwargs)


@pytest.fixture(scope="module")
def speech():
    return synthesize(LINE, "espeak:en-us").audio


def pipeline(fusion: FusionConfig | None = None) -> tuple[RigCurvesPipeline, CountingSER]:
    ser = CountingSER()
    rig = RigCurvesPipeline(speech=SpeechAnalysisPipeline(ser=ser, fusion=fusion))
    rig.speech.load_models()  # warms the recogniser up with one call
    ser.calls = 0
    return rig, ser


def test_a_named_emotion_skips_the_estimate_without_changing_the_curves(speech):
    rig, ser = pipeline()
    named = rig(audio=speech, transcript=LINE, emotion="angry:0.7")
    assert ser.calls == 0
    assert named.speech.emotion is None and named.speech.speech_emotion is None
    assert "speech emotion" not in named.seconds and "text emotion" not in named.seconds
    assert set(named.emotion.dominant()) == {"angry"}
    json.dumps(named.speech.to_dict())  # still a complete, serialisable analysis
    assert named.speech.to_dict()["emotion_track"] is None

    # blending at full weight computes the estimate and then ignores it: the same curves
    blended_rig, blended_ser = pipeline(FusionConfig(override_mode="blend", override_weight=1.0))
    blended = blended_rig(audio=speech, transcript=LINE, emotion="angry:0.7")
    assert blended_ser.calls == 1 and blended.speech.emotion is not None
    for curves in ("blendshapes", "head", "eyes"):
        np.testing.assert_allclose(getattr(named.motion, curves), getattr(blended.motion, curves), atol=1e-6)
    # ... and the pipeline's own blend setting reaches the override: half-and-half moves the face
    half_rig, _ = pipeline(FusionConfig(override_mode="blend", override_weight=0.5))
    half = half_rig(audio=speech, transcript=LINE, emotion="angry:0.7")
    assert half.emotion.source == "user+estimate"
    assert np.abs(half.motion.blendshapes - named.motion.blendshapes).max() > 0.05


def test_auto_emotion_estimates_from_the_speech(speech):
    rig, ser = pipeline()
    result = rig(audio=speech, transcript=LINE, emotion="auto")
    assert ser.calls == 1
    assert result.speech.emotion is not None and "speech emotion" in result.seconds
    assert result.emotion is result.speech.emotion  # the estimate drives the face


def test_audio_may_be_given_as_a_file(speech, tmp_path):
    wav = tmp_path / "line.wav"
    soundfile.write(wav, speech.samples, speech.sample_rate, subtype="FLOAT")  # float32: the same samples back
    rig, _ = pipeline()
    from_file = rig(audio=str(wav), transcript=LINE, emotion="happy")
    in_memory = rig(audio=speech, transcript=LINE, emotion="happy")
    np.testing.assert_array_equal(from_file.motion.blendshapes, in_memory.motion.blendshapes)
    assert from_file.motion.metadata["source_audio"] == str(wav)
    with pytest.raises(InputFileError, match="missing.wav.*file not found"):
        rig(audio=tmp_path / "missing.wav", emotion="happy")
