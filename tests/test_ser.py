"""Speech emotion: prosodic features and the prosodic SER backend on espeak-ng renderings of one
sentence, and the transformers backend with a tiny randomly initialised model built in the test."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from recognition.audio import SAMPLE_RATE, Audio, load_audio
from recognition.emotion_track import EmotionTrack
from recognition.phonemes.timeline import Phone, PhoneTimeline
from recognition.prosody import extract_prosody
from recognition.ser import (
    ProsodicSERBackend,
    SpeechEmotionRecognizer,
    TransformersSERBackend,
    UnmappedLabelsError,
    map_labels,
)
from rigs.emotions import CIRCUMPLEX, EMOTION_INDEX, EMOTIONS, circumplex_probabilities
from rigs.errors import AffectStudioError

SENTENCE = "The quick brown fox jumps over the lazy dog. I went to the market yesterday, and it was full of people."
RENDERINGS = {  # espeak-ng -s words/min, -p pitch 0-99, -a amplitude 0-200
    "flat": (140, 35, 80),
    "aroused": (230, 75, 170),
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, Audio]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("espeak")
    out = {}
    for name, (rate, pitch, amplitude) in RENDERINGS.items():
        path = folder / f"{name}.wav"
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", str(rate), "-p", str(pitch), "-a", str(amplitude), "-w", str(path),
             SENTENCE],
            check=True, capture_output=True,
        )  # fmt: skip
        out[name] = load_audio(path)
    return out


@pytest.fixture(scope="module")
def recognizer() -> SpeechEmotionRecognizer:
    return SpeechEmotionRecognizer()


def check_track(track: EmotionTrack, duration: float, fps: float) -> None:
    assert track.source == "speech"
    assert abs(track.num_frames - duration * fps) <= 1
    assert track.probabilities.shape == (track.num_frames, len(EMOTIONS))
    assert np.all(np.isfinite(track.embedding)) and np.all(np.isfinite(track.confidence))
    np.testing.assert_allclose(track.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert track.probabilities.min() >= 0
    for values in (track.valence, track.arousal):
        assert values.min() >= -1 and values.max() <= 1
    for values in (track.intensity, track.confidence):
        assert values.min() >= 0 and values.max() <= 1


def test_prosody_features_are_plausible(speech):
    fps = 25.0
    p = extract_prosody(speech["flat"], fps)
    assert p.num_frames == max(1, round(speech["flat"].duration * fps))
    for name in ("f0_hz", "voicing", "loudness_db", "speaking_rate", "presence", "spectral_tilt_db"):
        values = getattr(p, name)
        assert values.shape == (p.num_frames,) and values.dtype == np.float32, name
    voiced = p.f0_hz[np.isfinite(p.f0_hz)]
    assert len(voiced) > 0.3 * p.num_frames and 60 <= voiced.min() and voiced.max() <= 500
    assert 0 <= p.voicing.min() and p.voicing.max() <= 1
    assert p.rate_source == "energy"
    assert 2.5 < np.nanmedian(p.speaking_rate) < 7.0  # syllables/s of ordinary speech
    assert np.nanmedian(p.loudness_db[p.presence > 0.5]) > -45


def test_prosody_is_the_same_on_one_core_and_on_several(speech, monkeypatch):
    """The analysis runs in one chunk per core, in threads: the frames must not depend on the split."""
    audio = speech["flat"]
    monkeypatch.setenv("AFFECT_STUDIO_THREADS", "1")
    one = extract_prosody(audio, 30.0)
    monkeypatch.setenv("AFFECT_STUDIO_THREADS", "3")
    three = extract_prosody(audio, 30.0)
    for name in ("f0_hz", "voicing", "loudness_db", "spectral_tilt_db", "presence"):
        np.testing.assert_array_equal(getattr(one, name), getattr(three, name), err_msg=name)


def test_louder_faster_higher_rendering_has_higher_prosody(speech):
    flat, aroused = (extract_prosody(speech[k], 30.0) for k in ("flat", "aroused"))
    assert np.nanmedian(aroused.f0_hz) > 1.2 * np.nanmedian(flat.f0_hz)
    assert np.nanmedian(aroused.speaking_rate) > 1.2 * np.nanmedian(flat.speaking_rate)
    assert (
        np.nanmedian(aroused.loudness_db[aroused.presence > 0.5])
        > np.nanmedian(flat.loudness_db[flat.presence > 0.5]) + 3
    )


def test_speaking_rate_from_a_phone_timeline():
    # 3 s of speech in 0.25 s units of b-aa-t-s (1 vowel, 4 phones): 4 syllables/s, 16 phones/s; then 1 s silence
    phones, t = [], 0.0
    for _ in range(12):
        for label, d in (("b", 0.05), ("aa", 0.1), ("t", 0.05), ("s", 0.05)):
            phones.append(Phone(label, t, t + d))
            t += d
    timeline = PhoneTimeline(phones + [Phone("sil", t, t + 1.0)])
    rng = np.random.default_rng(0)
    audio = Audio((0.1 * rng.standard_normal(int(4.0 * SAMPLE_RATE))).astype(np.float32))
    p = extract_prosody(audio, 25.0, timeline)
    assert p.rate_source == "phones"
    mid = p.num_frames * 3 // 8  # 1.5 s: the window is all speech
    assert p.speaking_rate[mid] == pytest.approx(4.0, rel=0.05)
    assert p.phone_rate[mid] == pytest.approx(16.0, rel=0.05)


def test_louder_faster_higher_scores_higher_arousal(speech, recognizer):
    flat = recognizer(speech["flat"], 30.0)
    aroused = recognizer(speech["aroused"], 30.0)
    speaking = [t.confidence > 0.1 for t in (flat, aroused)]
    assert aroused.arousal.mean() > flat.arousal.mean()
    assert aroused.arousal[speaking[1]].mean() > flat.arousal[speaking[0]].mean() + 0.1
    assert flat.metadata["backend"] == "prosodic" and "not a trained classifier" in flat.metadata["method"]


def test_silence_scores_lowest_arousal_and_no_confidence(speech, recognizer):
    silence = Audio(np.zeros(2 * SAMPLE_RATE, np.float32))
    track = recognizer(silence, 30.0)
    check_track(track, 2.0, 30.0)
    assert track.confidence.max() < 0.01
    assert track.intensity.max() < 0.01
    assert set(track.dominant()) == {"neutral"}
    for name in RENDERINGS:
        assert track.arousal.mean() < recognizer(speech[name], 30.0).arousal.mean()


def test_pauses_inside_speech_drop_confidence(speech, recognizer):
    gap = np.zeros(SAMPLE_RATE, np.float32)
    audio = Audio(np.concatenate([speech["flat"].samples, gap, speech["flat"].samples]))
    track = recognizer(audio, 25.0)
    first = speech["flat"].duration
    in_gap = (track.times > first + 0.4) & (track.times < first + 0.6)
    assert track.confidence[in_gap].max() < 0.05
    assert track.confidence[track.times < first - 1.0].mean() > 0.2


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0, 200.0])
def test_output_ranges_and_frame_count(speech, recognizer, fps):
    audio = speech["aroused"]
    check_track(recognizer(audio, fps), audio.duration, fps)


def test_very_short_and_empty_audio(recognizer):
    rng = np.random.default_rng(1)
    short = Audio((0.05 * rng.standard_normal(800)).astype(np.float32))  # 50 ms
    check_track(recognizer(short, 30.0), 0.05, 30.0)
    with pytest.raises(AffectStudioError):
        recognizer(Audio(np.zeros(0, np.float32)), 30.0)


def test_circumplex_probabilities_pick_the_nearest_class():
    names = list(CIRCUMPLEX)
    v = np.array([CIRCUMPLEX[n][0] for n in names])
    a = np.array([CIRCUMPLEX[n][1] for n in names])
    p = circumplex_probabilities(v, a)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert [EMOTIONS[i] for i in p.argmax(axis=1)] == names
    assert p[names.index("neutral"), EMOTION_INDEX["neutral"]] > 0.7


# --- transformers backend -------------------------------------------------------------------------


def make_tiny_model(folder, id2label: dict[int, str]):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8, 8), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=8,
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )  # fmt: skip
    transformers.Wav2Vec2ForSequenceClassification(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    ).save_pretrained(folder)
    return folder


def test_transformers_backend_on_a_tiny_model(tmp_path, speech):
    folder = make_tiny_model(tmp_path / "iemocap4", {0: "ang", 1: "hap", 2: "sad", 3: "neu"})
    backend = TransformersSERBackend(folder)
    assert backend.class_index == [EMOTION_INDEX[e] for e in ("angry", "happy", "sad", "neutral")]
    audio = speech["flat"]
    starts, window_probs = backend.window_probabilities(audio.samples, audio.sample_rate)
    expected_windows = int(np.ceil((audio.duration - 2.0) / 0.5)) + 1
    assert abs(len(starts) - expected_windows) <= 1
    assert window_probs.shape == (len(starts), 7)
    np.testing.assert_allclose(window_probs.sum(axis=1), 1.0, atol=1e-5)
    for unused in ("fearful", "disgusted", "surprised"):  # the model has no such classes
        assert window_probs[:, EMOTION_INDEX[unused]].max() == 0
    track = SpeechEmotionRecognizer(backend)(audio, 25.0)
    check_track(track, audio.duration, 25.0)
    assert track.metadata["backend"] == "transformers"
    # the same folder is loaded once per process
    assert TransformersSERBackend(folder).model is backend.model


def test_transformers_backend_label_sets(tmp_path, speech):
    emotion2vec = {0: "生气/angry", 1: "厌恶/disgusted", 2: "恐惧/fearful", 3: "开心/happy", 4: "中立/neutral",
                   5: "其他/other", 6: "难过/sad", 7: "吃惊/surprised", 8: "<unk>"}  # fmt: skip
    backend = TransformersSERBackend(make_tiny_model(tmp_path / "e2v", emotion2vec))
    assert backend.class_index[5] is None and backend.class_index[8] is None
    assert [EMOTIONS[backend.class_index[i]] for i in (0, 1, 2, 3, 4, 6, 7)] == [
        "angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"
    ]  # fmt: skip
    track = SpeechEmotionRecognizer(backend)(speech["aroused"], 30.0)
    check_track(track, speech["aroused"].duration, 30.0)

    with pytest.raises(UnmappedLabelsError, match="'bored'.*'contempt'|'contempt'.*'bored'") as error:
        TransformersSERBackend(make_tiny_model(tmp_path / "odd", {0: "neutral", 1: "bored", 2: "contempt"}))
    assert "\n" not in str(error.value) and "label_map" in str(error.value)
    fixed = TransformersSERBackend(tmp_path / "odd", label_map={"bored": "sad", "contempt": None})
    assert fixed.class_index == [EMOTION_INDEX["neutral"], EMOTION_INDEX["sad"], None]


def test_label_mapping_by_name():
    ravdess = ["angry", "calm", "disgust", "fearful", "happy", "neutral", "sad", "surprised"]
    assert [EMOTIONS[i] for i in map_labels(ravdess)] == [
        "angry", "neutral", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"
    ]  # fmt: skip
    expected = [EMOTION_INDEX[e] for e in ("neutral", "happy", "angry", "sad", "happy")]
    assert map_labels(["NEU", "Hap", "ANG", "sad", "exc"]) == expected
    with pytest.raises(UnmappedLabelsError, match="LABEL_0"):
        map_labels(["LABEL_0", "LABEL_1"])
    with pytest.raises(UnmappedLabelsError):
        map_labels(["other", "unk"])  # nothing left


def test_transformers_backend_clear_error_for_a_bad_folder(tmp_path):
    with pytest.raises(AffectStudioError, match="not found"):
        TransformersSERBackend(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AffectStudioError, match="not a transformers audio-classification model"):
        TransformersSERBackend(tmp_path / "empty")


def test_prosodic_backend_is_the_default():
    assert isinstance(SpeechEmotionRecognizer().backend, ProsodicSERBackend)
