"""Text to speech: eSpeak NG (pip-only, via espeakng-loader) and flite, with exact ARPAbet phone timings."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from recognition import tts
from recognition.phonemes.timeline import PHONE_SET, SILENCE, Phone, PhoneTimeline
from rigs.errors import AffectStudioError

REPO = Path(__file__).resolve().parents[1]
HAS_FLITE = shutil.which("flite") is not None
needs_flite = pytest.mark.skipif(not HAS_FLITE, reason="flite is not installed (apt-get install flite)")

ESPEAK_VOICES = ["espeak:en-us", "espeak:en-gb", "espeak:en-us+f3"]
FLITE_VOICES = [pytest.param(v, marks=needs_flite) for v in ("flite:kal16", "flite:slt", "flite:awb")]
SENTENCE = "Hello world, this is a simple test of the speech synthesizer."


@cache
def speak(text: str, voice: str, rate: float = 1.0, pitch: float | None = None, volume: float = 1.0) -> tts.Speech:
    return tts.synthesize(text, voice, rate=rate, pitch=pitch, volume=volume)


def rms(speech: tts.Speech) -> float:
    return float(np.sqrt(np.mean(speech.audio.samples.astype(np.float64) ** 2)))


def median_f0(speech: tts.Speech) -> float:
    import librosa

    y, sr = speech.audio.samples, speech.audio.sample_rate
    f0 = librosa.yin(y, fmin=50, fmax=600, sr=sr, frame_length=1024, hop_length=256)
    level = librosa.feature.rms(y=y, frame_length=1024, hop_length=256)[0]
    n = min(len(f0), len(level))
    return float(np.median(f0[:n][level[:n] > 0.3 * level.max()]))


def assert_valid_timeline(speech: tts.Speech, engine: str) -> None:
    audio, timeline = speech.audio, speech.phones
    assert audio.sample_rate == 16_000 and audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert rms(speech) > 0.01 and audio.peak <= 1.0
    assert timeline.method == f"tts:{engine}"
    phones = timeline.phones
    assert phones and all(p.label in PHONE_SET for p in phones)
    assert phones[0].start == 0.0
    for a, b in zip(phones, phones[1:], strict=False):
        assert a.end == pytest.approx(b.start, abs=1e-9)  # contiguous, non-overlapping
    assert all(p.end > p.start for p in phones)
    assert timeline.duration == pytest.approx(audio.duration, rel=0.02, abs=0.01)
    words = timeline.words
    assert all(w.end > w.start for w in words)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:], strict=False))


def contains_in_order(labels: list[str], expected: list[set[str]]) -> bool:
    it = iter(labels)
    return all(any(label in options for label in it) for options in expected)


HELLO_WORLD = [{"hh"}, {"ah", "eh", "ih"}, {"l"}, {"ow"}, {"w"}, {"er"}, {"l"}, {"d"}]


@pytest.mark.parametrize("voice", ESPEAK_VOICES + FLITE_VOICES)
def test_hello_world_has_the_expected_phones_and_words(voice):
    speech = speak("Hello world.", voice)
    assert_valid_timeline(speech, voice.split(":")[0])
    labels = [p.label for p in speech.phones.speech_phones]
    assert contains_in_order(labels, HELLO_WORLD), labels
    assert labels[0] == "hh" and labels[-1] == "d"
    assert [w.text for w in speech.phones.words] == ["Hello", "world"]
    hello, world = speech.phones.words
    assert speech.phones.at((hello.start + hello.end) / 2).label in {"hh", "ah", "eh", "l", "ow"}
    assert speech.phones.at(world.end - 1e-4).label == "d"


@pytest.mark.parametrize("voice", ["espeak:en-us"] + [pytest.param("flite:kal16", marks=needs_flite)])
def test_phone_times_match_the_waveform(voice):
    """Pauses the engine reports are quiet in the audio, and speech is where it says."""
    speech = speak(SENTENCE, voice)
    samples, sr = speech.audio.samples, speech.audio.sample_rate
    level = lambda p: float(np.sqrt(np.mean(samples[int(p.start * sr) : int(p.end * sr)] ** 2)))  # noqa: E731
    pauses = [p for p in speech.phones.phones if p.label == SILENCE and p.duration > 0.1]
    vowels = [p for p in speech.phones.phones if p.label in {"aa", "ae", "ah", "eh", "ih", "iy", "ow", "er"}]
    assert pauses and vowels
    assert max(level(p) for p in pauses) < 0.1 * np.median([level(v) for v in vowels])


@pytest.mark.parametrize("voice", ["espeak:en-us"] + [pytest.param("flite:slt", marks=needs_flite)])
def test_faster_is_shorter_and_times_stay_exact(voice):
    normal, fast = speak(SENTENCE, voice), speak(SENTENCE, voice, rate=1.6)
    assert fast.audio.duration < 0.75 * normal.audio.duration
    assert_valid_timeline(fast, voice.split(":")[0])
    assert [p.label for p in fast.phones.speech_phones] == [p.label for p in normal.phones.speech_phones]


@pytest.mark.parametrize(
    "voice, pitch",
    [("espeak:en-us", 1.4), ("espeak:en-us", 1.9)]  # 1.9 is past eSpeak NG's range: the rest is post-shifted
    + [pytest.param("flite:slt", 1.4, marks=needs_flite), pytest.param("flite:rms", 1.4, marks=needs_flite)],
)
def test_higher_pitch_raises_median_f0(voice, pitch):
    normal, high = speak(SENTENCE, voice), speak(SENTENCE, voice, pitch=pitch)
    ratio = median_f0(high) / median_f0(normal)
    assert ratio == pytest.approx(pitch, rel=0.2)
    assert_valid_timeline(high, voice.split(":")[0])


@pytest.mark.parametrize("voice", ["espeak:en-us"] + [pytest.param("flite:kal16", marks=needs_flite)])
def test_louder_has_higher_rms(voice):
    quiet, normal, loud = (speak(SENTENCE, voice, volume=v) for v in (0.5, 1.0, 1.5))
    assert rms(quiet) < 0.7 * rms(normal) and rms(loud) > 1.3 * rms(normal)


@pytest.mark.parametrize("voice", ["espeak:en-us"] + [pytest.param("flite:kal16", marks=needs_flite)])
def test_long_text_is_joined_sentence_by_sentence(voice):
    text = "The first sentence is here. Then a second one follows!\n\nAnd a third, after a blank line?"
    speech = speak(text, voice)
    assert_valid_timeline(speech, voice.split(":")[0])
    assert len(tts.split_sentences(text)) == 3
    words = [w.text for w in speech.phones.words]
    assert words == ["The", "first", "sentence", "is", "here", "Then", "a", "second", "one", "follows", "And", "a",
                     "third", "after", "a", "blank", "line"]  # fmt: skip
    # each sentence starts after the previous one's pause
    gaps = [p for p in speech.phones.phones if p.label == SILENCE and p.duration > 0.15]
    assert len(gaps) >= 3


def test_split_sentences_bounds_chunk_length():
    long = " ".join(["word"] * 200) + ". Short one. !!! ..."
    chunks = tts.split_sentences(long, max_chars=100)
    assert all(len(c) <= 100 for c in chunks)
    assert chunks[-1] == "Short one."
    assert " ".join(chunks[:-1]).split() == (long.split(".")[0] + ".").split()


def test_split_sentences_keeps_abbreviations_and_initials():
    text = 'Dr. Smith met J. R. Tolkien at 5 p.m. today. He said "Hi." Then left!\n\nNew paragraph'
    assert tts.split_sentences(text) == [
        "Dr. Smith met J. R. Tolkien at 5 p.m. today.",
        'He said "Hi."',
        "Then left!",
        "New paragraph",
    ]


def test_words_keep_the_written_text():
    speech = speak("Café au lait, $25, didn’t 3.5 times.", "espeak:en-us")
    assert [w.text for w in speech.phones.words] == ["Café", "au", "lait", "$25", "didn’t", "3.5", "times"]


@needs_flite
def test_flite_words_align_to_its_phones():
    speech = speak("Café au lait, $25, didn’t 3.5 times.", "flite:kal16")
    assert [w.text for w in speech.phones.words] == ["Café", "au", "lait", "$25", "didn’t", "3.5", "times"]
    dollars = speech.phones.words[3]
    inside = [p.label for p in speech.phones.speech_phones if dollars.start <= p.start < dollars.end]
    assert inside[:3] == ["t", "w", "eh"] and inside[-1] == "z"  # "twenty five dollars"


@pytest.mark.parametrize(
    "ipa, phones",
    [
        ("ˈaɪɚ", ("ay", "er")), ("ˈɑːɹ", ("aa", "r")), ("n̩", ("ah", "n")), ("əl", ("ah", "l")),
        ("ɾ", ("t",)), ("ʔ", ("t",)), ("tʃ", ("ch",)), ("dʒ", ("jh",)), ("ˈoʊ", ("ow",)), ("əʊ", ("ow",)),
        ("ˌeɪ", ("ey",)), ("ɪə", ("ih", "ah")), ("ᵻ", ("ih",)), ("ɐ", ("ah",)), ("ˈa", ("ae",)), ("a", ("ah",)),
        ("ŋ", ("ng",)), ("θ", ("th",)), ("ð", ("dh",)), ("ʒ", ("zh",)), ("j", ("y",)), ("ɑ̃", ("aa",)), ("x", ("k",)),
    ],
)  # fmt: skip
def test_ipa_to_arpabet(ipa, phones):
    assert tts.ipa_to_arpabet(ipa) == (phones, [])


def test_every_phoneme_english_voices_emit_maps_to_arpabet(caplog):
    text = (
        "The rhythm of nurses, cures, fires and hours: little buttons, better ladders, garden fjords, Bach's "
        "loch, beige genres, which thoughts, north force, square pure choice, croissant restaurant, naïve café."
    )
    with caplog.at_level(logging.WARNING, logger="recognition.tts"):
        for name in tts.ESPEAK_VOICES:
            speech = speak(text, f"espeak:{name}")
            assert all(p.label in PHONE_SET for p in speech.phones.phones)
    assert "no ARPAbet" not in caplog.text


def test_unknown_phoneme_warns_and_merges_into_its_neighbour(caplog):
    capture = tts._EspeakCapture(phonemes=[(0, "h"), (100, "ǂ"), (200, "ˈɑː"), (300, "")], words=[(0, 1, 2)])
    with caplog.at_level(logging.WARNING, logger="recognition.tts"):
        phones, words = tts._espeak_timeline("ha", capture, 400, 1000)
    assert [(p.label, p.start, p.end) for p in phones] == [("hh", 0.0, 0.2), ("aa", 0.2, 0.3), ("sil", 0.3, 0.4)]
    assert "ǂ" in caplog.text
    assert [(w.text, w.start, w.end) for w in words] == [("ha", 0.0, 0.3)]


@pytest.mark.parametrize(
    "voice, text, message",
    [
        ("espeak:xx-yy", "hello", "unknown voice 'espeak:xx-yy': choose one of espeak:en-us"),
        ("festival:kal", "hello", "flite:slt"),
        ("flite:nobody", "hello", "unknown voice"),
        ("espeak:en-us+nosuchvariant", "hello", "unknown eSpeak NG variant"),
        ("espeak:en-us", "", "no speakable words"),
        ("espeak:en-us", "!!! ... ?", "no speakable words"),
        ("espeak:en-us", "   \n\t ", "no speakable words"),
    ],
)
def test_errors_are_one_line(voice, text, message):
    with pytest.raises(AffectStudioError) as info:
        tts.synthesize(text, voice)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("setting", [{"rate": 0.0}, {"rate": 10.0}, {"volume": -1.0}, {"pitch": 5.0}])
def test_settings_out_of_range_are_refused(setting):
    with pytest.raises(AffectStudioError, match="must be between"):
        tts.synthesize("hello", **setting)


def test_missing_flite_is_a_clear_error(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(tts.shutil, "which", lambda name: None if name == "flite" else real_which(name))
    with pytest.raises(AffectStudioError, match=r"^flite is not installed: apt-get install flite, or use an espeak"):
        tts.synthesize("hello", "flite:slt")


def test_list_voices():
    voices = {v.name: v for v in tts.list_voices()}
    assert len(voices) == len(tts.list_voices())
    assert voices[tts.DEFAULT_VOICE].available and voices["espeak:en-gb"].engine == "espeak"
    assert voices["espeak:en-us+f3"].gender == "female"
    assert {"flite:kal", "flite:kal16", "flite:slt", "flite:awb", "flite:rms"} <= set(voices)
    assert voices["flite:slt"].available == HAS_FLITE and voices["flite:slt"].gender == "female"
    for name, voice in voices.items():
        if voice.available and name.startswith("espeak:en-gb+"):
            tts.synthesize("ok", name)  # every listed eSpeak NG voice loads


def test_save_wav_round_trips(tmp_path):
    import soundfile

    speech = speak("Hello world.", "espeak:en-us")
    path = speech.save_wav(tmp_path / "out" / "hello.wav")
    samples, sr = soundfile.read(path, dtype="float32")
    assert sr == 16_000 and len(samples) == len(speech.audio.samples)
    assert np.max(np.abs(samples - speech.audio.samples)) < 1e-3
    timeline = PhoneTimeline.load(speech.phones.save(tmp_path / "hello.json"))
    assert timeline.phones[1] == Phone("hh", speech.phones.phones[1].start, speech.phones.phones[1].end)


PROBE = textwrap.dedent(
    """
    import os, sys
    from recognition import tts
    speech = tts.synthesize("hello world", "espeak:en-us")
    assert speech.phones.speech_phones, "no phones"
    maps = open("/proc/self/maps").read()
    loaded = sorted({line.split()[-1] for line in maps.splitlines() if "libespeak-ng" in line})
    print("\\n".join(loaded))
    print("LIBRARY", tts._Espeak.get().library_path)
    """
)


def _run_probe(command_prefix: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "ESPEAK_DATA_PATH")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([*command_prefix, sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                            cwd=REPO, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_espeak_uses_the_wheels_library_not_the_systems():
    import espeakng_loader

    loader_dir = str(Path(espeakng_loader.__file__).resolve().parent)
    out = _run_probe([])
    loaded = [line for line in out.splitlines() if "libespeak-ng" in line and not line.startswith("LIBRARY")]
    assert loaded and all(path.startswith(loader_dir) for path in loaded), out
    assert tts.espeak_paths()[1].startswith(loader_dir)  # and its own espeak-ng-data


def test_espeak_works_with_the_system_espeak_hidden(tmp_path):
    """Bind empty files over the system's libespeak-ng and espeak-ng-data in a private mount namespace."""
    system = [p for p in Path("/usr/lib/x86_64-linux-gnu").glob("libespeak-ng*")]
    data = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
    if not system or os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root, unshare and a system libespeak-ng to hide")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    (tmp_path / "nodata").mkdir()
    binds = [f"mount --bind {empty} {p}" for p in system if not p.is_symlink()]
    if data.is_dir():
        binds.append(f"mount --bind {tmp_path / 'nodata'} {data}")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no permission for a private mount namespace here")
    hidden = [f"test ! -s {p}" for p in system]  # the system's library now reads as empty
    script = " && ".join([*binds, *hidden, 'exec "$@"'])
    out = _run_probe(["unshare", "-m", "sh", "-c", script, "sh"])
    assert "/usr/lib" not in out.split("LIBRARY")[0]
