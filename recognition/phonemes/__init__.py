"""Phones with timings: `PhoneTimeline`, from speech with or without a transcript.

    >>> timeline = phone_timeline(load_audio("speech.wav"))                 # allphone recognition
    >>> timeline = phone_timeline(load_audio("speech.wav"), "Hello there.")  # forced alignment

`phone_timeline` handles any length (chunks in parallel); `recognize_phones` and `align_phones` decode one
utterance. Accuracy and speed: `bench/phonemes.py`.
"""

from recognition.phonemes.align import align_phones, letter_to_sound, transcript_words
from recognition.phonemes.allphone import PhoneConfig, recognize_phones
from recognition.phonemes.chunking import phone_timeline, plan_chunks
from recognition.phonemes.timeline import ARPABET, SILENCE, Phone, PhoneTimeline, Word, normalize_phone

__all__ = [
    "ARPABET",
    "SILENCE",
    "Phone",
    "PhoneConfig",
    "PhoneTimeline",
    "Word",
    "align_phones",
    "letter_to_sound",
    "normalize_phone",
    "phone_timeline",
    "plan_chunks",
    "recognize_phones",
    "transcript_words",
]
