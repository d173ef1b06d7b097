"""Phones without a transcript: PocketSphinx allphone decoding ("the Rhubarb method").

    >>> timeline = recognize_phones(load_audio("speech.wav"))   # method "allphone"
    >>> [(p.label, p.start, p.end) for p in timeline.phones][:3]
    [('sil', 0.0, 0.205), ('dh', 0.205, 0.265), ('ah', 0.265, 0.315)]

The decoder searches context-independent phones under a phonetic LM, as Rhubarb Lip Sync does: by
default the `pocketsphinx` wheel's (`en-us-phone.lm.bin`, a trigram LM) cut to bigrams, which decodes a
third faster at the same accuracy (`PhoneConfig.phone_lm`), with p, b and m made likelier for lip sync
(`PhoneConfig.bilabial_boost`, `recognition.phonemes.phone_lm`). Long pauses are left out of the
decoded audio (`PhoneConfig.pause_keep_s`). It decodes one utterance in one pass, so cost and memory grow
with its length: `recognition.phonemes.chunking.phone_timeline` splits long audio at pauses and calls
this per chunk.

This module also holds what the allphone and aligned modes share: `PhoneConfig`, the per-process decoder
cache, PCM conversion, and the acoustic confidence of a phone.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

import numpy as np

from recognition.audio import SAMPLE_RATE, Audio, speech_segments
from recognition.phonemes.pauses import kept_spans, squeeze, unsqueeze
from recognition.phonemes.phone_lm import phone_lm_file
from recognition.phonemes.timeline import SILENCE, Phone, PhoneTimeline, normalize_phone
from rigs.errors import AffectStudioError

log = logging.getLogger(__name__)

FRAME_RATE = 100  # PocketSphinx feature frames per second (its `frate`; not changed here)
LOG_BASE = 1.0001  # PocketSphinx's `logbase`: its integer scores are log-probabilities in this base
_LOCAL = threading.local()


@dataclass(frozen=True)
class PhoneConfig:
    """Settings of phone recognition and alignment (all modes), with the defaults measured in
    `bench/phonemes.py` on flite speech.

    language_weight: weight of the phonetic LM in allphone decoding. 0.8-2.0 measured the same here
        (phone error rate 0.36 +- 0.01, boundaries unchanged); 6.5 (PocketSphinx's word-LM default)
        raised the phone error rate to 0.50. Rhubarb uses 0.8.
    phone_lm: the phonetic LM of allphone decoding: "bigram" (default; `assets/models/en-us-phone-bigram.lm`,
        the wheel's LM without its trigrams, made by `scripts/convert_phone_lm.py`) or "trigram" (the
        wheel's `en-us-phone.lm.bin`, as Rhubarb uses it). Looking up the trigram trie was 45 % of the
        decoding time; the bigram decodes ~1/3 faster (60 s, one core: 0.044 vs 0.068 x real time) with the
        same accuracy on flite speech (phone error rate 0.341 vs 0.334 on 60 s, 0.332 vs 0.331 on 48
        sentences; lip sync without transcript, 144 sentences: bilabial recall 0.933 vs 0.923, open vowels
        0.912 vs 0.914, false closures 5.8 vs 5.6 %). A unigram LM was faster still (0.038) and as accurate
        on this synthetic speech, but it drops all phonotactics, which noisier real speech needs more.
    bilabial_boost: log10 units added to the phone LM's probability of p, b and m
        (`recognition.phonemes.phone_lm`): when the sound leaves it open, hear a bilabial. A missed lip
        closure is the most visible lip-sync error, and a wrong one is brief (`CoarticulationConfig.
        recognised_closure_s`). Measured without transcript on the 144 flite sentences of
        `bench/lipsync.py` (chosen there, so optimistic; untested on recorded speech), bilabial recall /
        false closures: 0 -> 0.930 / 3.8 %, 0.3 -> 0.940 / 4.4 %, 0.7 -> 0.950 / 4.6 %, 0.85 -> 0.957 /
        4.7 %, 1.0 -> 0.957 / 4.9 %, 1.5 -> 0.960 / 5.3 %. The phone error rate barely moves (`bench/
        phonemes.py`, 180 sentences: 0.355 -> 0.363 at 0.85; boundaries 9.9 -> 10.0 ms). Set 0 for an
        unbiased phone transcription.
    pause_keep_s: allphone decodes only the speech (an energy VAD 45 dB deep, so quiet consonants count)
        with this much of each pause on either side (`recognition.phonemes.pauses`); None decodes all of
        it. 0.1 s: 13-17 % faster on the 60 s bench clip, same phone error rate and lip sync (144
        sentences without transcript: bilabial recall 0.930, open vowels 0.914, false closures 5.9 %).
    frame_offset_s: added to every time PocketSphinx reports. It reports frame indices (10 ms); its
        boundaries came out 5 ms early on average in both modes (analysis windows are 25.6 ms long and
        start at the frame index), and this half-frame shift removes that bias.
    chunk_s, max_chunk_s: long audio is cut at the longest pause near every `chunk_s` seconds, and never
        later than `max_chunk_s` after the last cut (then at the quietest 10 ms instead).
    min_pause_s: the shortest silence that counts as a pause for cutting (passed to `speech_segments`).
    workers: processes that decode chunks in parallel; None = the usable cores (or
        `AFFECT_STUDIO_THREADS`). `parallel` picks "process" (default), "thread" or "serial":
        PocketSphinx holds the GIL while it decodes, so threads do not run in parallel (measured).
    min_known_fraction: aligned mode falls back to allphone when fewer of the transcript's words than
        this are in the pronunciation dictionary (an empty, non-English or wrong-language transcript).
    """

    language_weight: float = 1.0
    phone_lm: str = "bigram"
    bilabial_boost: float = 0.85
    pause_keep_s: float | None = 0.1
    frame_offset_s: float = 0.005
    chunk_s: float = 25.0
    max_chunk_s: float = 40.0
    min_pause_s: float = 0.25
    workers: int | None = None
    parallel: str = "process"
    min_known_fraction: float = 0.5


def model_path(name: str) -> str:
    """Path of a file or folder of the en-us model inside the `pocketsphinx` wheel, e.g. `en-us/en-us`."""
    import pocketsphinx

    return pocketsphinx.get_model_path(name)


def decoder_cache() -> dict:
    """This thread's PocketSphinx decoders by key: a decoder is built once (~0.1 s) and reused, and is
    never shared between threads (it is not thread-safe). Decode with `decode_utterance`."""
    if not hasattr(_LOCAL, "decoders"):
        _LOCAL.decoders = {}
    return _LOCAL.decoders


def allphone_decoder(config: PhoneConfig):
    """This thread's allphone decoder for `config`'s language weight, phone LM and bilabial boost."""
    weight, boost = float(config.language_weight), float(config.bilabial_boost)
    key = ("allphone", weight, config.phone_lm, boost)
    cache = decoder_cache()
    if key not in cache:
        import pocketsphinx

        cache[key] = pocketsphinx.Decoder(
            hmm=model_path("en-us/en-us"),
            allphone=phone_lm_file(config.phone_lm, boost),
            allphone_ci=True,
            dict=None,
            lw=weight,
            loglevel="FATAL",
        )
    return cache[key]


def decode_utterance(decoder, pcm: bytes) -> None:
    """Decode `pcm` (see `pcm16`) as one whole utterance with `decoder`'s active search, exactly as a fresh
    decoder would: a decoder's feature extraction keeps state from its last utterance, which moved phone
    boundaries by a frame or two, so the same audio decoded differently depending on what came before.
    Re-initialising it first costs 0.1 ms."""
    decoder.reinit_feat()
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def pcm16(samples: np.ndarray) -> bytes:
    """`(n,) float32` in [-1, 1] -> little-endian 16-bit PCM bytes, what `Decoder.process_raw` takes."""
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def check_sample_rate(audio: Audio) -> None:
    if audio.sample_rate != SAMPLE_RATE:
        raise AffectStudioError(
            f"{audio.source or 'audio'}: phone recognition needs {SAMPLE_RATE} Hz audio, got "
            f"{audio.sample_rate} Hz (load it with recognition.audio.load_audio)"
        )


def acoustic_confidence(score: float, frames: int) -> float:
    """A phone's confidence in [0, 1] from its acoustic score (PocketSphinx integer log units, relative
    to the best senone of each frame, so 0 is a perfect fit) and its length in frames.

    Allphone decoding computes no posteriors. This logistic fit of "was the recognised phone right" on
    the allphone output for the 180 flite utterances of `bench/phonemes.py` (AUC 0.72; phones given
    0.8-1.0 were right 89% of the time, phones under 0.4 43%) stands in for one. Aligned phones get the
    same function: there it tells how well the audio fits the transcript's phone, uncalibrated.
    """
    frames = max(int(frames), 1)
    z = -0.367 + 0.0842 * (score / frames) + 1.028 * math.log(frames)
    return float(1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0))))


def merge_phones(phones: list[Phone]) -> list[Phone]:
    """Join consecutive "sil" phones and drop empty ones; keeps the list contiguous in time."""
    merged: list[Phone] = []
    for phone in phones:
        if phone.end <= phone.start:
            if merged:
                merged[-1].end = max(merged[-1].end, phone.end)
            continue
        if merged and phone.label == SILENCE and merged[-1].label == SILENCE:
            merged[-1].end = phone.end
            merged[-1].confidence = 1.0
        else:
            merged.append(phone)
    return merged


def fit_to_duration(phones: list[Phone], duration: float) -> list[Phone]:
    """Make `phones` cover exactly [0, duration]: the first starts at 0, the last ends at `duration`
    (PocketSphinx's last frame ends up to a window short of the audio)."""
    phones = [p for p in phones if p.start < duration]
    if not phones:
        return [Phone(SILENCE, 0.0, duration)] if duration > 0 else []
    phones[0].start = 0.0
    phones[-1].end = duration
    return merge_phones(phones)


def recognize_phones(audio: Audio, config: PhoneConfig = PhoneConfig()) -> PhoneTimeline:
    """Phones of `audio` (mono, 16 kHz) by allphone decoding, as one utterance.

    Returns a contiguous `PhoneTimeline` covering [0, audio.duration] seconds (method "allphone"): ARPAbet
    labels through `normalize_phone`, "sil" for silence and noise, and `acoustic_confidence` per phone.
    Silent or empty audio gives a single "sil" (or no phone). Cost ~0.04 x real time on one core, memory
    growing with length: use `phone_timeline` for anything longer than a minute.
    """
    check_sample_rate(audio)
    duration = audio.duration
    if len(audio.samples) < SAMPLE_RATE // FRAME_RATE * 3:
        return PhoneTimeline(fit_to_duration([], duration), source=audio.source, method="allphone")
    decoder = allphone_decoder(config)
    spans = decoded_spans(audio, config)
    samples = audio.samples if spans is None else squeeze(audio.samples, spans, audio.sample_rate)
    decode_utterance(decoder, pcm16(samples))
    ln_base = math.log(LOG_BASE)
    offset = config.frame_offset_s
    phones: list[Phone] = []
    segments = decoder.seg()
    for seg in segments or ():  # copy every value out while the iterator is alive
        try:
            label = normalize_phone(seg.word)
        except ValueError:
            log.debug("unexpected allphone unit %r, counted as silence", seg.word)
            label = SILENCE
        frames = seg.end_frame - seg.start_frame + 1
        score = math.log(seg.ascore) / ln_base if seg.ascore > 0 else -1e9
        confidence = 1.0 if label == SILENCE else acoustic_confidence(score, frames)
        start, end = seg.start_frame / FRAME_RATE + offset, (seg.end_frame + 1) / FRAME_RATE + offset
        phones.append(Phone(label, round(start, 4), round(end, 4), confidence))
    del segments
    if spans is not None:
        phones = unsqueeze(merge_phones(phones), spans, duration, audio.sample_rate)
    return PhoneTimeline(fit_to_duration(merge_phones(phones), duration), source=audio.source, method="allphone")


PAUSE_VAD_DEPTH_DB = 45.0  # deeper than speech_segments' 35 dB default: only clear silence is left out


def decoded_spans(audio: Audio, config: PhoneConfig) -> list[tuple[float, float]] | None:
    """The stretches of `audio` allphone decodes (`PhoneConfig.pause_keep_s`), or None for all of it
    (trimming off, or no pause long enough to be worth cutting, or no speech found: then decode it all)."""
    if config.pause_keep_s is None:
        return None
    keep = config.pause_keep_s
    speech = speech_segments(audio, min_silence_s=2 * keep + 0.05, dynamic_range_db=PAUSE_VAD_DEPTH_DB)
    spans = kept_spans(speech, audio.duration, keep)
    if not spans or sum(b - a for a, b in spans) > 0.95 * audio.duration:
        return None
    return spans
