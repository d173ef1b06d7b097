"""Text to speech with exact phone timings, offline: eSpeak NG (pip-only, default) or flite (Debian).

`synthesize(text, voice)` returns a `Speech`: the waveform as `Audio` (mono float32, 16 kHz) and a
`PhoneTimeline` (ARPAbet, method `"tts:espeak"` / `"tts:flite"`) whose times are the engine's own, not
recognised. Voices are named `engine:name`: `espeak:en-us`, `espeak:en-gb+f3`, `flite:slt`, ...
(`list_voices()`).

- eSpeak NG runs in-process through ctypes on the `libespeak-ng.so` and `espeak-ng-data` that PyPI's
  `espeakng-loader` ships (no system package needed). Its phoneme events carry IPA and the sample where
  each phoneme starts, so phone times are exact; word events give word starts. The IPA is mapped to
  ARPAbet with `IPA_TO_ARPABET` (see `ipa_to_arpabet`).
- flite runs as a subprocess: `-psdur` prints each phone's end time. flite cannot print word times, so
  words are found by aligning flite's own pronunciation of each word (a second, cheap run on the words
  separated by pauses) to the phone sequence with an edit-distance alignment.

Long text is synthesised sentence by sentence (bounded engine memory) and joined with exact offsets.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from recognition.audio import SAMPLE_RATE, Audio
from recognition.phonemes.timeline import SILENCE, Phone, PhoneTimeline, Word, normalize_phone
from rigs.atomic import atomic_write
from rigs.errors import AffectStudioError

log = logging.getLogger(__name__)

DEFAULT_VOICE = "espeak:en-us"
MAX_CHUNK_CHARS = 300  # longer sentences are split at commas, then at spaces
RATE_RANGE = (0.5, 2.5)  # speaking-rate factor; eSpeak NG's 80-450 words/min around its 175
PITCH_RANGE = (0.5, 2.0)  # pitch factor on the voice's own mean f0
VOLUME_RANGE = (0.0, 2.0)  # amplitude factor

# ---------------------------------------------------------------------------------------------------
# The result


@dataclass(frozen=True)
class VoiceInfo:
    name: str  # "espeak:en-us", "flite:slt", ...
    engine: str  # "espeak" | "flite"
    language: str  # BCP-47-ish, lower case: "en-us", "en-gb-scotland"
    gender: str  # "male" | "female" | "" (unknown)
    notes: str = ""
    available: bool = True


@dataclass
class Speech:
    """Synthesised speech: `audio` (mono float32, 16 kHz) and its exact `phones` (times in seconds)."""

    audio: Audio
    phones: PhoneTimeline
    text: str
    voice: str
    settings: dict[str, float | None] = field(default_factory=dict)  # rate, pitch, volume as asked

    @property
    def duration(self) -> float:
        return self.audio.duration

    def save_wav(self, path: str | Path) -> Path:
        """Write the audio as 16-bit PCM WAV at 16 kHz, atomically."""
        import soundfile

        with atomic_write(path, "wb") as f:
            soundfile.write(f, self.audio.samples, self.audio.sample_rate, format="WAV", subtype="PCM_16")
        return Path(path)


# ---------------------------------------------------------------------------------------------------
# IPA -> ARPAbet (what eSpeak NG's English voices emit, and the closest phone for anything else)

# Keys are IPA after stress marks and non-syllabic diacritics are removed (`_clean_ipa`); matching is
# greedy, longest key first, so diphthongs and affricates win over their parts. A value of several
# phones splits the eSpeak phoneme's time between them (`_split_weights`).
IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # triphthongs and r-coloured diphthongs (GB "fire", "hour"; US "fire" = aɪɚ)
    "aɪə": ("ay", "ah"), "aɪɚ": ("ay", "er"), "aʊə": ("aw", "ah"), "aʊɚ": ("aw", "er"),
    # diphthongs, all accents eSpeak NG has for English
    "aɪ": ("ay",), "ɑɪ": ("ay",), "əɪ": ("ay",), "ʌɪ": ("ay",), "ɐɪ": ("ay",), "äɪ": ("ay",),
    "aʊ": ("aw",), "ɑʊ": ("aw",), "ʌʊ": ("ow",), "ɐʊ": ("aw",), "ʌʉ": ("aw",), "æʊ": ("aw",),
    "eɪ": ("ey",), "ɛɪ": ("ey",), "ei": ("ey",), "eː": ("ey",),
    "oʊ": ("ow",), "əʊ": ("ow",), "əu": ("ow",), "ɔʊ": ("ow",), "əʉ": ("ow",), "ɵʊ": ("ow",), "ou": ("ow",),
    "oː": ("ow",),
    "ɔɪ": ("oy",), "oɪ": ("oy",),
    # centring diphthongs of non-rhotic accents (GB "near", "square", "cure"); rhotic voices say ɪ ɹ etc.
    "ɪə": ("ih", "ah"), "iə": ("iy", "ah"), "eə": ("eh", "ah"), "ɛə": ("eh", "ah"), "ʊə": ("uh", "ah"),
    "uə": ("uw", "ah"), "ɔə": ("ao", "ah"),
    # r-coloured vowels
    "ɜːɹ": ("er",), "ɜɹ": ("er",), "ɚ": ("er",), "ɝ": ("er",), "ɜː": ("er",), "ɜ": ("er",),
    # monophthongs
    "iː": ("iy",), "i": ("iy",), "ɪ": ("ih",), "ᵻ": ("ih",), "ɨ": ("ih",), "ɪː": ("ih",), "y": ("uw",),
    "e": ("ey",), "ɛ": ("eh",), "ɛː": ("eh",), "œ": ("eh",), "ø": ("uh",),
    "æ": ("ae",), "a": ("ae",), "aː": ("aa",), "aa": ("aa",), "ɐ": ("ah",), "ä": ("aa",),
    "ɑ": ("aa",), "ɑː": ("aa",), "ɒ": ("aa",), "ɒː": ("aa",),
    "ɔ": ("ao",), "ɔː": ("ao",), "o": ("ow",),
    "ʊ": ("uh",), "u": ("uw",), "uː": ("uw",), "ʉ": ("uw",), "ʉː": ("uw",), "ɯ": ("uw",),
    "ʌ": ("ah",), "ə": ("ah",), "əː": ("er",), "ɘ": ("ah",), "ɵ": ("ah",),
    # affricates and clusters eSpeak NG emits as one phoneme
    "tʃ": ("ch",), "dʒ": ("jh",), "ts": ("t", "s"), "dz": ("d", "z"),
    # consonants
    "p": ("p",), "b": ("b",), "t": ("t",), "d": ("d",), "k": ("k",), "g": ("g",), "ɡ": ("g",),
    "f": ("f",), "v": ("v",), "θ": ("th",), "ð": ("dh",), "s": ("s",), "z": ("z",),
    "ʃ": ("sh",), "ʒ": ("zh",), "h": ("hh",), "ɦ": ("hh",),
    "m": ("m",), "n": ("n",), "ŋ": ("ng",), "ɱ": ("m",),
    "l": ("l",), "ɫ": ("l",), "ɹ": ("r",), "r": ("r",), "ɻ": ("r",), "ʁ": ("r",), "ʀ": ("r",), "˞": ("r",),
    "w": ("w",), "ʍ": ("w",), "j": ("y",),
    # nearest ARPAbet for sounds the CMU set lacks
    "ɾ": ("t",),  # US flap in "better": the CMU dictionary (and flite) write it t
    "ʔ": ("t",),  # glottal stop in "button": t in the CMU dictionary
    "x": ("k",),  # "loch": k in the CMU dictionary
    "ç": ("hh",), "χ": ("hh",), "ħ": ("hh",), "ɣ": ("g",), "q": ("k",), "c": ("k",), "ɟ": ("g",),
    "β": ("v",), "ʋ": ("v",), "ɸ": ("f",), "ɬ": ("l",), "ɮ": ("l",), "ʎ": ("l",), "ɭ": ("l",),
    "ɲ": ("n",), "ɳ": ("n",), "ɴ": ("ng",), "ʈ": ("t",), "ɖ": ("d",), "ʂ": ("sh",), "ʐ": ("zh",),
    "ɕ": ("sh",), "ʑ": ("zh",), "ɰ": ("w",), "ɥ": ("y",), "ʙ": ("b",),
}  # fmt: skip
_IPA_MAX_KEY = max(len(key) for key in IPA_TO_ARPABET)
_SYLLABIC = {"\u0329", "\u030d"}  # combining vertical line below/above: n̩ l̩ m̩
_IGNORED = set("ˈˌ'ˑ‿͜͡ʰʲʷˠˤ̴") | {"\u200d", "\u200c"}
_VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"})


def _clean_ipa(ipa: str) -> str:
    """Decompose and drop stress marks and non-syllabic diacritics (length ː is kept)."""
    kept = []
    for ch in unicodedata.normalize("NFD", ipa):
        if ch in _IGNORED or ch.isspace() or ch in "_:-|":
            continue
        if unicodedata.combining(ch) and ch not in _SYLLABIC:
            continue
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def ipa_to_arpabet(ipa: str) -> tuple[tuple[str, ...], list[str]]:
    """One eSpeak NG phoneme (IPA, e.g. `"ˈaɪɚ"`, `"n̩"`) -> `(ARPAbet phones, unknown symbols)`.

    Greedy longest match against `IPA_TO_ARPABET`; a syllabic consonant (`n̩`, `l̩`, `m̩`) becomes schwa
    plus the consonant (`ah n`), as the CMU dictionary writes "button". A stray length mark is ignored;
    any other unmatched symbol is returned in `unknown` (the caller warns and merges its time into the
    neighbouring phone).
    """
    text = _clean_ipa(ipa)
    if text == "a" and not any(mark in ipa for mark in "ˈˌ"):
        return ("ah",), []  # unstressed [a]: Caribbean and GB weak vowels ("letter", "and"), not TRAP
    phones: list[str] = []
    unknown: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in _SYLLABIC:  # syllabic mark after a consonant: insert the schwa before it
            if phones and phones[-1] not in _VOWELS:
                phones.insert(len(phones) - 1, "ah")
            i += 1
            continue
        for size in range(min(_IPA_MAX_KEY, len(text) - i), 0, -1):
            match = IPA_TO_ARPABET.get(text[i : i + size])
            if match is not None:
                phones.extend(match)
                i += size
                break
        else:
            if text[i] != "ː":
                unknown.append(text[i])
            i += 1
    return tuple(phones), unknown


def _split_weights(labels: tuple[str, ...]) -> list[float]:
    """How one eSpeak phoneme's time is shared by the ARPAbet phones it became (approximate)."""
    if len(labels) == 2 and labels[0] == "ah" and labels[1] not in _VOWELS:
        return [1.0, 2.0]  # syllabic consonant: short schwa, long consonant
    return [2.0] + [1.0] * (len(labels) - 1)  # diphthong + schwa, vowel + r: the nucleus is longest


# ---------------------------------------------------------------------------------------------------
# Text handling


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?;:。])\s+|(?<=[.!?;:。][\"'”’)\]])\s+")
# A period after these (or after an initial, or in "p.m.", "U.S.") does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc fig approx dept est inc ltd co mt ft jan feb mar apr jun jul aug sep "
    "sept oct nov dec".split()
)


def has_speakable_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


_PUNCTUATION = "\"'“”‘’«»()[]{}<>,.;:!?¡¿…—–-*_/\\|"


def written_words(text: str) -> list[tuple[int, int, str]]:
    """The words of `text` as written: `(start char, end char, word)` for each whitespace-separated
    token with a letter or digit in it, surrounding punctuation removed (`"$25,"` -> `"$25"`)."""
    words = []
    for match in re.finditer(r"\S+", text):
        token = match.group()
        if not has_speakable_words(token):
            continue
        start = match.start() + len(token) - len(token.lstrip(_PUNCTUATION))
        word = token.strip(_PUNCTUATION)
        words.append((start, start + len(word), word))
    return words


def split_sentences(text: str, max_chars: int = MAX_CHUNK_CHARS) -> list[str]:
    """Text -> chunks of at most `max_chars`, at paragraph and sentence ends (not after "Dr." or an
    initial), else at commas, else at spaces; chunks with nothing speakable (`"..."`) are dropped."""
    sentences: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        joined = False
        for piece in _SENTENCE_END.split(paragraph):
            piece = " ".join(piece.split())
            last = sentences[-1].rsplit(" ", 1)[-1].lower().lstrip("(\"'") if joined and sentences else ""
            if last.endswith(".") and (last[:-1] in _ABBREVIATIONS or len(last) == 2 or "." in last[:-1]):
                sentences[-1] += " " + piece  # "Dr. Smith", "J. Smith", "5 p.m. today": not a sentence end
            else:
                sentences.append(piece)
            joined = True
    chunks: list[str] = []
    for sentence in sentences:
        while len(sentence) > max_chars:
            cut = max(sentence.rfind(", ", 0, max_chars), sentence.rfind("; ", 0, max_chars))
            if cut <= 0:
                cut = sentence.rfind(" ", 0, max_chars)
            if cut <= 0:
                cut = max_chars - 1
            chunks.append(sentence[: cut + 1].strip())
            sentence = sentence[cut + 1 :].strip()
        chunks.append(sentence)
    return [chunk for chunk in chunks if has_speakable_words(chunk)]


def _no_words_error(text: str) -> AffectStudioError:
    shown = " ".join(text.split())
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return AffectStudioError(f"no speakable words in the text ({shown!r}): give at least one word")


# ---------------------------------------------------------------------------------------------------
# Chunk results and joining


@dataclass
class _Chunk:
    """One engine call: `samples` `(n,) float32` at `sample_rate`; phone and word times in seconds."""

    samples: np.ndarray
    sample_rate: int
    phones: list[Phone]
    words: list[Word]


def _resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """`(n,) float32` at `rate` -> `(ceil(n * target / rate),) float32` at `target` (polyphase FIR)."""
    if rate == target:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = math.gcd(rate, target)
    return resample_poly(samples.astype(np.float32), target // g, rate // g).astype(np.float32)


def _append_phone(phones: list[Phone], label: str, start: float, end: float) -> None:
    """Append keeping the timeline contiguous: merge repeated silences, drop empty spans."""
    if end <= start:
        return
    if phones and label == SILENCE and phones[-1].label == SILENCE:
        phones[-1].end = end
        return
    phones.append(Phone(label, start, end))


_ROUNDING_S = 0.002


def _join(chunks: list[_Chunk], method: str) -> tuple[Audio, PhoneTimeline]:
    """Resample each chunk to 16 kHz and concatenate; times are offset by the audio before them.

    Each chunk's phones are made to cover exactly `[0, chunk duration]`: a gap before the first phone
    becomes silence, the last phone is stretched or cut to the chunk's end (a difference of at most one
    engine sample after resampling, or the silence flite leaves off its last pause).
    """
    pieces: list[np.ndarray] = []
    phones: list[Phone] = []
    words: list[Word] = []
    offset = 0.0
    for chunk in chunks:
        samples = _resample(chunk.samples, chunk.sample_rate)
        duration = len(samples) / SAMPLE_RATE
        cursor = 0.0
        for phone in chunk.phones:
            start, end = max(phone.start, cursor), min(phone.end, duration)
            if start > cursor:
                _append_phone(phones, SILENCE, offset + cursor, offset + start)
            _append_phone(phones, phone.label, offset + start, offset + end)
            cursor = max(cursor, end)
        if cursor < duration:
            if phones and (phones[-1].label == SILENCE or duration - cursor < _ROUNDING_S):
                phones[-1].end = offset + duration  # a phone cut by rounding: give it the last samples
            else:
                _append_phone(phones, SILENCE, offset + cursor, offset + duration)
        words.extend(Word(w.text, offset + w.start, offset + min(w.end, duration)) for w in chunk.words)
        pieces.append(samples)
        offset += duration
    samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    clipped = float(np.mean(np.abs(samples) > 1.0)) if len(samples) else 0.0
    if clipped > 0.001:
        log.warning("%.1f%% of the synthesised samples clip at this volume", 100 * clipped)
    audio = Audio(np.clip(samples, -1.0, 1.0).astype(np.float32), SAMPLE_RATE, None)
    return audio, PhoneTimeline(phones, words, None, method)


# ---------------------------------------------------------------------------------------------------
# eSpeak NG through ctypes

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000  # end each call with a sentence pause, so joined sentences do not run together
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_PHONEME = 0, 1, 5, 7
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH = 1, 2, 3
_ESPEAK_WPM = 175  # eSpeak NG's default rate, words per minute
_ESPEAK_WPM_RANGE = (80, 450)

# eSpeak NG's pitch parameter (0-100, default 50) against the median f0 it gives, relative to 50,
# measured with librosa.yin on en-us, en-gb, en-gb-scotland and en-us+f3 (they agree within ~5%).
# Factors beyond x0.74-x1.64 are reached by shifting the rest after synthesis (`_shift_pitch`).
_ESPEAK_PITCH_CALIBRATION = ((0, 0.74), (10, 0.76), (20, 0.80), (30, 0.845), (40, 0.91), (50, 1.0), (60, 1.09),
                             (70, 1.20), (80, 1.33), (90, 1.49), (100, 1.64))  # fmt: skip

# Our name -> (eSpeak NG voice file under espeak-ng-data/lang, description)
ESPEAK_VOICES: dict[str, tuple[str, str]] = {
    "en-us": ("gmw/en-US", "English (America)"),
    "en-gb": ("gmw/en", "English (Great Britain)"),
    "en-gb-x-rp": ("gmw/en-GB-x-rp", "English (Received Pronunciation)"),
    "en-gb-scotland": ("gmw/en-GB-scotland", "English (Scotland)"),
    "en-gb-x-gbclan": ("gmw/en-GB-x-gbclan", "English (Lancaster)"),
    "en-gb-x-gbcwmd": ("gmw/en-GB-x-gbcwmd", "English (West Midlands)"),
    "en-us-nyc": ("gmw/en-US-nyc", "English (America, New York City)"),
    "en-029": ("gmw/en-029", "English (Caribbean)"),
}
ESPEAK_LISTED_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7")


class _EspeakId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _EspeakEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters
        ("length", ctypes.c_int),  # characters
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),  # samples from the start of this espeak_Synth call
        ("user_data", ctypes.c_void_p),
        ("id", _EspeakId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(_EspeakEvent))  # fmt: skip


@dataclass
class _EspeakCapture:
    audio: list[np.ndarray] = field(default_factory=list)
    phonemes: list[tuple[int, str]] = field(default_factory=list)  # (sample, IPA)
    words: list[tuple[int, int, int]] = field(default_factory=list)  # (sample, 1-based char pos, length)
    error: BaseException | None = None


def espeak_paths() -> tuple[str, str | None]:
    """`(library path, data path)` eSpeak NG is loaded from: espeakng-loader's wheel when installed,
    else the system's `libespeak-ng.so.1` with its built-in data path (`None`)."""
    try:
        import espeakng_loader

        library, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
        if Path(library).exists():
            return library, data
    except (ImportError, RuntimeError):
        pass
    import ctypes.util

    system = ctypes.util.find_library("espeak-ng")
    if system is None:
        raise AffectStudioError(
            "eSpeak NG is not installed: pip install espeakng-loader (or apt-get install libespeak-ng1), "
            "or use a flite:* voice"
        )
    return system, None


def _espeak_data_dir() -> Path | None:
    try:
        _, data = espeak_paths()
    except AffectStudioError:
        return None
    if data is not None:
        return Path(data)
    for candidate in ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/share/espeak-ng-data"):
        if Path(candidate).is_dir():
            return Path(candidate)
    return None


class _Espeak:
    """The process-wide eSpeak NG library (global state inside: every call holds `lock`)."""

    lock = threading.Lock()
    _instance: _Espeak | None = None

    def __init__(self) -> None:
        library_path, data_path = espeak_paths()
        try:
            lib = ctypes.CDLL(library_path)
        except OSError as error:
            raise AffectStudioError(f"eSpeak NG library {library_path} cannot be loaded ({error})") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
        data = os.fsencode(data_path) if data_path else None
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data, options)
        if rate <= 0:
            raise AffectStudioError(f"eSpeak NG failed to start (library {library_path}, data {data_path})")
        self.lib, self.sample_rate, self.library_path, self.data_path = lib, rate, library_path, data_path
        self._capture = _EspeakCapture()
        self._callback = _SynthCallback(self._on_synth)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        log.debug("eSpeak NG %s at %d Hz, data %s", library_path, rate, data_path)

    @classmethod
    def get(cls) -> _Espeak:
        with cls.lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _on_synth(self, wav, count, events) -> int:
        try:
            if count > 0 and wav:
                self._capture.audio.append(np.ctypeslib.as_array(wav, (count,)).copy())
            i = 0
            while events[i].type != _EVENT_LIST_TERMINATED:
                event = events[i]
                if event.type == _EVENT_PHONEME:
                    raw = bytes(event.id.string).split(b"\0", 1)[0]  # up to 8 bytes, maybe cut mid-char
                    self._capture.phonemes.append((event.sample, raw.decode("utf-8", "ignore")))
                elif event.type == _EVENT_WORD:
                    self._capture.words.append((event.sample, event.text_position, event.length))
                i += 1
            return 0
        except BaseException as error:  # never let an exception cross into C
            self._capture.error = error
            return 1

    def synthesize(self, text: str, voice: str, rate: float, pitch: float | None, volume: float) -> _Chunk:
        """One chunk of text with the eSpeak NG voice spec `voice` (e.g. `"gmw/en-US+f3"`)."""
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise AffectStudioError(f"eSpeak NG cannot load voice {voice!r} from {self.data_path}")
            self.lib.espeak_SetParameter(_PARAM_RATE, _espeak_wpm(rate), 0)
            self.lib.espeak_SetParameter(_PARAM_VOLUME, int(round(100 * volume)), 0)
            pitch_param, pitch_rest = _espeak_pitch(pitch)
            self.lib.espeak_SetParameter(_PARAM_PITCH, pitch_param, 0)
            self._capture = capture = _EspeakCapture()
            data = text.replace("[[", "[(").encode("utf-8")  # [[..]] is phoneme input; same length keeps positions
            status = self.lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            if capture.error is not None:
                raise capture.error
            if status != 0:
                raise AffectStudioError(f"eSpeak NG failed to synthesise {text[:40]!r} (error {status})")
        samples = (np.concatenate(capture.audio) if capture.audio else np.zeros(0, np.int16)).astype(np.float32)
        samples = _shift_pitch(samples / 32768.0, self.sample_rate, pitch_rest)
        phones, words = _espeak_timeline(text, capture, len(samples), self.sample_rate)
        return _Chunk(samples, self.sample_rate, phones, words)


def _espeak_wpm(rate: float) -> int:
    wpm = int(round(_ESPEAK_WPM * rate))
    return min(max(wpm, _ESPEAK_WPM_RANGE[0]), _ESPEAK_WPM_RANGE[1])


def _espeak_pitch(pitch: float | None) -> tuple[int, float]:
    """Pitch factor -> (eSpeak NG's 0-100 pitch parameter, the factor left to shift after synthesis)."""
    if pitch is None:
        return 50, 1.0
    params, factors = zip(*_ESPEAK_PITCH_CALIBRATION, strict=True)
    reached = min(max(pitch, factors[0]), factors[-1])
    return int(round(np.interp(np.log(reached), np.log(factors), params))), pitch / reached


def _shift_pitch(samples: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Raise/lower the pitch of `(n,) float32` by `factor` keeping its length (so phone times hold)."""
    if abs(factor - 1.0) < 1e-3:
        return samples
    import librosa

    shifted = librosa.effects.pitch_shift(samples, sr=sample_rate, n_steps=12 * math.log2(factor))
    return shifted.astype(np.float32)


def _espeak_timeline(text: str, capture: _EspeakCapture, n_samples: int, rate: int) -> tuple[list[Phone], list[Word]]:
    """Phoneme and word events (sample positions) -> ARPAbet phones and words, in seconds."""
    phones: list[Phone] = []
    events = sorted(capture.phonemes, key=lambda e: e[0])
    for i, (sample, ipa) in enumerate(events):
        end_sample = events[i + 1][0] if i + 1 < len(events) else n_samples
        start, end = sample / rate, min(end_sample, n_samples) / rate
        if end <= start:
            continue
        if not _clean_ipa(ipa):  # pauses (_, _:) come as empty IPA
            _append_phone(phones, SILENCE, start, end)
            continue
        labels, unknown = ipa_to_arpabet(ipa)
        if unknown:
            log.warning("eSpeak NG phoneme %r: no ARPAbet for %s; %s", ipa, " ".join(unknown),
                        "kept " + " ".join(labels) if labels else "merged into the phone before")  # fmt: skip
        if not labels:
            if phones:
                phones[-1].end = end
            else:
                _append_phone(phones, SILENCE, start, end)
            continue
        weights = np.cumsum([0.0, *_split_weights(labels)])
        bounds = start + (end - start) * weights / weights[-1]
        for label, a, b in zip(labels, bounds[:-1], bounds[1:], strict=True):
            _append_phone(phones, label, float(a), float(b))
    # eSpeak NG marks a word per spoken word ("3.5" gives three, its lengths stop at apostrophes):
    # join the marks that fall in one written word, as `written_words` splits the text.
    spans = written_words(text)
    words: list[Word] = []
    owners: list[int] = []
    marks = sorted(capture.words)
    for i, (sample, position, _length) in enumerate(marks):
        start = sample / rate
        stop = marks[i + 1][0] / rate if i + 1 < len(marks) else math.inf
        spoken = [p for p in phones if p.label != SILENCE and start - 1e-9 <= p.start < stop]
        owner = next((k for k, (a, b, _) in enumerate(spans) if a <= position - 1 < b), None)
        if not spoken or owner is None:
            continue
        if owners and owners[-1] == owner:
            words[-1].end = spoken[-1].end
        else:
            words.append(Word(spans[owner][2], spoken[0].start, spoken[-1].end))
            owners.append(owner)
    return phones, words


@lru_cache(maxsize=1)
def espeak_variants() -> dict[str, str]:
    """eSpeak NG voice variants (`espeak-ng-data/voices/!v`): file name -> gender ("" if not stated)."""
    data = _espeak_data_dir()
    folder = data / "voices" / "!v" if data else None
    variants: dict[str, str] = {}
    if folder is None or not folder.is_dir():
        return variants
    for path in sorted(folder.iterdir()):
        gender = ""
        try:
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "gender":
                    gender = parts[1]
        except OSError:
            continue
        variants[path.name] = gender
    return variants


# ---------------------------------------------------------------------------------------------------
# flite through its command line

# name -> (language, gender, notes, f0_shift works)
FLITE_VOICES: dict[str, tuple[str, str, str, bool]] = {
    "kal16": ("en-us", "male", "diphone, 16 kHz", True),
    "kal": ("en-us", "male", "diphone, 8 kHz (telephone quality)", True),
    "slt": ("en-us", "female", "clustergen (statistical), 16 kHz", True),
    "rms": ("en-us", "male", "clustergen, 16 kHz; pitch changed by post-processing", False),
    "awb": ("en-gb-scotland", "male", "clustergen, Scottish English, 16 kHz", True),
}
_FLITE_EXTRA = {"ax": ("ah",), "axr": ("er",), "dx": ("t",), "el": ("ah", "l"), "en": ("ah", "n"),
                "em": ("ah", "m"), "ix": ("ih",)}  # fmt: skip
_FLITE_TIMEOUT_S = 120


@lru_cache(maxsize=1)
def flite_voices_installed() -> tuple[str, ...]:
    """Voices the installed flite has built in (`flite -lv`); empty when flite is not installed."""
    exe = shutil.which("flite")
    if exe is None:
        return ()
    try:
        out = subprocess.run([exe, "-lv"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(out.split(":", 1)[-1].split())


def _flite_label(label: str) -> tuple[str, ...] | None:
    key = label.strip().lower()
    if key in _FLITE_EXTRA:
        return _FLITE_EXTRA[key]
    try:
        return (normalize_phone(key),)
    except ValueError:
        return None


def _flite_ascii(text: str) -> str:
    """flite reads bytes as Latin text: fold accents and typographic punctuation to ASCII."""
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": ", "}))
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded


def _run_flite(args: list[str]) -> str:
    try:
        result = subprocess.run(["flite", *args], capture_output=True, text=True, timeout=_FLITE_TIMEOUT_S)
    except FileNotFoundError:
        raise AffectStudioError("flite is not installed: apt-get install flite, or use an espeak:* voice") from None
    except subprocess.TimeoutExpired:
        raise AffectStudioError(f"flite took longer than {_FLITE_TIMEOUT_S} s on one sentence") from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise AffectStudioError(f"flite failed ({detail[-1] if detail else f'exit {result.returncode}'})")
    return result.stdout


def _parse_psdur(output: str) -> list[tuple[str, float]]:
    """`"pau:0.220 hh:0.295 ..."` -> `[("pau", 0.22), ("hh", 0.295), ...]` (label, end in seconds)."""
    pairs = []
    for token in output.split():
        label, sep, end = token.rpartition(":")
        if sep:
            try:
                pairs.append((label, float(end)))
            except ValueError:
                continue
    return pairs


def _flite_synthesize(text: str, voice: str, rate: float, pitch: float | None, volume: float) -> _Chunk:
    import soundfile

    original, text = text, _flite_ascii(text)
    shift_in_flite = FLITE_VOICES[voice][3]
    options = ["-voice", voice]
    if rate != 1.0:
        options += ["--setf", f"duration_stretch={1.0 / rate:.6g}"]
    if pitch is not None and pitch != 1.0 and shift_in_flite:
        options += ["--setf", f"f0_shift={pitch:.6g}"]
    with tempfile.TemporaryDirectory(prefix="affect-flite-") as tmp:
        wav = Path(tmp) / "speech.wav"
        output = _run_flite([*options, "-psdur", "-t", text, "-o", str(wav)])
        samples, sample_rate = soundfile.read(wav, dtype="float32", always_2d=False)
    if samples.ndim > 1:
        samples = samples.mean(axis=1)
    if pitch is not None and not shift_in_flite:
        samples = _shift_pitch(samples, sample_rate, pitch)
    samples = (samples * volume).astype(np.float32)
    phones: list[Phone] = []
    start = 0.0
    for label, end in _parse_psdur(output):
        labels = _flite_label(label)
        if labels is None:
            log.warning("flite phone %r is not ARPAbet; merged into the phone before", label)
            if phones:
                phones[-1].end = end
            start = max(start, end)
            continue
        weights = np.cumsum([0.0, *_split_weights(labels)])
        bounds = start + (end - start) * weights / weights[-1]
        for lab, a, b in zip(labels, bounds[:-1], bounds[1:], strict=True):
            _append_phone(phones, lab, float(a), float(b))
        start = max(start, end)
    # flite cuts the waveform before the end of its final pause: pad with silence so times stay true
    needed = int(round(start * sample_rate))
    if needed > len(samples):
        samples = np.concatenate([samples, np.zeros(needed - len(samples), np.float32)])
    words = _flite_words(original, voice, phones)
    return _Chunk(samples, sample_rate, phones, words)


def _flite_words(text: str, voice: str, phones: list[Phone]) -> list[Word]:
    """Word spans by aligning each word's flite pronunciation to the synthesised phones.

    flite prints no word times. Its pronunciation of the words, said as a list (commas make pauses),
    is aligned to the phone sequence with an edit distance (vowel-for-vowel substitutions are cheap, as
    flite reduces vowels in context); each word spans the phones aligned to it. Returns [] (with a
    warning) when the words cannot be matched.
    """
    tokens = [(word, _flite_ascii(word)) for _, _, word in written_words(text)]
    tokens = [(word, folded) for word, folded in tokens if has_speakable_words(folded)]
    if not tokens:
        return []
    output = _run_flite(["-voice", voice, "-ps", "-t", ", ".join(folded for _, folded in tokens), "-o", "none"])
    groups: list[list[str]] = [[]]
    for label in output.split():
        if label == "pau":
            if groups[-1]:
                groups.append([])
            continue
        mapped = _flite_label(label)
        if mapped:
            groups[-1].extend(mapped)
    groups = [g for g in groups if g]
    if len(groups) != len(tokens):
        log.warning("flite split %r into %d words, expected %d: no word times", text[:40], len(groups), len(tokens))
        return []
    reference = [(label, w) for w, group in enumerate(groups) for label in group]
    spoken = [p for p in phones if p.label != SILENCE]
    owner = _align([r for r, _ in reference], [p.label for p in spoken])
    spans: dict[int, list[Phone]] = {}
    for phone, ref_index in zip(spoken, owner, strict=True):
        if ref_index is not None:
            spans.setdefault(reference[ref_index][1], []).append(phone)
    return [Word(tokens[w][0], spans[w][0].start, spans[w][-1].end) for w in sorted(spans)]


def _align(reference: list[str], hypothesis: list[str]) -> list[int | None]:
    """For each hypothesis phone, the index of the reference phone it aligns to (monotonic edit-distance
    alignment; an inserted phone goes with the reference phone before it, or the first one)."""
    n, m = len(reference), len(hypothesis)
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        r = reference[i - 1]
        for j in range(1, m + 1):
            h = hypothesis[j - 1]
            sub = 0.0 if r == h else 0.5 if (r in _VOWELS) == (h in _VOWELS) else 1.0
            cost[i, j] = min(cost[i - 1, j - 1] + sub, cost[i - 1, j] + 1.0, cost[i, j - 1] + 1.0)
    owner: list[int | None] = [None] * m
    i, j = n, m
    while i > 0 and j > 0:
        r, h = reference[i - 1], hypothesis[j - 1]
        sub = 0.0 if r == h else 0.5 if (r in _VOWELS) == (h in _VOWELS) else 1.0
        if cost[i, j] == cost[i - 1, j - 1] + sub:
            owner[j - 1] = i - 1
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i, j - 1] + 1.0:
            owner[j - 1] = i - 1  # inserted: goes with the reference phone before it
            j -= 1
        else:
            i -= 1
    for k in range(j):  # insertions before the first reference phone
        owner[k] = 0
    return owner


# ---------------------------------------------------------------------------------------------------
# Voices and the public entry point


def list_voices() -> list[VoiceInfo]:
    """Every voice `synthesize` takes (eSpeak NG English voices, common variants, flite voices), with
    `available` telling whether its engine is installed here. eSpeak NG also takes any other variant in
    its `voices/!v` folder (`espeak:en-us+croak`)."""
    try:
        espeak_ok = _espeak_data_dir() is not None
    except AffectStudioError:
        espeak_ok = False
    variants = espeak_variants()
    voices = [
        VoiceInfo(f"espeak:{name}", "espeak", name, "male", f"eSpeak NG {description}", espeak_ok)
        for name, (_, description) in ESPEAK_VOICES.items()
    ]
    for base in ("en-us", "en-gb"):
        for variant in ESPEAK_LISTED_VARIANTS:
            if variant in variants:
                notes = f"eSpeak NG {ESPEAK_VOICES[base][1]}, variant {variant}"
                voices.append(
                    VoiceInfo(f"espeak:{base}+{variant}", "espeak", base, variants[variant], notes, espeak_ok)
                )
    installed = flite_voices_installed()
    voices += [
        VoiceInfo(f"flite:{name}", "flite", language, gender, f"flite {notes}", name in installed)
        for name, (language, gender, notes, _) in FLITE_VOICES.items()
    ]
    return voices


def _unknown_voice(voice: str) -> AffectStudioError:
    names = [*(f"espeak:{n}" for n in ESPEAK_VOICES), *(f"flite:{n}" for n in FLITE_VOICES)]
    return AffectStudioError(
        f"unknown voice {voice!r}: choose one of {', '.join(names)} "
        "(an espeak voice also takes a variant, e.g. espeak:en-us+f3)"
    )


def _check_range(name: str, value: float, bounds: tuple[float, float]) -> None:
    if not (isinstance(value, (int, float)) and bounds[0] <= value <= bounds[1]):
        raise AffectStudioError(f"{name} must be between {bounds[0]} and {bounds[1]}, got {value!r}")


def synthesize(
    text: str, voice: str = DEFAULT_VOICE, rate: float = 1.0, pitch: float | None = None, volume: float = 1.0
) -> Speech:
    """Speak `text` with `voice`; returns the 16 kHz audio and its exact ARPAbet phone timeline.

    `rate` scales the speaking rate (2.0 = twice as fast), `pitch` the voice's mean f0 (None: the
    voice's own), `volume` the amplitude (1.0 = the engine's normal level). Phone times are in seconds
    from the start of the audio, contiguous from 0 to the end ("sil" for pauses); words are filled from
    eSpeak NG's word events or from an alignment for flite.

    Raises `AffectStudioError` (one line) for an unknown voice, an engine that is not installed, text
    with no speakable words, or settings out of range.
    """
    engine, _, name = (voice or "").partition(":")
    if engine == "espeak":
        base, _, variant = name.partition("+")
        if base not in ESPEAK_VOICES:
            raise _unknown_voice(voice)
        if variant and variant not in espeak_variants():
            shown = ", ".join(espeak_variants()) or "none found"
            raise AffectStudioError(f"unknown eSpeak NG variant {variant!r} in {voice!r}: choose one of {shown}")
    elif engine == "flite":
        if name not in FLITE_VOICES:
            raise _unknown_voice(voice)
        if shutil.which("flite") is None:
            raise AffectStudioError("flite is not installed: apt-get install flite, or use an espeak:* voice")
        if name not in flite_voices_installed():
            raise AffectStudioError(f"this flite has no voice {name!r} (it has {', '.join(flite_voices_installed())})")
    else:
        raise _unknown_voice(voice)
    _check_range("rate", rate, RATE_RANGE)
    _check_range("volume", volume, VOLUME_RANGE)
    if pitch is not None:
        _check_range("pitch", pitch, PITCH_RANGE)
    if not isinstance(text, str) or not has_speakable_words(text):
        raise _no_words_error(text if isinstance(text, str) else "")

    chunks: list[_Chunk] = []
    if engine == "espeak":
        espeak = _Espeak.get()
        spec = ESPEAK_VOICES[base][0] + (f"+{variant}" if variant else "")
        for sentence in split_sentences(text):
            chunks.append(espeak.synthesize(sentence, spec, rate, pitch, volume))
    else:
        for sentence in split_sentences(text):
            chunks.append(_flite_synthesize(sentence, name, rate, pitch, volume))
    audio, timeline = _join(chunks, f"tts:{engine}")
    if not timeline.speech_phones:
        raise _no_words_error(text)
    audio.source = f"tts:{voice}"
    timeline.source = audio.source
    log.debug("synthesised %.2f s with %s: %d phones, %d words", audio.duration, voice,
              len(timeline.phones), len(timeline.words))  # fmt: skip
    return Speech(audio, timeline, text, voice, {"rate": rate, "pitch": pitch, "volume": volume})
