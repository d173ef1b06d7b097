"""`affect-studio analyze SPEECH`: phones, words, emotion track, plot; and one-line errors."""

import json
import wave

import numpy as np
import pytest

from recognition.tts import synthesize
from tests.test_cli_analyze import assert_one_line_error, run_cli

LINE = "We finally won the championship! This is the best day of my life."


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("speech") / "win.wav"
    synthesize(LINE, "espeak:en-us").save_wav(path)
    return path


def test_speech_with_transcript_gives_aligned_phones_words_and_emotion(speech_wav, tmp_path, capsys):
    out = tmp_path / "speech.json"
    assert run_cli(["analyze", speech_wav, "--text", LINE, "--json", out]) == 0
    data = json.loads(out.read_text())
    assert data["phones"]["method"] == "aligned"
    words = [w["text"].lower() for w in data["phones"]["words"]]
    assert words[:4] == ["we", "finally", "won", "the"]
    frames = len(data["emotion_track"]["embedding"])
    assert frames == pytest.approx(data["duration"] * 30, abs=1)
    assert data["emotion_track"]["dominant"].count("happy") > frames / 2
    assert "not a trained classifier" in data["notes"]
    assert (tmp_path / "speech_emotion.png").stat().st_size > 20_000
    assert "happy" in capsys.readouterr().out


def test_speech_without_transcript_uses_allphone(speech_wav, tmp_path, capsys):
    out = tmp_path / "speech.json"
    assert run_cli(["analyze", speech_wav, "--json", out]) == 0
    phones = json.loads(out.read_text())["phones"]
    assert phones["method"].startswith("allphone") and len(phones["phones"]) > 30


def test_silence_is_a_one_line_error(tmp_path, capsys):
    silent = tmp_path / "silence.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(32000, np.int16).tobytes())
    code = run_cli(["analyze", silent])
    assert_one_line_error(capsys, code, "silence.wav", "no speech found")


def test_transcript_options_are_checked(speech_wav, tmp_path, capsys):
    code = run_cli(["analyze", speech_wav, "--transcript", tmp_path / "missing.txt"])
    assert_one_line_error(capsys, code, "missing.txt", "file not found")
    transcript = tmp_path / "t.txt"
    transcript.write_text(LINE)
    code = run_cli(["analyze", speech_wav, "--transcript", transcript, "--text", LINE])
    assert_one_line_error(capsys, code, "either --transcript or --text")
    code = run_cli(["analyze", speech_wav, "--annotate", tmp_path / "x.png"])
    assert_one_line_error(capsys, code, "x.png", "--plot")


def test_corrupt_speech_file(tmp_path, capsys):
    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3" + bytes(500))
    code = run_cli(["analyze", bad])
    assert_one_line_error(capsys, code, "broken.mp3")
