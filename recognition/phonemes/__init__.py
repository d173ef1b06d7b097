"""Phones with timings: `PhoneTimeline`, from speech with or without a transcript."""

from recognition.phonemes.timeline import ARPABET, SILENCE, Phone, PhoneTimeline, Word, normalize_phone

__all__ = ["ARPABET", "SILENCE", "Phone", "PhoneTimeline", "Word", "normalize_phone"]
