import numpy as np
import pytest

from rigs import livelink
from rigs.arkit import ARKIT_INDEX, ARKIT_NAMES, arkit_vector
from rigs.curves import Curves
from rigs.emotions import EMOTIONS, UnknownEmotionError, canonical_emotion, valence_arousal
from rigs.errors import InputFileError

LIVE_LINK_HEADER = (
    "Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


def test_arkit_names_are_apples_52_in_order():
    assert len(ARKIT_NAMES) == 52 == len(set(ARKIT_NAMES))
    assert ARKIT_NAMES[0] == "eyeBlinkLeft" and ARKIT_NAMES[17] == "jawOpen" and ARKIT_NAMES[51] == "tongueOut"
    assert ARKIT_NAMES.index("jawLeft") < ARKIT_NAMES.index("jawRight")


def test_live_link_header_is_the_apps_exact_header():
    assert ",".join(livelink.HEADER) == LIVE_LINK_HEADER
    assert livelink.BLENDSHAPE_COUNT == 61
    assert set(livelink.LIVELINK_TO_ARKIT.values()) == set(ARKIT_NAMES)


def test_mediapipe_scores_map_by_name_not_index():
    # MediaPipe orders its 52 outputs alphabetically with `_neutral` first.
    scores = {"_neutral": 0.9, "browDownLeft": 0.1, "jawOpen": 0.7, "mouthSmileRight": 0.4}
    weights = arkit_vector(scores)
    assert weights.shape == (52,) and weights.dtype == np.float32
    assert weights[ARKIT_INDEX["jawOpen"]] == pytest.approx(0.7)
    assert weights[ARKIT_INDEX["mouthSmileRight"]] == pytest.approx(0.4)
    assert weights[ARKIT_INDEX["browDownLeft"]] == pytest.approx(0.1)
    assert weights.sum() == pytest.approx(1.2)
    with pytest.raises(KeyError):
        arkit_vector({"notABlendshape": 1.0})


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_curves_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    curves = Curves(
        rng.random((90, 3)),
        fps=30,
        channels=("jawOpen", "mouthClose", "HeadYaw"),
        metadata={"emotion": "happy", "source": "speech.wav"},
    )
    path = curves.save(tmp_path / f"take{suffix}")
    loaded = Curves.load(path)
    assert loaded.channels == curves.channels and loaded.fps == 30
    assert loaded.metadata == curves.metadata
    np.testing.assert_allclose(loaded.values, curves.values, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(loaded["jawOpen"], curves.values[:, 0])
    assert loaded.duration == pytest.approx(3.0)
    assert loaded.select(["HeadYaw", "jawOpen"]).values.tolist() == curves.values[:, [2, 0]].tolist()
    assert not list(tmp_path.glob("*.part")), "atomic write left a temporary file"


def test_curves_reject_mismatched_shapes_and_bad_files(tmp_path):
    with pytest.raises(ValueError):
        Curves(np.zeros((10, 2)), 30, ("a",))
    with pytest.raises(ValueError):
        Curves(np.zeros((10, 2)), 0, ("a", "b"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="bad.npz"):
        Curves.load(bad)


def test_emotion_names_and_derived_valence_arousal():
    assert canonical_emotion("Fear") == "fearful" and canonical_emotion(" happy ") == "happy"
    with pytest.raises(UnknownEmotionError, match="valid emotions: neutral, happy"):
        canonical_emotion("bliss")
    with pytest.raises(UnknownEmotionError) as typo:
        canonical_emotion("hapy")
    assert str(typo.value).startswith("unknown emotion 'hapy' (did you mean 'happy'?);")
    with pytest.raises(UnknownEmotionError, match=r"'afriad' \(did you mean 'fearful'\?\)"):
        canonical_emotion("afriad")  # close to an alias: the class it stands for is suggested
    with pytest.raises(UnknownEmotionError) as nothing_close:
        canonical_emotion("furious", context="0s:furious:0.5")
    assert str(nothing_close.value).startswith("unknown emotion 'furious' in '0s:furious:0.5'; valid")
    one_hot = np.eye(len(EMOTIONS))
    va = valence_arousal(one_hot)
    assert va[EMOTIONS.index("happy")] == pytest.approx([0.83, 0.53])
    assert va[EMOTIONS.index("sad")][0] < 0 and va[EMOTIONS.index("neutral")] == pytest.approx([0, 0])
