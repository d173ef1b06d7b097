"""Identities: the portraits a dataset is made of, found, validated, de-duplicated and assigned to splits.

    found = prepare_identities(spec, analyzer, encoder)
    found.identities   # [Identity]: id, path, face, reference embedding, split
    found.skipped      # [SkippedIdentity]: path and the reason (no face, turned away, mouth covered,
                       #   duplicate, ...)

One image is one identity. An identity's id is a hash of its decoded pixels, so renaming a file keeps its
jobs, and two files with the same picture (even re-encoded losslessly) are one identity, the second
skipped as a duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from recognition.face import FaceAnalyzer, FaceObservation
from recognition.identity import IdentityEncoder
from recognition.image_io import IMAGE_SUFFIXES, load_image
from recognition.mouth_cover import mouth_looks_covered
from rigs.errors import AffectStudioError, InputFileError

log = logging.getLogger(__name__)

MAX_PORTRAIT_SIDE = 1280  # larger portraits are scaled down first (the face crop is what is rendered)


@dataclass
class Identity:
    """A usable portrait. `face` was found on the portrait scaled by `load_portrait`; `embedding` `(128,)`
    is its identity descriptor, the reference for the identity-cosine score."""

    id: str
    path: Path
    content_hash: str
    face: FaceObservation = field(repr=False)
    embedding: np.ndarray = field(repr=False)
    split: str = "train"

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class SkippedIdentity:
    path: Path
    reason: str
    duplicate_of: Path | None = None


@dataclass
class IdentitySet:
    identities: list[Identity]
    skipped: list[SkippedIdentity]
    files_found: int

    @property
    def duplicates(self) -> list[SkippedIdentity]:
        return [s for s in self.skipped if s.duplicate_of is not None]

    def by_id(self) -> dict[str, Identity]:
        return {identity.id: identity for identity in self.identities}


def pixel_hash(image: np.ndarray) -> str:
    """sha256 of an `(H, W, 3) uint8` image's size and pixels: the same picture in any lossless file."""
    digest = hashlib.sha256(f"{image.shape}".encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def load_portrait(path: Path) -> tuple[np.ndarray, str]:
    """Read a portrait -> `(image scaled to at most MAX_PORTRAIT_SIDE, pixel hash of the original)`.

    The same function runs wherever the portrait is needed, so every worker renders the same pixels."""
    image = load_image(path)
    content_hash = pixel_hash(image)
    height, width = image.shape[:2]
    scale = MAX_PORTRAIT_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, content_hash


def find_identity_files(sources: Sequence[Path]) -> list[Path]:
    """Image files named by `sources` (files, or folders searched one level deep), in name order; a
    missing source is an error naming it."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files.extend(sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif source.is_file():
            files.append(source)
        else:
            raise InputFileError(source, "identity file or folder not found (spec field 'identities')")
    seen: set[Path] = set()
    unique = []
    for path in files:  # the same file named twice (a folder and one of its files) counts once
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def assign_splits(ids: Sequence[str], splits: dict[str, float], seed: int) -> dict[str, str]:
    """Identity id -> split, so that no identity appears in two splits. The order is a seeded hash of the
    ids (stable as identities are added), and split sizes are the fractions rounded (largest remainder)."""
    order = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    n = len(order)
    exact = {name: fraction * n for name, fraction in splits.items()}
    counts = {name: int(v) for name, v in exact.items()}
    for name in sorted(exact, key=lambda k: -(exact[k] - counts[k]))[: n - sum(counts.values())]:
        counts[name] += 1
    assignment, start = {}, 0
    for name, count in counts.items():
        for identity in order[start : start + count]:
            assignment[identity] = name
        start += count
    return assignment


def prepare_identities(
    sources: Sequence[Path],
    analyzer: FaceAnalyzer,
    encoder: IdentityEncoder,
    splits: dict[str, float] | None = None,
    seed: int = 0,
    max_yaw: float = 35.0,
    min_face_px: int = 40,
) -> IdentitySet:
    """Find, validate and de-duplicate the portraits. Unusable ones are skipped with a logged reason."""
    files = find_identity_files(sources)
    identities: list[Identity] = []
    skipped: list[SkippedIdentity] = []
    first_by_hash: dict[str, Path] = {}

    def skip(path: Path, reason: str, duplicate_of: Path | None = None) -> None:
        log.info("identity %s skipped: %s", path, reason)  # reported in the result, the card and the CLI
        skipped.append(SkippedIdentity(path, reason, duplicate_of))

    for path in files:
        try:
            image, content_hash = load_portrait(path)
        except AffectStudioError as error:
            skip(path, getattr(error, "problem", str(error)))
            continue
        if content_hash in first_by_hash:
            skip(path, f"duplicate of {first_by_hash[content_hash].name} (same pixels)", first_by_hash[content_hash])
            continue
        first_by_hash[content_hash] = path
        faces = analyzer(image)
        if not faces:
            skip(path, "no face found")
            continue
        if len(faces) > 1:
            log.info("%s: %d faces; using the largest", path, len(faces))
        face = faces[0]
        if abs(face.head_pose.yaw) > max_yaw:
            skip(path, f"the face is turned {abs(face.head_pose.yaw):.0f} degrees (max_identity_yaw is {max_yaw:g})")
            continue
        if max(face.width, face.height) < min_face_px:
            skip(path, f"the face is {max(face.width, face.height):.0f} px (min_face_px is {min_face_px})")
            continue
        if mouth_looks_covered(image, face.landmarks):  # expressions would be drawn over the cover
            skip(path, "the mouth looks covered (the lips are no redder than the skin around them)")
            continue
        embedding = encoder(image, [face])[0].astype(np.float32)
        identities.append(Identity(content_hash[:12], path, content_hash, face, embedding))

    if splits:
        assignment = assign_splits([i.id for i in identities], splits, seed)
        for identity in identities:
            identity.split = assignment[identity.id]
        empty = [name for name in splits if name not in assignment.values()]
        if empty and identities:
            log.warning("split(s) %s get no identity: %d identities are too few", ", ".join(empty), len(identities))
    return IdentitySet(identities, skipped, len(files))
