"""Property-based tests (hypothesis) of the parsers, loaders and writers: whatever they are given, they
either load it or refuse it with an `AffectStudioError` (one line, naming the problem), never crash with
anything else; writers round-trip through their readers."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recognition.audio import load_audio
from recognition.emotion_spec import EmotionSpec, parse_emotion_spec
from recognition.image_io import load_image
from rigs.emotions import EMOTIONS
from rigs.errors import AffectStudioError
from rigs.export.base import ExportInput, get_exporter
from rigs.export.json_export import read_motion_json
from rigs.export.livelink import read_livelink_csv
from rigs.motion import SUPPORTED_FPS, FaceMotion

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line_error(error: AffectStudioError) -> None:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message


def _loaded_or_refused(load, path, names_file: bool = False):
    """`load(path)`, or None when it refused the file with a one-line `AffectStudioError` (naming the file
    if `names_file`); any other exception fails the test."""
    try:
        return load(path)
    except AffectStudioError as error:
        _one_line_error(error)
        if names_file:
            assert path.name in str(error)
        return None


# -- emotion specs -----------------------------------------------------------------------------------

emotion_words = st.sampled_from([*EMOTIONS, "joy", "HAPPY", "va", "auto", "", "?", "s"])
numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5)).map(str)
spec_tokens = st.one_of(
    emotion_words,
    st.tuples(emotion_words, numbers).map(":".join),
    st.tuples(numbers.map(lambda n: n + "s"), emotion_words).map(":".join),
    st.tuples(numbers.map(lambda n: n + "s"), emotion_words, numbers).map(":".join),
    st.text(max_size=12),
)


@FUZZ
@given(st.lists(spec_tokens, max_size=5).map(",".join))
def test_emotion_specs_parse_or_are_refused_in_one_line(text):
    try:
        spec = parse_emotion_spec(text)
    except AffectStudioError as error:
        _one_line_error(error)
        return
    assert isinstance(spec, EmotionSpec)
    if spec.is_auto:  # "" and "auto": the emotion comes from the speech
        return
    track = spec.track(2.0, 25)  # whatever parsed must also make a valid track
    assert np.all(np.isfinite(track.probabilities)) and np.allclose(track.probabilities.sum(axis=1), 1, atol=1e-4)
    assert np.all((track.intensity >= 0) & (track.intensity <= 1))


@FUZZ
@given(
    st.lists(
        st.tuples(st.floats(0, 30, allow_nan=False), st.sampled_from(EMOTIONS), st.floats(0, 1, allow_nan=False)),
        min_size=1,
        max_size=6,
        unique_by=lambda k: round(k[0], 2),
    )
)
def test_well_formed_keyframes_always_parse(keys):
    text = ",".join(f"{t:.2f}s:{name}:{i:.2f}" for t, name, i in sorted(keys))
    spec = parse_emotion_spec(text)
    assert spec.track(1.0, 25).probabilities.shape == (25, len(EMOTIONS))


# -- loaders -----------------------------------------------------------------------------------------


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from([".wav", ".mp3", ".flac", ".ogg", ".m4a"]))
def test_random_bytes_are_refused_as_audio(tmp_path, data, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(data)
    audio = _loaded_or_refused(load_audio, path, names_file=True)
    if audio is None:
        return
    assert audio.samples.dtype == np.float32 and np.all(np.isfinite(audio.samples))


@FUZZ
@given(
    arrays(np.float32, st.integers(0, 4000), elements=st.floats(-1.5, 1.5, width=32)),
    st.sampled_from([8000, 16000, 22050, 44100]),
    st.integers(0, 200),
)
def test_wav_files_load_or_are_refused_after_any_truncation(tmp_path, samples, rate, cut):
    data = _wav_bytes(samples, rate)
    path = tmp_path / "speech.wav"
    path.write_bytes(data[: max(0, len(data) - cut)])
    audio = _loaded_or_refused(load_audio, path)
    if audio is None:
        return
    assert audio.sample_rate == 16000 and np.all(np.isfinite(audio.samples))
    assert np.abs(audio.samples).max(initial=0) <= 1.01


@FUZZ
@given(st.binary(max_size=4096), st.sampled_from([".png", ".jpg", ".webp", ".bmp", ".tif"]))
def test_random_bytes_are_refused_as_images(tmp_path, data, suffix):
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(data)
    image = _loaded_or_refused(load_image, path)
    if image is None:
        return
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


@FUZZ
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 300))
def test_truncated_pngs_are_refused_or_load(tmp_path, width, height, cut):
    from PIL import Image

    rng = np.random.default_rng(width * 100 + height)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(buffer, format="PNG")
    data = buffer.getvalue()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: max(1, len(data) - cut)])
    image = _loaded_or_refused(load_image, path)
    if image is None:
        return
    assert image.shape == (height, width, 3)


# -- writers round-trip through their readers --------------------------------------------------------

motions = st.builds(
    lambda weights, head, eyes, fps: FaceMotion(weights, head[: len(weights)], eyes[: len(weights)], fps),
    arrays(np.float32, st.tuples(st.integers(1, 30), st.just(52)), elements=st.floats(0, 1, width=32)),
    arrays(np.float32, (30, 3), elements=st.floats(-40, 40, width=32)),
    arrays(np.float32, (30, 4), elements=st.floats(-30, 30, width=32)),
    st.sampled_from(sorted(SUPPORTED_FPS)),
)


@FUZZ
@given(motions)
def test_live_link_csv_round_trips(tmp_path, motion):
    path = get_exporter("livelink").export(ExportInput(motion, name="take"), tmp_path / "take.csv")
    back = read_livelink_csv(path, fps=motion.fps)
    assert back.num_frames == motion.num_frames and back.fps == motion.fps
    np.testing.assert_allclose(back.blendshapes, motion.blendshapes, atol=1e-3)
    np.testing.assert_allclose(back.head, motion.head, atol=0.05)


@FUZZ
@given(motions, st.sampled_from([None, *EMOTIONS]))
def test_json_round_trips(tmp_path, motion, emotion):
    path = get_exporter("json").export(ExportInput(motion, emotion=emotion, name="take"), tmp_path / "take.json")
    back = read_motion_json(path)
    assert back.emotion == emotion and back.motion.fps == motion.fps
    np.testing.assert_allclose(back.motion.blendshapes, motion.blendshapes, atol=1e-3)
    np.testing.assert_allclose(back.motion.eyes, motion.eyes, atol=0.05)


@FUZZ
@given(motions)
def test_glb_round_trips_through_pygltflib(tmp_path, motion):
    import pygltflib

    from rigs.export.gltf import animation_duration

    path = get_exporter("gltf").export(ExportInput(motion, name="take"), tmp_path / "take.glb")
    gltf = pygltflib.GLTF2().load(str(path))
    mesh = gltf.meshes[0]
    assert len(mesh.primitives[0].targets) == 52
    assert mesh.extras["targetNames"][:2] == ["eyeBlinkLeft", "eyeLookDownLeft"]
    assume(motion.num_frames > 1)
    assert animation_duration(gltf) == pytest.approx((motion.num_frames - 1) / motion.fps, abs=1e-4)


@FUZZ
@given(st.text(max_size=300))
def test_live_link_reader_refuses_garbage_in_one_line(tmp_path, text):
    path = tmp_path / "garbage.csv"
    path.write_text(text, encoding="utf-8")
    try:
        motion = read_livelink_csv(path, fps=30)
    except AffectStudioError as error:
        _one_line_error(error)
        return
    assert np.all(np.isfinite(motion.blendshapes))


# -- dataset specs -----------------------------------------------------------------------------------

spec_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=True), st.text(max_size=8),
              st.sampled_from([*EMOTIONS, "joy", "AU25", "train", "ray"])),  # fmt: skip
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)
spec_fields = st.sampled_from([
    "emotions", "intensities", "action_units", "images_per_cell", "head_pose", "gaze", "augment", "resolution",
    "seed", "splits", "quality", "parquet", "max_identity_yaw", "png_compression", "emotoins",
])  # fmt: skip


@FUZZ
@given(st.dictionaries(spec_fields, spec_values, max_size=4))
def test_dataset_specs_load_or_are_refused_in_one_line(tmp_path, fields):
    from generation.synthetic import DatasetSpec

    data = {"identities": [str(tmp_path)], **fields}
    try:
        spec = DatasetSpec.from_dict(data, base_dir=tmp_path)
    except AffectStudioError as error:
        _one_line_error(error)
        return
    # a spec that loads round-trips through its dict form
    assert DatasetSpec.from_dict(spec.to_dict(), base_dir=tmp_path).to_dict() == spec.to_dict()
