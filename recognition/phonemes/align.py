"""Phones aligned to a known transcript: PocketSphinx two-pass forced alignment.

    >>> timeline = align_phones(load_audio("speech.wav"), "The quick brown fox.")  # method "aligned"
    >>> [(w.text, w.start, w.end) for w in timeline.words][:2]
    [('the', 0.205, 0.315), ('quick', 0.315, 0.615)]

Pass 1 (`set_align_text`) finds word boundaries with an FSG search over the transcript (optional pauses
and noises between words, alternate pronunciations); pass 2 (`set_alignment`) re-decodes constrained to
those words to get phone boundaries. Words missing from CMUdict get a pronunciation from
`pronounce_unknown` (acronyms spelled, the rest through `letter_to_sound`, a small rule-based G2P).

When alignment cannot be trusted or fails (no transcript words, too few words in the dictionary — a
non-English transcript —, or PocketSphinx cannot fit the words to the audio) this logs a warning and
returns the allphone result instead, with `method == "allphone"`.

PocketSphinx 5.1.1 pitfalls handled here: the decoder must have `bestpath=False` (with the default,
the FSG result comes from a lattice that can give a phone fewer frames than its HMM has states, and
pass 2 then fails with "Alignment failed in frame N" on ~15% of utterances); after a failed pass 2 the
decoder must not be asked for its hypothesis (segfault), so it is thrown away; alignment entries are
copied out in the loop that reads them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from recognition.audio import Audio
from recognition.phonemes.allphone import (
    FRAME_RATE,
    PhoneConfig,
    acoustic_confidence,
    check_sample_rate,
    decode_utterance,
    decoder_cache,
    fit_to_duration,
    merge_phones,
    model_path,
    pcm16,
    recognize_phones,
)
from recognition.phonemes.timeline import SILENCE, Phone, PhoneTimeline, Word, normalize_phone

log = logging.getLogger(__name__)


# Beam widths for a second try when the default search loses the path (seen on fast synthetic voices:
# eSpeak's "quick brown fox" fails at the defaults and aligns with these).
WIDE_BEAMS = {"beam": 1e-120, "wbeam": 1e-100, "pbeam": 1e-120}


def aligner(wide: bool = False):
    """This thread's alignment decoder (CMUdict, en-us model; built once, ~0.15 s); `wide` searches
    with much wider beams (slower, for the utterances the default search fails on)."""
    cache = decoder_cache()
    key = "aligner_wide" if wide else "aligner"
    if key not in cache:
        import pocketsphinx

        cache[key] = pocketsphinx.Decoder(
            hmm=model_path("en-us/en-us"),
            dict=model_path("en-us/cmudict-en-us.dict"),
            lm=None,
            bestpath=False,  # a Python bool: the string "no" would be truthy
            loglevel="FATAL",
            **(WIDE_BEAMS if wide else {}),
        )
    return cache[key]


def discard_aligner() -> None:
    """Forget the aligners after a failure (their state is unsafe to read afterwards)."""
    decoder_cache().pop("aligner", None)
    decoder_cache().pop("aligner_wide", None)


# --- transcript text -> dictionary words ---------------------------------------------------------------

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> list[str]:
    """Cardinal number as words: 342 -> ['three', 'hundred', 'forty', 'two']."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + (number_words(n % 10) if n % 10 else [])
    for value, name in _SCALES:
        if n >= value:
            return number_words(n // value) + [name] + (number_words(n % value) if n % value else [])
    raise ValueError(n)  # unreachable


def _digits_as_words(token: str) -> list[str]:
    """'1999' -> nineteen ninety nine (a year), '2,500' -> two thousand five hundred, '3.5' -> three
    point five, '007' -> zero zero seven."""
    token = token.replace(",", "")
    if "." in token:
        whole, _, fraction = token.partition(".")
        return _digits_as_words(whole or "0") + ["point"] + [_ONES[int(d)] for d in fraction]
    if len(token) > 1 and token.startswith("0") or len(token) > 12:
        return [_ONES[int(d)] for d in token]
    n = int(token)
    if len(token) == 4 and 1100 <= n <= 1999 and n % 100 != 0:
        tail = number_words(n % 100) if n % 100 >= 10 else ["oh"] + number_words(n % 100)
        return number_words(n // 100) + tail
    return number_words(n)


_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z]+(?:'[A-Za-z]+)*")


def transcript_tokens(text: str) -> list[tuple[str, bool]]:
    """Spoken tokens of `text` as `(lower-case word, was written in capitals)`: accents stripped,
    numbers written out, '&' and '%' as words, hyphens and other punctuation as spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u00df", "ss").replace("&", " and ").replace("%", " percent ")
    tokens: list[tuple[str, bool]] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0].isdigit():
            tokens.extend((word, False) for word in _digits_as_words(token))
        else:
            tokens.append((token.lower(), len(token) > 1 and token.isupper()))
    return tokens


def transcript_words(text: str) -> list[str]:
    """The words `align_phones` aligns for `text` (and reports in `PhoneTimeline.words`), in order."""
    return [word for word, _ in transcript_tokens(text)]


# --- pronunciations for words missing from CMUdict ----------------------------------------------------

LETTER_NAMES = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY", "h": "EY CH",
    "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N", "o": "OW", "p": "P IY",
    "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW", "v": "V IY",
    "w": "D AH B AH L Y UW", "x": "EH K S", "y": "W AY", "z": "Z IY",
}  # fmt: skip

# Grapheme -> phones, longest first at each position. A small hand-written rule set in the spirit of the
# NRL letter-to-sound rules: enough to give an unknown word (mostly names) the right number and kind of
# phones, which is what alignment needs. Context rules (soft c/g, magic e, word edges) are in code below.
_INITIAL = {"kn": "N", "wr": "R", "gn": "N", "ps": "S", "pn": "N", "x": "Z", "y": "Y", "gh": "G", "mc": "M AH K"}
_FINAL = {"y": "IY", "ey": "IY", "o": "OW", "a": "AH", "i": "IY", "es": "Z", "ed": "D", "ow": "OW",
          "ng": "NG", "mb": "M", "gh": "", "le": "AH L", "re": "ER"}  # fmt: skip
_GRAPHEMES = {
    "tion": "SH AH N", "sion": "ZH AH N", "ough": "OW", "augh": "AO", "eigh": "EY", "tch": "CH", "dge": "JH",
    "igh": "AY", "sch": "S K", "ch": "CH", "sh": "SH", "th": "TH", "ph": "F", "wh": "W", "ck": "K", "ng": "NG",
    "nk": "NG K", "qu": "K W", "gh": "", "zh": "ZH", "kh": "K", "tz": "T S", "ee": "IY", "ea": "IY",
    "oo": "UW", "ou": "AW", "ow": "AW", "oi": "OY", "oy": "OY", "ai": "EY", "ay": "EY", "au": "AO", "aw": "AO",
    "ei": "EY", "ey": "EY", "ie": "IY", "ue": "UW", "ew": "UW", "oa": "OW", "ar": "AA R", "er": "ER",
    "ir": "ER", "ur": "ER", "or": "AO R", "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F",
    "g": "G", "h": "HH", "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S", "y": "IH", "z": "Z",
}  # fmt: skip
_LONG_VOWEL = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW", "y": "AY"}
_VOWELS = set("aeiouy")


def letter_to_sound(word: str) -> list[str]:
    """ARPAbet phones (upper case, no stress) for an English-looking word, by rules: 'quetzaltenango' ->
    K W EH T S AE L T EH N AE NG G OW. Right for regular spellings, approximate otherwise."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    # collapse doubled consonants ('ll' -> 'l'), keep doubled vowels ('ee', 'oo')
    letters = re.sub(r"([b-df-hj-np-tv-z])\1+", r"\1", letters)
    phones: list[str] = []
    i, n = 0, len(letters)
    while i < n:
        rest = letters[i:]
        # magic e: vowel + one consonant + final 'e' -> long vowel, silent e ('kate', 'zone')
        if rest[0] in _LONG_VOWEL and len(rest) == 3 and rest[1] not in _VOWELS and rest[2] == "e" and (i > 0 or n > 3):
            consonant = _GRAPHEMES[rest[1]]
            if rest[1] == "c":
                consonant = "S"
            elif rest[1] == "g":
                consonant = "JH"
            phones += [_LONG_VOWEL[rest[0]], *consonant.split()]
            break
        if i == n - 1 and rest == "e" and n > 2:  # other final e: silent
            break
        chunk, sound = None, None
        if i == 0:
            chunk = next((g for g in sorted(_INITIAL, key=len, reverse=True) if rest.startswith(g)), None)
            sound = _INITIAL.get(chunk) if chunk else None
        if chunk is None:
            chunk = next((g for g in sorted(_FINAL, key=len, reverse=True) if rest == g and i > 0), None)
            sound = _FINAL.get(chunk) if chunk else None
        if chunk is None:
            chunk = next(g for g in sorted(_GRAPHEMES, key=len, reverse=True) if rest.startswith(g))
            sound = _GRAPHEMES[chunk]
            following = letters[i + len(chunk) : i + len(chunk) + 1]
            if chunk == "c" and following in ("e", "i", "y"):
                sound = "S"
            elif chunk == "g" and following in ("e", "i", "y"):
                sound = "JH"
            elif chunk == "s" and 0 < i and letters[i - 1] in _VOWELS and following in _VOWELS:
                sound = "Z"
            elif chunk == "y" and i > 0 and letters[i - 1] not in _VOWELS and following in _VOWELS:
                sound = "Y"
        phones += sound.split()
        i += len(chunk)
    return phones or ["AH"]


def pronounce_unknown(word: str, capitals: bool, lookup) -> str:
    """A pronunciation for a word missing from the dictionary (`lookup(word) -> phones | None`):
    possessives and contractions of known words, acronyms of up to 5 capitals spelled letter by letter,
    everything else by `letter_to_sound`."""
    base, _, suffix = word.partition("'")
    if suffix in ("s", "ll", "d", "re", "ve") and lookup(base):
        extra = {"s": "Z", "ll": "L", "d": "D", "re": "ER", "ve": "V"}[suffix]
        return f"{lookup(base)} {extra}"
    if capitals and len(word) <= 5 and word.isalpha():
        return " ".join(LETTER_NAMES[c] for c in word)
    return " ".join(letter_to_sound(word))


ADDED_WORDS: dict[str, str] = {}  # pronunciations this process gave words missing from CMUdict


def prepare_words(decoder, text: str) -> tuple[list[str], int, dict[str, str]]:
    """Transcript words of `text`, each in `decoder`'s dictionary; how many CMUdict knew; and the
    pronunciations made for the others (`{word: "PH ON ES"}`, to add in other processes too)."""
    words, known, added = [], 0, {}
    for word, capitals in transcript_tokens(text):
        if word not in ADDED_WORDS and decoder.lookup_word(word) is not None:
            known += 1
        else:
            if word not in ADDED_WORDS:
                ADDED_WORDS[word] = pronounce_unknown(word, capitals, decoder.lookup_word)
                log.info("%r is not in the dictionary; pronouncing it %s", word, ADDED_WORDS[word])
            added[word] = ADDED_WORDS[word]
        words.append(word)
    add_words(decoder, added)
    return words, known, added


def add_words(decoder, pronunciations: dict[str, str]) -> None:
    """Add `{word: phones}` to `decoder`'s dictionary where missing."""
    for word, phones in pronunciations.items():
        if decoder.lookup_word(word) is None:
            decoder.add_word(word, phones, True)


# --- alignment ---------------------------------------------------------------------------------------


def _is_filler(name: str) -> bool:
    return name.startswith(("<", "[", "+", "("))


def _two_pass(decoder, pcm: bytes, words: list[str]):
    """Run both passes; `[(word, start_frame, frames, [(phone, start_frame, frames, score)])]`, or None."""
    try:
        decoder.set_align_text(" ".join(words))
    except RuntimeError:  # a word missing from the dictionary
        return None
    decode_utterance(decoder, pcm)
    if decoder.hyp() is None:  # the words do not fit the audio (e.g. silence, or far too many words)
        return None
    return _phone_pass(decoder, pcm)


def _phone_pass(decoder, pcm: bytes):
    """Pass 2 on the words of the decoder's last hypothesis (from pass 1 or a word grammar): the entries
    `_two_pass` returns, or None."""
    try:
        decoder.set_alignment()
        decode_utterance(decoder, pcm)
    except RuntimeError:
        discard_aligner()  # reading this decoder's hypothesis now would crash the process
        return None
    alignment = decoder.get_alignment()
    entries = [
        (w.name, w.start, w.duration, [(p.name, p.start, p.duration, p.score) for p in w]) for w in alignment
    ]  # copied out in one pass: entries must not outlive the loop that reads them
    del alignment
    return entries


def _timeline(entries, words: list[str], config: PhoneConfig, audio: Audio) -> PhoneTimeline:
    offset = config.frame_offset_s
    phones: list[Phone] = []
    timed_words: list[Word] = []
    remaining = iter(words)
    for name, start, frames, phone_entries in entries:
        for label, p_start, p_frames, score in phone_entries:
            try:
                label = normalize_phone(label)
            except ValueError:
                label = SILENCE
            confidence = 1.0 if label == SILENCE else acoustic_confidence(score, p_frames)
            t0, t1 = p_start / FRAME_RATE + offset, (p_start + p_frames) / FRAME_RATE + offset
            phones.append(Phone(label, round(t0, 4), round(t1, 4), confidence))
        if not _is_filler(name):
            text = next(remaining, name.split("(")[0])
            t0, t1 = start / FRAME_RATE + offset, (start + frames) / FRAME_RATE + offset
            timed_words.append(Word(text, round(t0, 4), round(t1, 4)))
    phones = fit_to_duration(merge_phones(phones), audio.duration)
    if timed_words:
        timed_words[0].start = max(timed_words[0].start, 0.0)
        timed_words[-1].end = min(timed_words[-1].end, audio.duration)
    return PhoneTimeline(phones, timed_words, audio.source, "aligned")


def _fallback(audio: Audio, config: PhoneConfig, reason: str) -> PhoneTimeline:
    log.warning("%s: %s; using phone recognition without the transcript (allphone)", audio.source or "audio", reason)
    return recognize_phones(audio, config)


def transcript_problem(words: list[str], known: int, config: PhoneConfig) -> str | None:
    """Why a transcript cannot be aligned (None when it can)."""
    if not words:
        return "the transcript has no English words"
    if known < config.min_known_fraction * len(words):
        return f"only {known} of the transcript's {len(words)} words are English dictionary words"
    return None


def align_words(
    audio: Audio, words: list[str], config: PhoneConfig = PhoneConfig(), pronunciations: dict[str, str] | None = None
) -> PhoneTimeline | None:
    """Two-pass alignment of `words` (dictionary words, or given in `pronunciations`) to `audio`; the
    aligned timeline, or None when PocketSphinx cannot fit them (no fallback here)."""
    check_sample_rate(audio)
    pcm = pcm16(audio.samples)
    entries = None
    for wide in (False, True):
        decoder = aligner(wide)
        add_words(decoder, {**ADDED_WORDS, **(pronunciations or {})})
        entries = _two_pass(decoder, pcm, words)
        if entries is not None:
            break
    return None if entries is None else _timeline(entries, words, config, audio)


def align_phones(audio: Audio, transcript: str, config: PhoneConfig = PhoneConfig()) -> PhoneTimeline:
    """Phones and words of `audio` (mono, 16 kHz) aligned to `transcript`, as one utterance.

    Returns a contiguous `PhoneTimeline` over [0, audio.duration] s with method "aligned" and one `Word`
    per `transcript_words(transcript)` entry, or the allphone result (method "allphone", no words, a
    warning logged) when the transcript is empty, mostly non-dictionary, or does not fit the audio.
    Cost ~0.03 x real time, but time and memory grow faster than the length (a 600 s utterance took
    36 s and 8 GB): `phone_timeline` aligns long audio chunk by chunk.
    """
    check_sample_rate(audio)
    words, known, _ = prepare_words(aligner(), transcript)
    problem = transcript_problem(words, known, config)
    if problem:
        return _fallback(audio, config, problem)
    timeline = align_words(audio, words, config)
    if timeline is None:
        return _fallback(audio, config, "the transcript could not be aligned to the audio")
    return timeline


def align_spoken_words(
    audio: Audio,
    words: list[str],
    min_words: int = 0,
    config: PhoneConfig = PhoneConfig(),
    pronunciations: dict[str, str] | None = None,
    report: Callable[[int | None], None] | None = None,
) -> tuple[int | None, PhoneTimeline | None]:
    """How many of `words` `audio` speaks, counting from the first, and those words aligned.

    Pass 1 runs over a grammar that may stop after any word from `min_words` on; `report(count)` is
    called as soon as it ends (so a caller sharing a transcript among chunks can hand the next chunk its
    words while this one's phones are aligned); pass 2 then aligns the counted words on pass 1's result.
    Returns `(count, timeline)`: count None when nothing fits, timeline None when there is nothing to
    align (count 0 or None) or the counted words will not align even with wider beams."""
    if not words:
        if report is not None:
            report(0)
        return 0, None
    decoder = aligner()
    add_words(decoder, {**ADDED_WORDS, **(pronunciations or {})})
    pcm = pcm16(audio.samples)
    end = len(words)
    transitions = [(i, i + 1, 1.0, word) for i, word in enumerate(words)]
    # stopping after word k >= min_words: word k may also lead straight to the end. A word, not an empty
    # transition: pass 2 cannot set up from a hypothesis that took one ("Failed to set up sub-word
    # alignment"), so only stopping before the first word is empty
    transitions += [(k - 1, end, 1.0, words[k - 1]) for k in range(max(min_words, 1), end)]
    if min_words <= 0:
        transitions.append((0, end, 1.0))
    decoder.add_fsg("chunk_words", decoder.create_fsg("chunk_words", 0, end, transitions))
    decoder.activate_search("chunk_words")
    decode_utterance(decoder, pcm)
    count = None if decoder.hyp() is None else sum(1 for seg in decoder.seg() if not _is_filler(seg.word))
    if report is not None:
        report(count)
    if not count:
        return count, None
    entries = _phone_pass(decoder, pcm)
    if entries is None:  # the default beams lost the path: both passes again, with wider ones if need be
        return count, align_words(audio, words[:count], config, pronunciations)
    return count, _timeline(entries, words[:count], config, audio)


def silence_timeline(audio: Audio, method: str) -> PhoneTimeline:
    """All "sil" over `audio` (what silence-only input gives)."""
    return PhoneTimeline(fit_to_duration([], audio.duration), source=audio.source, method=method)
