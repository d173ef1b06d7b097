"""`PhoneTimeline`: ARPAbet phones (and words, when known) with start and end times in seconds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rigs.atomic import atomic_write
from rigs.errors import InputFileError

# CMU ARPAbet without stress digits, lower case (as flite prints them), plus "sil" for silence/pauses.
ARPABET: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh", "ih", "iy",
    "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "t", "th", "uh", "uw", "v", "w", "y",
    "z", "zh",
)  # fmt: skip
SILENCE = "sil"
PHONE_SET = frozenset(ARPABET) | {SILENCE}
# Extended-ARPAbet phones some engines emit (flite's "ax" schwa, TIMIT's flaps...) -> the 39-phone set.
EXTENDED_ARPABET = {
    "ax": "ah", "axr": "er", "ix": "ih", "ux": "uw", "dx": "d", "nx": "n", "el": "l", "em": "m", "en": "n",
    "hv": "hh", "q": "t",
}  # fmt: skip


def normalize_phone(label: str) -> str:
    """`'AH0'` -> `'ah'`, `'pau'`/`'SIL'`/`'+NSN+'`/`'h#'` -> `'sil'`; raises `ValueError` if unknown."""
    key = label.strip().lower().rstrip("012")
    if key in PHONE_SET:
        return key
    if key in EXTENDED_ARPABET:
        return EXTENDED_ARPABET[key]
    if key in {"pau", "sp", "spn", "h#", "", "+nsn+", "+spn+", "+noise+", "+breath+", "+cough+", "<s>", "</s>"}:
        return SILENCE
    raise ValueError(f"not an ARPAbet phone: {label!r}")


@dataclass
class Phone:
    label: str  # ARPAbet, lower case, no stress digit; "sil" for silence
    start: float  # seconds
    end: float  # seconds
    confidence: float = 1.0  # in [0, 1]; 1.0 for phones that are known (TTS) rather than recognised

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Word:
    text: str
    start: float
    end: float


@dataclass
class PhoneTimeline:
    """Phones in time order, non-overlapping; words when a transcript or TTS gave them."""

    phones: list[Phone]
    words: list[Word] = field(default_factory=list)
    source: str | None = None
    method: str = ""  # "allphone", "aligned", "tts:<engine>", ...

    @property
    def duration(self) -> float:
        return self.phones[-1].end if self.phones else 0.0

    @property
    def speech_phones(self) -> list[Phone]:
        return [p for p in self.phones if p.label != SILENCE]

    def at(self, seconds: float) -> Phone | None:
        """The phone sounding at `seconds`, if any."""
        for phone in self.phones:
            if phone.start <= seconds < phone.end:
                return phone
        return None

    def shifted(self, offset: float) -> PhoneTimeline:
        """A copy with every time moved by `offset` seconds (to join chunks)."""
        return PhoneTimeline(
            [Phone(p.label, p.start + offset, p.end + offset, p.confidence) for p in self.phones],
            [Word(w.text, w.start + offset, w.end + offset) for w in self.words],
            self.source,
            self.method,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "method": self.method,
            "phones": [asdict(p) for p in self.phones],
            "words": [asdict(w) for w in self.words],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhoneTimeline:
        return cls(
            [Phone(**p) for p in data["phones"]],
            [Word(**w) for w in data.get("words", [])],
            data.get("source"),
            data.get("method", ""),
        )

    def save(self, path: str | Path) -> Path:
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> PhoneTimeline:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise InputFileError(path, "file not found") from None
        except (ValueError, KeyError, TypeError) as error:
            raise InputFileError(path, f"not a phone timeline ({error})") from None
