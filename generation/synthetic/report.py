"""The yield report: per class, how many images were asked for, kept, relabelled in and out, rejected; and
how balanced the final labels are.

    report = YieldReport.empty()
    report.add(record)       # per record, as they stream by
    report.rows()            # [ClassYield] in EMOTIONS order
    report.balance           # smallest / largest final class count (1 = perfectly balanced)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from rigs.emotions import EMOTIONS


@dataclass
class ClassYield:
    """One emotion class. `final` = kept + relabelled in: the images filed under this label."""

    emotion: str
    requested: int = 0
    kept: int = 0
    relabelled_in: int = 0
    relabelled_out: int = 0
    rejected: int = 0

    @property
    def final(self) -> int:
        return self.kept + self.relabelled_in

    @property
    def yield_rate(self) -> float | None:
        """Share of this class's requests that came out labelled as asked."""
        return self.kept / self.requested if self.requested else None


@dataclass
class YieldReport:
    classes: dict[str, ClassYield]
    rejected_reasons: dict[str, int] = field(default_factory=dict)  # first words of the reason -> count
    splits: dict[str, int] = field(default_factory=dict)  # final images per split

    @classmethod
    def empty(cls) -> YieldReport:
        return cls({e: ClassYield(e) for e in EMOTIONS})

    def add(self, record: dict) -> None:
        """Count one record (records stream by: the report never holds them)."""
        requested = self.classes[record["requested_emotion"]]
        requested.requested += 1
        decision = record["decision"]
        if decision == "rejected":
            requested.rejected += 1
            reason = reason_kind(record["reason"])
            self.rejected_reasons[reason] = self.rejected_reasons.get(reason, 0) + 1
            self.rejected_reasons = dict(sorted(self.rejected_reasons.items()))
            return
        if decision == "kept":
            requested.kept += 1
        else:
            requested.relabelled_out += 1
            self.classes[record["label"]].relabelled_in += 1
        self.splits[record["split"]] = self.splits.get(record["split"], 0) + 1
        self.splits = dict(sorted(self.splits.items()))

    def rows(self) -> list[ClassYield]:
        """Classes that were asked for or received images, in EMOTIONS order."""
        return [c for c in self.classes.values() if c.requested or c.final]

    @property
    def requested(self) -> int:
        return sum(c.requested for c in self.classes.values())

    @property
    def final(self) -> int:
        return sum(c.final for c in self.classes.values())

    @property
    def rejected(self) -> int:
        return sum(c.rejected for c in self.classes.values())

    @property
    def relabelled(self) -> int:
        return sum(c.relabelled_out for c in self.classes.values())

    @property
    def balance(self) -> float | None:
        """Smallest over largest final count among the requested classes (1 = balanced, 0 = a class is
        empty); None when nothing was made."""
        counts = [c.final for c in self.classes.values() if c.requested]
        return min(counts) / max(counts) if counts and max(counts) else None

    @property
    def entropy(self) -> float | None:
        """Normalised entropy of the final labels over the requested classes (1 = uniform)."""
        counts = [c.final for c in self.classes.values() if c.requested]
        total = sum(counts)
        if total == 0 or len(counts) < 2:
            return None
        h = -sum(n / total * math.log(n / total) for n in counts if n)
        return h / math.log(len(counts))

    def to_dict(self) -> dict:
        return {
            "classes": {
                name: {**asdict(c), "final": c.final, "yield": c.yield_rate} for name, c in self.classes.items()
            },
            "requested": self.requested,
            "final": self.final,
            "relabelled": self.relabelled,
            "rejected": self.rejected,
            "rejected_reasons": self.rejected_reasons,
            "splits": self.splits,
            "balance": self.balance,
            "entropy": self.entropy,
        }


def reason_kind(reason: str) -> str:
    """`'identity cosine 0.71 < 0.8'` -> `'identity cosine'`: a reason without its numbers."""
    words = []
    for word in reason.split():
        if any(ch.isdigit() for ch in word) or word in ("<", ">"):
            break
        words.append(word)
    return " ".join(words) or reason
