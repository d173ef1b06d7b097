"""Phone timings from speech: allphone recognition, forced alignment, chunking of long audio.

Labelled speech comes from flite (`-psdur` prints each phone's end time); tests that need it are skipped
when the `flite` program is missing. Bounds are a little above what was measured here (in comments).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from recognition.audio import Audio, load_audio
from recognition.phonemes import (
    PhoneConfig,
    PhoneTimeline,
    align_phones,
    letter_to_sound,
    phone_timeline,
    plan_chunks,
    recognize_phones,
    transcript_words,
)
from recognition.phonemes.allphone import decode_utterance, decoded_spans
from recognition.phonemes.chunking import speech_spans
from recognition.phonemes.compare import edit_alignment
from recognition.phonemes.pauses import kept_spans, squeeze, unsqueeze
from recognition.phonemes.phone_lm import BILABIAL_UNITS, boosted_arpa, phone_lm_file
from recognition.phonemes.timeline import PHONE_SET, SILENCE, Phone
from rigs.assets import REPO_ROOT as REPO
from rigs.assets import model_path

SENTENCES = [
    ("kal16", "The quick brown fox jumps over the lazy dog."),
    ("awb", "Please call Stella and ask her to bring these things with her from the store."),
    ("slt", "Why are you so angry with me this morning?"),
    ("rms", "Thick fog rolled over the northern hills at dawn."),
    ("awb", "Kathryn visited Quetzaltenango during her sabbatical."),  # a word missing from CMUdict
]
FLITE_LABELS = {"pau": SILENCE, "ax": "ah"}

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="the flite program is not installed")


def flite_phones(text: str) -> list[Phone]:
    phones: list[Phone] = []
    start = 0.0
    for token in text.split():
        label, _, end = token.rpartition(":")
        label = FLITE_LABELS.get(label, label)
        if phones and label == SILENCE and phones[-1].label == SILENCE:
            phones[-1].end = float(end)
        else:
            phones.append(Phone(label, start, float(end)))
        start = float(end)
    return phones


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> list[tuple[str, Audio, list[Phone]]]:
    """(text, 16 kHz audio, true phones) for each sentence, spoken by flite."""
    if shutil.which("flite") is None:
        pytest.skip("the flite program is not installed")
    folder = tmp_path_factory.mktemp("flite")
    out = []
    for i, (voice, text) in enumerate(SENTENCES):
        wav = folder / f"{i}.wav"
        labels = subprocess.run(
            ["flite", "-voice", voice, "-t", text, "-o", str(wav), "-psdur"], capture_output=True, text=True, check=True
        ).stdout
        audio = load_audio(wav)
        out.append((text, audio, [p for p in flite_phones(labels) if p.start < audio.duration]))
    return out


def boundary_errors(truth: list[Phone], predicted: list[Phone]) -> list[float]:
    """|error| (s) of every boundary between two consecutive true phones both matched by label to two
    consecutive predicted phones (sequences aligned by edit distance) — as in bench/phonemes.py."""
    _, pairs = edit_alignment([p.label for p in truth], [p.label for p in predicted])
    errors = []
    for (i, j), (i2, j2) in pairwise(pairs):
        if (
            None not in (i, j, i2, j2)
            and truth[i].label == predicted[j].label
            and truth[i2].label == predicted[j2].label
        ):
            errors.append(abs(predicted[j].end - truth[i].end))
    return errors


def phone_error_rate(truth: list[Phone], predicted: list[Phone]) -> float:
    a = [p.label for p in truth if p.label != SILENCE]
    return edit_alignment(a, [p.label for p in predicted if p.label != SILENCE])[0] / len(a)


def check_contiguous(timeline: PhoneTimeline, duration: float) -> None:
    assert timeline.phones[0].start == 0.0
    assert timeline.phones[-1].end == pytest.approx(duration, abs=1e-3)
    for a, b in pairwise(timeline.phones):
        assert a.end == pytest.approx(b.start, abs=1e-6) and a.end > a.start
        assert not (a.label == SILENCE and b.label == SILENCE)
    assert all(p.label in PHONE_SET and 0.0 <= p.confidence <= 1.0 for p in timeline.phones)


@needs_flite
def test_allphone_boundaries_and_phone_error_rate(speech):
    errors, rates = [], []
    for _, audio, truth in speech:
        timeline = recognize_phones(audio)
        assert timeline.method == "allphone" and not timeline.words
        check_contiguous(timeline, audio.duration)
        errors += boundary_errors(truth, timeline.phones)
        rates.append(phone_error_rate(truth, timeline.phones))
    # measured: 10.0 ms over 87 scored boundaries, PER 0.36 (bench, 36 sentences x 5 voices: 10.1 ms, 0.36)
    assert 1000 * np.mean(errors) < 16
    assert np.mean(rates) < 0.45
    assert len(errors) > 60


def test_bundled_bigram_phone_lm_is_the_wheels_lm_without_trigrams(tmp_path):
    import sys

    sys.path.insert(0, str(REPO / "scripts"))
    import convert_phone_lm

    rebuilt = convert_phone_lm.convert(tmp_path)
    assert rebuilt.read_bytes() == model_path(convert_phone_lm.BIGRAM_LM).read_bytes()
    text = rebuilt.read_text()
    assert "ngram 1=43\nngram 2=1509\n\n" in text and "3-grams" not in text
    assert "\n-1.0605\tM\tP\n" in text  # log10 P(P | M), as the trigram model has it, without its back-off


def test_bilabial_boost_raises_only_the_ngrams_ending_in_p_b_m():
    arpa = (
        "\\data\\\nngram 1=3\nngram 2=2\n\n\\1-grams:\n-1.5000\tAA\t-0.2000\n-2.0000\tM\t-0.3000\n"
        "-1.2500\tN\t-0.1000\n\n\\2-grams:\n-0.5000\tAA M\n-0.7000\tM AA\n\n\\end\\\n"
    )
    boosted = boosted_arpa(arpa, BILABIAL_UNITS, 0.85)
    assert "\n-1.1500\tM\t-0.3000\n" in boosted  # P(M) raised, its back-off weight kept
    assert "\n0.3500\tAA M\n" in boosted  # P(M | AA) raised
    assert "\n-1.5000\tAA\t-0.2000\n" in boosted and "\n-1.2500\tN\t-0.1000\n" in boosted
    assert "\n-0.7000\tM AA\n" in boosted  # ends in AA: unchanged
    assert boosted.count("\n") == arpa.count("\n")


def test_boosted_phone_lms_are_cached_files_the_decoder_reads(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert phone_lm_file("bigram", 0.0) == str(model_path("en-us-phone-bigram.lm"))
    for name in ("bigram", "trigram"):
        path = Path(phone_lm_file(name, 0.85))
        assert path.parent == tmp_path / "affect-studio" and path.exists()
        written = path.stat().st_mtime_ns
        assert phone_lm_file(name, 0.85) == str(path) and path.stat().st_mtime_ns == written  # reused
    assert not list((tmp_path / "affect-studio").glob(".*.tmp"))
    bigram = Path(phone_lm_file("bigram", 0.85)).read_text()
    assert "\n-0.2105\tM\tP\n" in bigram  # the wheel's log10 P(P | M), -1.0605, plus 0.85
    audio = Audio(np.zeros(16000, np.float32))
    recognize_phones(audio, PhoneConfig(bilabial_boost=0.85, phone_lm="trigram"))  # PocketSphinx loads it
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setattr("tempfile.tempdir", str(blocked))  # nowhere to write: decode without the boost
    assert phone_lm_file("bigram", 0.5) == str(model_path("en-us-phone-bigram.lm"))


@needs_flite
def test_bilabial_boost_makes_the_recogniser_hear_more_bilabials(speech):
    def bilabials(boost: float) -> int:
        config = PhoneConfig(bilabial_boost=boost)
        return sum(p.label in "pbm" for _, audio, _ in speech for p in recognize_phones(audio, config).phones)

    true_count = sum(p.label in "pbm" for _, _, truth in speech for p in truth)
    unbiased, boosted = bilabials(0.0), bilabials(0.85)
    assert boosted > unbiased and boosted <= 2 * true_count


@needs_flite
def test_bigram_and_trigram_phone_lms_recognise_alike(speech):
    rates = {}
    for lm in ("bigram", "trigram"):
        config = PhoneConfig(phone_lm=lm)
        rates[lm] = np.mean(
            [phone_error_rate(truth, recognize_phones(audio, config).phones) for _, audio, truth in speech]
        )
    # measured: 0.36 and 0.35
    assert abs(rates["bigram"] - rates["trigram"]) < 0.05
    with pytest.raises(ValueError, match="phone_lm must be one of bigram, trigram"):
        recognize_phones(speech[0][1], PhoneConfig(phone_lm="4-gram"))


@needs_flite
def test_aligned_boundaries_and_words(speech):
    errors, rates = [], []
    for text, audio, truth in speech:
        timeline = align_phones(audio, text)
        assert timeline.method == "aligned"
        check_contiguous(timeline, audio.duration)
        assert [w.text for w in timeline.words] == transcript_words(text)
        for word in timeline.words:  # every word holds phones, in order, inside the audio
            assert 0 <= word.start < word.end <= audio.duration
            assert any(p.start >= word.start - 1e-6 and p.end <= word.end + 1e-6 for p in timeline.speech_phones)
        errors += boundary_errors(truth, timeline.phones)
        rates.append(phone_error_rate(truth, timeline.phones))
    assert np.mean(rates) < 0.1  # CMUdict and our letter-to-sound vs flite's lexicon; measured 0.05
    # measured: 11.2 ms over 161 scored boundaries (bench, 36 sentences x 5 voices: 11.5 ms)
    assert 1000 * np.mean(errors) < 16
    assert len(errors) > 120


@needs_flite
def test_unknown_words_get_a_pronunciation(speech):
    text, audio, truth = speech[4]
    timeline = align_phones(audio, text)
    assert timeline.method == "aligned"
    word = timeline.words[2]
    assert word.text == "quetzaltenango"
    # flite reads it "k ey t z aa l t eh n ae ng g ow": phones 14 to 26 of its output
    assert truth[14].label == "k" and truth[26].label == "ow"
    true_span = (truth[14].start, truth[26].end)
    assert abs(word.start - true_span[0]) < 0.03 and abs(word.end - true_span[1]) < 0.03


def test_letter_to_sound_and_transcript_words():
    assert letter_to_sound("knight") == ["N", "AY", "T"]
    assert letter_to_sound("cake") == ["K", "EY", "K"]
    assert letter_to_sound("zhejiang")[0] == "ZH"
    assert transcript_words("In 1999, Bob's well-known café paid $2,500 & 3.5%!") == [
        "in", "nineteen", "ninety", "nine", "bob's", "well", "known", "cafe", "paid", "two", "thousand",
        "five", "hundred", "and", "three", "point", "five", "percent",
    ]  # fmt: skip


def test_chunk_plan_cuts_in_the_longest_pauses():
    duration = 100.0
    audio = Audio(np.zeros(int(duration * 16000), np.float32))
    # speech in 4 s runs with 0.3 s pauses, and a long pause at 22-23.5 s and at 70-72 s
    speech, t = [], 0.0
    while t < duration - 4:
        end = min(t + 4.0, duration)
        speech.append((t, end))
        t = end + (1.5 if abs(end - 22) < 2 else 2.0 if abs(end - 70) < 2 else 0.3)
    chunks = plan_chunks(audio, speech, PhoneConfig(chunk_s=25.0, max_chunk_s=40.0))
    assert chunks[0][0] == 0.0 and chunks[-1][1] == duration
    assert all(a[1] == b[0] for a, b in pairwise(chunks))
    assert all(end - start <= 40.0 for start, end in chunks)
    cuts = [end for _, end in chunks[:-1]]
    for cut in cuts:  # every cut is inside a pause
        assert not any(a < cut < b for a, b in speech)
    long_pauses = [(a_end + b_start) / 2 for (_, a_end), (b_start, _) in pairwise(speech) if b_start - a_end > 1]
    assert any(abs(cut - long_pauses[0]) < 1e-6 for cut in cuts)
    # for two workers: an even number of chunks of near-equal length (the longest sets the wall-clock time)
    lengths = [end - start for start, end in plan_chunks(audio, speech, PhoneConfig(chunk_s=25.0), workers=2)]
    assert len(lengths) == 4 and max(lengths) / min(lengths) < 1.25, lengths
    assert plan_chunks(Audio(np.zeros(16000 * 30, np.float32)), [(1.0, 29.0)]) == [(0.0, 30.0)]


@pytest.fixture(scope="module")
def long_speech(tmp_path_factory) -> tuple[Audio, str, list[tuple[float, Audio, list[Phone]]]]:
    """~55 s of one speaker (awb): the sentences three times over with 0.4-0.7 s pauses, as (audio,
    transcript, [(offset s, the sentence's own audio, its true phones)])."""
    if shutil.which("flite") is None:
        pytest.skip("the flite program is not installed")
    folder = tmp_path_factory.mktemp("flite_awb")
    sentences = []
    for i, (_, text) in enumerate(SENTENCES):
        wav = folder / f"{i}.wav"
        labels = subprocess.run(
            ["flite", "-voice", "awb", "-t", text, "-o", str(wav), "-psdur"], capture_output=True, text=True, check=True
        ).stdout
        audio = load_audio(wav)
        sentences.append((text, audio, [p for p in flite_phones(labels) if p.start < audio.duration]))
    parts, texts, placed, t = [], [], [], 0.0
    rng = np.random.default_rng(1)
    for _ in range(3):
        for text, audio, truth in sentences:
            placed.append((t, audio, truth))
            pause = np.zeros(int(rng.uniform(0.4, 0.7) * 16000), np.float32)
            parts += [audio.samples, pause]
            texts.append(text)
            t += (len(audio.samples) + len(pause)) / 16000
    return Audio(np.concatenate(parts), source="long"), " ".join(texts), placed


def window(timeline: PhoneTimeline, start: float, end: float) -> list[Phone]:
    return [
        Phone(p.label, max(p.start, start) - start, min(p.end, end) - start)
        for p in timeline.phones
        if p.end > start and p.start < end
    ]


CHUNKS = PhoneConfig(chunk_s=20.0, max_chunk_s=30.0)  # 3 chunks of the ~55 s


def test_chunked_allphone_matches_per_sentence_decoding(long_speech):
    audio, _, placed = long_speech
    timeline = phone_timeline(audio, None, CHUNKS)
    assert timeline.method == "allphone"
    check_contiguous(timeline, audio.duration)
    singles = {id(sentence): recognize_phones(sentence).phones for _, sentence, _ in placed}
    to_single, to_truth, single_to_truth, shifts = [], [], [], []
    for offset, sentence, truth in placed:
        single = singles[id(sentence)]
        chunked = window(timeline, offset, offset + sentence.duration)
        # the same phones as decoding the sentence alone (a few differ: a chunk's cepstral mean and
        # phone-LM history come from more audio) ...
        to_single.append(phone_error_rate(single, chunked))
        # ... at the same times once shifted by the sentence's offset
        shifts += boundary_errors(single, chunked)
        to_truth.append(phone_error_rate(truth, chunked))
        single_to_truth.append(phone_error_rate(truth, single))
    # measured: PER to the single decodings 0.08 (max 0.15), their boundaries 3 ms apart, PER to
    # the truth 0.30 chunked vs 0.33 alone
    assert np.mean(to_single) < 0.15 and max(to_single) < 0.25
    assert 1000 * np.mean(shifts) < 8
    assert np.mean(to_truth) < np.mean(single_to_truth) + 0.04


@pytest.mark.parametrize("parallel", ["process", "thread"])
def test_chunked_alignment_shares_the_transcript_correctly(long_speech, parallel):
    """Word counts reach the process sharing out the transcript from worker processes and from threads
    (a thread's first report once went to a queue of its own: words went missing after a long wait)."""
    audio, transcript, placed = long_speech
    config = PhoneConfig(chunk_s=CHUNKS.chunk_s, max_chunk_s=CHUNKS.max_chunk_s, parallel=parallel)
    timeline = phone_timeline(audio, transcript, config)
    assert timeline.method == "aligned"
    check_contiguous(timeline, audio.duration)
    assert [w.text for w in timeline.words] == transcript_words(transcript)
    position, errors = 0, []
    for (offset, sentence, truth), text in zip(placed, [t for _ in range(3) for _, t in SENTENCES], strict=True):
        words = timeline.words[position : position + len(transcript_words(text))]
        position += len(words)
        assert offset - 0.05 < words[0].start and words[-1].end < offset + sentence.duration + 0.05
        errors += boundary_errors(truth, window(timeline, offset, offset + sentence.duration))
    assert 1000 * np.mean(errors) < 16  # measured 9.8 ms


def test_chunked_alignment_decodes_each_chunk_twice(long_speech, monkeypatch):
    """Sharing out the transcript costs no extra pass: each chunk's word count (pass 1) is the hypothesis
    its phones are aligned on (pass 2). It used to count in a pass of its own, then align in two more."""
    import recognition.phonemes.align as align

    audio, transcript, _ = long_speech
    decodes = []
    monkeypatch.setattr(align, "decode_utterance", lambda *args: decodes.append(1) or decode_utterance(*args))
    config = PhoneConfig(chunk_s=CHUNKS.chunk_s, max_chunk_s=CHUNKS.max_chunk_s, parallel="serial")
    timeline = phone_timeline(audio, transcript, config)
    chunks = plan_chunks(audio, speech_spans(audio, config), config)
    assert len(chunks) == 3 and len(decodes) == 2 * len(chunks)  # 8 before
    assert [w.text for w in timeline.words] == transcript_words(transcript)


def test_a_killed_worker_fails_the_alignment_at_once(long_speech):
    """The transcript is shared out as workers report their counts; a worker that dies must end the
    wait for its count (BrokenProcessPool), not leave it to the minutes-long timeout."""
    import multiprocessing
    import os
    import signal
    import threading
    import time
    from concurrent.futures.process import BrokenProcessPool

    from recognition.phonemes.chunking import warm_up

    audio, transcript, _ = long_speech
    config = PhoneConfig(chunk_s=CHUNKS.chunk_s, max_chunk_s=CHUNKS.max_chunk_s, workers=2, parallel="process")
    warm_up(config)
    workers = multiprocessing.active_children()
    threading.Timer(0.3, lambda: os.kill(workers[0].pid, signal.SIGKILL)).start()
    start = time.perf_counter()
    with pytest.raises(BrokenProcessPool):
        phone_timeline(audio, transcript, config)
    assert time.perf_counter() - start < 20  # measured 0.3 s; 203 s when only the timeout ended the wait


@needs_flite
def test_one_sentence_in_long_silence_is_found(speech):
    """The energy VAD sees nothing when speech is under ~5% of its input; decoding must not rely on it."""
    text, sentence, _ = speech[0]
    samples = np.zeros(16000 * 90, np.float32)
    samples[16000 * 40 : 16000 * 40 + len(sentence.samples)] = sentence.samples
    timeline = phone_timeline(Audio(samples), text)
    assert timeline.method == "aligned" and [w.text for w in timeline.words] == transcript_words(text)
    assert 40.0 < timeline.words[0].start < timeline.words[-1].end < 40.0 + sentence.duration
    assert [p.label for p in timeline.phones[:1] + timeline.phones[-1:]] == [SILENCE, SILENCE]


def test_silence_gives_only_silence():
    rng = np.random.default_rng(0)
    for samples in (np.zeros(48000, np.float32), (rng.standard_normal(48000) * 1e-4).astype(np.float32)):
        for transcript in (None, "hello there"):
            timeline = phone_timeline(Audio(samples), transcript)
            assert timeline.method == "allphone"
            assert [p.label for p in timeline.phones] in ([], [SILENCE])
    assert phone_timeline(Audio(np.zeros(0, np.float32))).phones == []


@needs_flite
def test_transcript_without_known_words_falls_back_to_allphone(speech, caplog):
    _, audio, _ = speech[0]
    for transcript in ("Zxqvt brrklm pfftzn gwyrx.", "Съешь же ещё этих мягких булок", "   "):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            timeline = phone_timeline(audio, transcript)
        assert timeline.method == "allphone" and not timeline.words
        assert len(timeline.speech_phones) > 10
        if transcript.strip():
            assert any("allphone" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_pauses_are_squeezed_out_and_phone_times_put_back():
    rate = 100  # samples per second: easy arithmetic
    spans = kept_spans([(1.0, 2.0), (2.05, 3.0), (6.0, 7.5)], duration=9.0, keep_s=0.1)
    assert spans == [(0.9, 3.1), (5.9, 7.6)]
    samples = np.arange(900, dtype=np.float32)
    squeezed = squeeze(samples, spans, rate)
    assert len(squeezed) == 220 + 170 and squeezed[219] == 309 and squeezed[220] == 590
    # phones on the squeezed clock (0-3.9 s): a join at 2.2 s falls inside "sil", another inside a phone
    phones = [Phone(SILENCE, 0.0, 0.1), Phone("ah", 0.1, 2.1), Phone(SILENCE, 2.1, 2.3), Phone("m", 2.3, 3.9)]
    back = unsqueeze(phones, spans, 9.0, rate)
    assert [(p.label, p.start, p.end) for p in back] == [
        (SILENCE, 0.0, 1.0),  # the cut 0-0.9 s joins the silence that follows it
        ("ah", 1.0, 3.0),
        (SILENCE, 3.0, 6.0),  # 3.1-5.9 s was cut: its silence comes back whole
        ("m", 6.0, 7.6),
        (SILENCE, 7.6, 9.0),  # the cut end becomes silence
    ]


@needs_flite
def test_decoding_without_long_pauses_finds_the_same_phones(speech):
    text, audio, truth = speech[1]
    gap = np.zeros(2 * 16000, np.float32)
    padded = Audio(np.concatenate([gap, audio.samples, gap, audio.samples, gap]), source="padded")
    assert decoded_spans(padded, PhoneConfig()) is not None  # the pauses are cut here
    full, trimmed = (recognize_phones(padded, PhoneConfig(pause_keep_s=keep)) for keep in (None, 0.1))
    check_contiguous(trimmed, padded.duration)
    for offset in (2.0, 4.0 + audio.duration):  # each copy of the sentence, scored like the bench
        part = window(trimmed, offset, offset + audio.duration)
        assert (
            phone_error_rate(truth, part)
            <= phone_error_rate(truth, window(full, offset, offset + audio.duration)) + 0.05
        )
        assert 1000 * np.mean(boundary_errors(truth, part)) < 20
    assert truth[0].label == SILENCE and trimmed.phones[0].label == SILENCE  # the pause, then flite's own
    assert trimmed.phones[0].end == pytest.approx(2.0 + truth[0].end, abs=0.05)


@needs_flite
def test_the_same_audio_decodes_the_same_whatever_came_before(speech):
    """Decoders are reused; their feature extraction must not carry state from one utterance to the next."""
    (text, audio, _), (other_text, other, _) = speech[1], speech[3]

    def timings(transcript):
        timeline = phone_timeline(audio, transcript)
        return [(p.label, p.start, p.end) for p in timeline.phones] + [(w.text, w.start, w.end) for w in timeline.words]

    for transcript, other_transcript in ((None, None), (text, other_text)):
        first = timings(transcript)
        phone_timeline(other, other_transcript)
        assert timings(transcript) == first
