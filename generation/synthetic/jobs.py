"""Jobs: a spec and its identities expanded into one job per image, deterministically.

    for job in iter_jobs(spec, identities): ...   # identity × emotion × intensity × AU combination × image

Order is identity (as found), emotion (as listed), intensity, AU combination, image. A job's id and seed
are hashes of the spec's seed, the identity's pixels and the cell, so they do not depend on the order,
on which other identities or emotions are in the spec, or on the machine; the head pose, gaze and
augmentation of a job are drawn from its own seed when the job is made, and stored in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from generation.synthetic.augment import AugmentParams, sample_augment
from generation.synthetic.identities import Identity
from generation.synthetic.spec import DatasetSpec, combo_name


@dataclass(frozen=True)
class Job:
    """One image to make. `head` is yaw/pitch/roll and `gaze` yaw/pitch, in degrees relative to the
    portrait; `action_units` are the spec's explicit AUs `(number, strength)` on top of the emotion."""

    index: int  # position in the expansion: the order records are written in
    id: str  # 16 hex digits
    identity: str  # Identity.id
    split: str
    emotion: str
    intensity: float  # 0 for neutral
    action_units: tuple[tuple[int, float], ...]
    image: int  # which image of its cell
    seed: int
    head: tuple[float, float, float]
    gaze: tuple[float, float]
    augment: AugmentParams


def job_hash(seed: int, content_hash: str, emotion: str, intensity: float, combo: str, image: int) -> bytes:
    return hashlib.sha256(f"{seed}|{content_hash}|{emotion}|{intensity:g}|{combo}|{image}".encode()).digest()


def _draw(low_high: tuple[float, float], t: float) -> float:
    low, high = low_high
    return round(low + (high - low) * float(t), 2) + 0.0


def make_job(spec: DatasetSpec, identity: Identity, emotion: str, intensity: float, combo: dict, image: int,
             index: int) -> Job:  # fmt: skip
    digest = job_hash(spec.seed, identity.content_hash, emotion, intensity, combo_name(combo), image)
    seed = int.from_bytes(digest[8:16], "little") >> 1
    rng = np.random.default_rng(seed)
    pose = rng.uniform(0.0, 1.0, size=5)  # always five draws, then the augmentation's
    head = (
        _draw(spec.head_pose.yaw, pose[0]),
        _draw(spec.head_pose.pitch, pose[1]),
        _draw(spec.head_pose.roll, pose[2]),
    )
    gaze = (_draw(spec.gaze.yaw, pose[3]), _draw(spec.gaze.pitch, pose[4]))
    return Job(
        index=index, id=digest.hex()[:16], identity=identity.id, split=identity.split, emotion=emotion,
        intensity=intensity, action_units=tuple(sorted(combo.items())), image=image, seed=seed, head=head, gaze=gaze,
        augment=sample_augment(spec.augment, rng),
    )  # fmt: skip


def iter_cells(spec: DatasetSpec) -> Iterator[tuple[str, float, dict]]:
    """Emotion, intensity, AU combination per cell of one identity, in order (neutral: intensity 0)."""
    for emotion in spec.emotions:
        for intensity in spec.intensities_for(emotion):
            for combo in spec.action_units:
                yield emotion, intensity, dict(combo)


def iter_jobs(spec: DatasetSpec, identities: Sequence[Identity]) -> Iterator[Job]:
    """Every job, in order; memory stays flat however many there are."""
    index = 0
    for identity in identities:
        for emotion, intensity, combo in iter_cells(spec):
            for image in range(spec.images_per_cell):
                yield make_job(spec, identity, emotion, intensity, combo, image, index)
                index += 1


def count_jobs(spec: DatasetSpec, identities: int) -> int:
    return identities * spec.cells_per_identity() * spec.images_per_cell


def jobs_per_class(spec: DatasetSpec, identities: int) -> dict[str, int]:
    """Requested images per emotion class."""
    per_cell = identities * len(spec.action_units) * spec.images_per_cell
    return {e: per_cell * len(spec.intensities_for(e)) for e in spec.emotions}
