"""Audio loading: every common format to mono float32 16 kHz, and one-line errors for bad files."""

import wave

import numpy as np
import pytest

from recognition.audio import Audio, load_audio, speech_segments
from rigs.errors import InputFileError
from tests.audio_fixtures import tone, write_audio


@pytest.mark.parametrize(
    "suffix, rate", [(".wav", 44100), (".flac", 22050), (".ogg", 48000), (".mp3", 44100), (".m4a", 44100)]
)
def test_formats_load_as_mono_16k(tmp_path, suffix, rate):
    path = write_audio(tmp_path / f"speech{suffix}", tone(1.5, rate, channels=2), rate)
    audio = load_audio(path)
    assert audio.sample_rate == 16000 and audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration == pytest.approx(1.5, abs=0.08)  # lossy codecs pad a little
    assert 0.2 < audio.peak <= 1.0
    assert audio.original_sample_rate == rate and audio.original_channels == 2


@pytest.mark.parametrize("rate, channels", [(8000, 1), (96000, 1), (44100, 6)])
def test_unusual_rates_and_channel_counts(tmp_path, rate, channels):
    audio = load_audio(write_audio(tmp_path / "odd.wav", tone(1.0, rate, channels), rate))
    assert audio.duration == pytest.approx(1.0, abs=0.01)
    # The 220 Hz fundamental survives resampling and downmixing.
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.fft.rfftfreq(len(audio.samples), 1 / 16000)[spectrum.argmax()] == pytest.approx(220, abs=5)


def test_audio_track_of_a_video(tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = container.add_stream("aac", rate=44100, layout="mono")
        for i in range(25):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        samples = tone(1.0, 44100)
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, start
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    assert load_audio(path).duration == pytest.approx(1.0, abs=0.08)


def test_clipping_is_reported(tmp_path, caplog):
    loud = np.clip(tone(1.0, 16000, level=3.0), -1, 1)
    audio = load_audio(write_audio(tmp_path / "hot.wav", loud, 16000))
    assert audio.clipped_fraction > 0.01
    assert "clipped" in caplog.text


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("empty.wav", b"", "is empty"),
        ("notes.wav", b"just some text, not audio\n" * 40, "not an audio file"),
        ("fake.mp3", bytes(range(256)) * 20, "not an audio file"),
    ],
)
def test_bad_files_raise_one_line(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as error:
        load_audio(path)
    message = str(error.value)
    assert name in message and problem in message and "\n" not in message


def test_missing_and_zero_length_and_too_long(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        load_audio(tmp_path / "nope.wav")
    zero = tmp_path / "zero.wav"
    with wave.open(str(zero), "wb") as header_only:  # a valid WAV header with no samples
        header_only.setnchannels(1)
        header_only.setsampwidth(2)
        header_only.setframerate(16000)
    with pytest.raises(InputFileError, match="no audio samples"):
        load_audio(zero)
    long = write_audio(tmp_path / "long.wav", tone(3.0, 16000), 16000)
    with pytest.raises(InputFileError, match="longer than the"):
        load_audio(long, max_duration=2.0)


def test_truncated_file_keeps_what_decodes(tmp_path):
    path = write_audio(tmp_path / "cut.flac", tone(2.0, 16000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    audio = load_audio(path)
    assert 0.3 < audio.duration < 1.9


def test_speech_segments_find_the_speech_and_not_the_silence():
    rate = 16000
    speech = tone(0.8, rate)[0]
    samples = np.concatenate([np.zeros(rate // 2), speech, np.zeros(rate), speech, np.zeros(rate // 2)])
    noise = np.random.default_rng(0).normal(0, 1e-4, len(samples))
    segments = speech_segments(Audio((samples + noise).astype(np.float32)))
    assert len(segments) == 2
    assert segments[0][0] == pytest.approx(0.5, abs=0.08) and segments[0][1] == pytest.approx(1.3, abs=0.08)
    assert segments[1][0] == pytest.approx(2.3, abs=0.08)
    assert speech_segments(Audio(np.zeros(rate, np.float32))) == []


def test_a_short_sentence_in_a_long_recording_is_found():
    rate = 16000
    samples = np.zeros(90 * rate, np.float32)
    samples[40 * rate : 43 * rate] = tone(3.0, rate)[0]
    segments = speech_segments(Audio(samples))
    assert len(segments) == 1 and segments[0][0] == pytest.approx(40, abs=0.1)
