"""`DatasetSpec`: what a synthetic facial-expression dataset holds, as plain data (YAML or JSON).

    spec = DatasetSpec.from_file("assets/specs/example.yaml")
    spec = DatasetSpec(identities="portraits/", emotions=("happy", "sad"), intensities=(0.5, 1.0),
                       images_per_cell=4, head_pose={"yaw": (-10, 10)}, resolution=256)

A *cell* is one identity × emotion × intensity × action-unit combination; each cell gets
`images_per_cell` images that differ by head pose, gaze and augmentations drawn from the ranges below.
Neutral has no intensity: it is one cell per identity and AU combination.

Every field is checked when the spec is built; a mistake is one line that names the field and the
allowed values (`SpecError`), e.g. `spec field 'resolution': 300 is not allowed; allowed: 128, 224, ...`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from rigs.emotions import EMOTIONS, UnknownEmotionError, canonical_emotion
from rigs.errors import AffectStudioError, InputFileError, did_you_mean
from rigs.facs import ACTION_UNIT_BY_NUMBER

ALLOWED_RESOLUTIONS = (128, 224, 256, 384, 512, 1024)
SPLIT_NAMES = ("train", "validation", "test")  # the split folders Hugging Face `imagefolder` recognises
HEAD_LIMITS_DEG = {"yaw": 30.0, "pitch": 20.0, "roll": 30.0}  # a 2D warp cannot turn a head further
GAZE_LIMIT_DEG = 25.0


class SpecError(AffectStudioError):
    """A spec field with a bad value: `spec field 'intensities[0]': 1.5 is out of range; allowed: 0.05 to 1`."""

    def __init__(self, field_name: str, problem: str, source: str | Path | None = None):
        self.field = field_name
        self.problem = problem
        prefix = f"{source}: " if source is not None else ""
        super().__init__(f"{prefix}spec field {field_name!r}: {problem}")


# ---------------------------------------------------------------------------------------------------------
# Small checkers: each returns the clean value or raises SpecError naming the field


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(name, f"expected a number from {low:g} to {high:g}, got {value!r}")
    if not low <= value <= high:
        raise SpecError(name, f"{value:g} is out of range; allowed: {low:g} to {high:g}")
    return float(value)


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, f"expected a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise SpecError(name, f"{value} is out of range; allowed: {low} to {high}")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(name, f"expected true or false, got {value!r}")
    return value


def _range(name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    """A number (fixed) or a `[min, max]` pair, inside `[low, high]`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = _number(name, value, low, high)
        return (v, v)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        a, b = (_number(f"{name}[{i}]", v, low, high) for i, v in enumerate(value))
        if a > b:
            raise SpecError(name, f"[{a:g}, {b:g}]: the minimum is larger than the maximum")
        return (a, b)
    raise SpecError(name, f"expected a number or a [min, max] pair within {low:g} to {high:g}, got {value!r}")


def _sequence(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise SpecError(name, f"expected a list, got {value!r}")
    return list(value)


def _no_unknown_keys(name: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in given:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            where = f"{name}.{key}" if name else str(key)
            raise SpecError(where, f"unknown field{hint}; allowed fields: {', '.join(allowed)}")


def _section(cls, name: str, value: Any):
    """A nested section given as a mapping (YAML/JSON) or already as its dataclass."""
    if isinstance(value, cls):
        return value
    if value is None:
        return cls()
    if not isinstance(value, Mapping):
        raise SpecError(name, f"expected a mapping of fields, got {value!r}")
    allowed = [f.name for f in fields(cls)]
    _no_unknown_keys(name, value, allowed)
    return cls(**value)


def _au_number(name: str, key: Any) -> int:
    """`12`, `"12"` or `"AU12"` -> 12, for the AUs the rig can draw."""
    text = str(key).strip().upper().removeprefix("AU")
    valid = ", ".join(str(n) for n in ACTION_UNIT_BY_NUMBER)
    if not text.isdigit() or int(text) not in ACTION_UNIT_BY_NUMBER:
        raise SpecError(name, f"unknown action unit {key!r}; allowed AUs: {valid}")
    return int(text)


# ---------------------------------------------------------------------------------------------------------
# Sections


@dataclass
class HeadPoseSpec:
    """Head rotation relative to the portrait, degrees: a number (fixed) or `[min, max]` (uniform).
    yaw > 0 turns toward the subject's left, pitch > 0 looks down, roll > 0 tilts counter-clockwise."""

    yaw: tuple[float, float] = (0.0, 0.0)
    pitch: tuple[float, float] = (0.0, 0.0)
    roll: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        for axis, limit in HEAD_LIMITS_DEG.items():
            setattr(self, axis, _range(f"head_pose.{axis}", getattr(self, axis), -limit, limit))


@dataclass
class GazeSpec:
    """Eye rotation, degrees, both eyes together: a number or `[min, max]` (yaw > 0: subject's left)."""

    yaw: tuple[float, float] = (0.0, 0.0)
    pitch: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        for axis in ("yaw", "pitch"):
            setattr(self, axis, _range(f"gaze.{axis}", getattr(self, axis), -GAZE_LIMIT_DEG, GAZE_LIMIT_DEG))


@dataclass
class AugmentSpec:
    """Photometric and geometric augmentations applied to each rendered still, each drawn per image.

    Amounts are the largest change: `brightness: 0.1` draws an offset in [-0.1, 0.1] of full scale."""

    crop_scale: tuple[float, float] = (1.0, 1.0)  # side of a random square crop, fraction of the image
    crop_shift: float = 0.0  # largest crop-centre shift, fraction of the image side
    flip: float = 0.0  # probability of a mirror flip (Left/Right labels, yaw, roll and gaze follow)
    brightness: float = 0.0  # additive, fraction of full scale
    contrast: float = 0.0  # multiplicative about the mean, 1 ± this
    saturation: float = 0.0  # 1 ± this
    hue: float = 0.0  # degrees
    white_balance: float = 0.0  # per-channel gains 1 ± this (colour cast)
    lighting: float = 0.0  # strength of a directional shading gradient across the face
    blur: float = 0.0  # largest Gaussian sigma, pixels at the output resolution
    noise: float = 0.0  # largest Gaussian noise std, grey levels
    jpeg_quality: tuple[int, int] | None = None  # [min, max] JPEG re-compression quality, or none

    def __post_init__(self) -> None:
        self.crop_scale = _range("augment.crop_scale", self.crop_scale, 0.6, 1.0)
        self.crop_shift = _number("augment.crop_shift", self.crop_shift, 0.0, 0.15)
        self.flip = _number("augment.flip", self.flip, 0.0, 1.0)
        self.brightness = _number("augment.brightness", self.brightness, 0.0, 0.5)
        self.contrast = _number("augment.contrast", self.contrast, 0.0, 0.5)
        self.saturation = _number("augment.saturation", self.saturation, 0.0, 1.0)
        self.hue = _number("augment.hue", self.hue, 0.0, 45.0)
        self.white_balance = _number("augment.white_balance", self.white_balance, 0.0, 0.3)
        self.lighting = _number("augment.lighting", self.lighting, 0.0, 0.6)
        self.blur = _number("augment.blur", self.blur, 0.0, 3.0)
        self.noise = _number("augment.noise", self.noise, 0.0, 20.0)
        if self.jpeg_quality is not None:
            low, high = _range("augment.jpeg_quality", self.jpeg_quality, 10, 100)
            if low != int(low) or high != int(high):
                raise SpecError("augment.jpeg_quality", "expected whole numbers from 10 to 100")
            self.jpeg_quality = (int(low), int(high))

    def varies(self) -> bool:
        """Whether two images of the same cell can differ."""
        amounts = ("crop_shift", "flip", "brightness", "contrast", "saturation", "hue", "white_balance", "lighting",
                   "blur", "noise")  # fmt: skip
        return (
            self.crop_scale[0] < self.crop_scale[1]
            or any(getattr(self, name) > 0 for name in amounts)
            or (self.jpeg_quality is not None and self.jpeg_quality[0] < self.jpeg_quality[1])
        )


@dataclass
class QualitySpec:
    """Recognition in the loop: how each scored image is kept, relabelled or rejected.

    An image without a re-detectable face is rejected; so is one whose identity cosine to the portrait
    is below `min_identity_cosine`, or whose re-detected blendshapes are further than
    `max_blendshape_error` (mean absolute error) from the request. Otherwise, if the FER ensemble gives
    the requested emotion at least `min_emotion_probability`, it is kept; else, with `relabel`, it is
    relabelled to the class the FER gives at least `min_relabel_probability` (SynFER's pseudo-label
    calibration); else rejected."""

    min_emotion_probability: float = 0.4
    relabel: bool = True
    min_relabel_probability: float = 0.6
    min_identity_cosine: float = 0.8
    max_blendshape_error: float = 0.3
    keep_rejected: bool = False  # also write rejected images, to OUT/rejected/<requested emotion>/

    def __post_init__(self) -> None:
        self.min_emotion_probability = _number("quality.min_emotion_probability", self.min_emotion_probability, 0, 1)
        self.relabel = _boolean("quality.relabel", self.relabel)
        self.min_relabel_probability = _number("quality.min_relabel_probability", self.min_relabel_probability, 0, 1)
        self.min_identity_cosine = _number("quality.min_identity_cosine", self.min_identity_cosine, -1, 1)
        self.max_blendshape_error = _number("quality.max_blendshape_error", self.max_blendshape_error, 0, 1)
        self.keep_rejected = _boolean("quality.keep_rejected", self.keep_rejected)


# ---------------------------------------------------------------------------------------------------------
# The spec


@dataclass
class DatasetSpec:
    """A synthetic FER dataset, as data. See the module docstring and `assets/specs/example.yaml`."""

    identities: str | Sequence[str]  # image files and/or folders of portraits, one identity per image
    emotions: Sequence[str] = EMOTIONS
    intensities: Sequence[float] = (1.0,)
    action_units: Sequence[Mapping[Any, float]] = ({},)  # explicit AU combinations, each added to every cell
    images_per_cell: int = 1
    head_pose: HeadPoseSpec | Mapping[str, Any] = field(default_factory=HeadPoseSpec)
    gaze: GazeSpec | Mapping[str, Any] = field(default_factory=GazeSpec)
    augment: AugmentSpec | Mapping[str, Any] = field(default_factory=AugmentSpec)
    quality: QualitySpec | Mapping[str, Any] = field(default_factory=QualitySpec)
    resolution: int = 256  # side of the square face image, pixels
    seed: int = 0
    splits: Mapping[str, float] = field(default_factory=lambda: {"train": 1.0})  # by identity
    max_identity_yaw: float = 35.0  # portraits turned further are skipped (a 2D warp needs a frontal face)
    min_face_px: int = 40  # portraits whose face is smaller are skipped
    png_compression: int = 1  # zlib level 0-9; fixed, so the bytes of an image depend only on the spec
    parquet: bool = False  # also write parquet/<split>.parquet (images embedded)
    name: str = "affect-studio-synthetic-fer"
    description: str = ""
    base_dir: Path | None = field(default=None, compare=False, repr=False)  # relative paths resolve here

    def __post_init__(self) -> None:
        # identities
        sources = [self.identities] if isinstance(self.identities, (str, Path)) else self.identities
        sources = _sequence("identities", sources)
        if not sources:
            raise SpecError("identities", "empty; give image files or folders of portraits")
        for i, source in enumerate(sources):
            if not isinstance(source, (str, Path)) or not str(source).strip():
                raise SpecError(f"identities[{i}]", f"expected a file or folder path, got {source!r}")
        self.identities = tuple(str(s) for s in sources)

        # emotions
        emotions = []
        for i, name in enumerate(_sequence("emotions", self.emotions)):
            if not isinstance(name, str):
                raise SpecError(f"emotions[{i}]", f"expected an emotion name; allowed: {', '.join(EMOTIONS)}")
            try:
                emotion = canonical_emotion(name)
            except UnknownEmotionError as error:
                raise SpecError(f"emotions[{i}]", str(error)) from None
            if emotion in emotions:
                raise SpecError(f"emotions[{i}]", f"{name!r} is listed twice")
            emotions.append(emotion)
        if not emotions:
            raise SpecError("emotions", f"empty; allowed: {', '.join(EMOTIONS)}")
        self.emotions = tuple(emotions)

        # intensities
        intensities = [
            _number(f"intensities[{i}]", v, 0.05, 1.0) for i, v in enumerate(_sequence("intensities", self.intensities))
        ]
        if not intensities:
            raise SpecError("intensities", "empty; give intensities from 0.05 to 1")
        if len(set(intensities)) != len(intensities):
            raise SpecError("intensities", f"{intensities} lists a value twice")
        self.intensities = tuple(intensities)

        # action-unit combinations
        combos: list[dict[int, float]] = []
        for i, combo in enumerate(_sequence("action_units", self.action_units)):
            name = f"action_units[{i}]"
            if combo is None:
                combo = {}
            if not isinstance(combo, Mapping):
                raise SpecError(
                    name, f"expected a mapping of AU to strength, e.g. {{AU12: 0.8, AU6: 0.5}}, got {combo!r}"
                )
            clean = {}
            for key, strength in combo.items():
                number = _au_number(name, key)
                clean[number] = _number(f"{name}.AU{number}", strength, 0.0, 1.0)
            clean = dict(sorted(clean.items()))
            if clean in combos:
                raise SpecError(name, f"the combination {combo_name(clean)} is listed twice")
            combos.append(clean)
        if not combos:
            raise SpecError("action_units", "empty; use [{}] (the default) for no extra action units")
        self.action_units = tuple(combos)

        self.images_per_cell = _integer("images_per_cell", self.images_per_cell, 1, 100_000)
        self.head_pose = _section(HeadPoseSpec, "head_pose", self.head_pose)
        self.gaze = _section(GazeSpec, "gaze", self.gaze)
        self.augment = _section(AugmentSpec, "augment", self.augment)
        self.quality = _section(QualitySpec, "quality", self.quality)
        if isinstance(self.resolution, bool) or self.resolution not in ALLOWED_RESOLUTIONS:
            raise SpecError(
                "resolution", f"{self.resolution!r} is not allowed; allowed: {', '.join(map(str, ALLOWED_RESOLUTIONS))}"
            )
        self.seed = _integer("seed", self.seed, 0, 2**63 - 1)

        # splits, by identity
        if not isinstance(self.splits, Mapping) or not self.splits:
            raise SpecError("splits", f"expected a mapping of split to fraction, e.g. {{train: 0.8, test: 0.2}}; "
                                      f"allowed splits: {', '.join(SPLIT_NAMES)}")  # fmt: skip
        splits = {}
        for key, fraction in self.splits.items():
            if key not in SPLIT_NAMES:
                raise SpecError(f"splits.{key}", f"unknown split; allowed: {', '.join(SPLIT_NAMES)}")
            splits[key] = _number(f"splits.{key}", fraction, 0.0, 1.0)
        if abs(sum(splits.values()) - 1.0) > 1e-6:
            raise SpecError("splits", f"fractions add up to {sum(splits.values()):g}; they must add up to 1")
        self.splits = {name: splits[name] for name in SPLIT_NAMES if name in splits}

        self.max_identity_yaw = _number("max_identity_yaw", self.max_identity_yaw, 0.0, 60.0)
        self.min_face_px = _integer("min_face_px", self.min_face_px, 16, 4096)
        self.png_compression = _integer("png_compression", self.png_compression, 0, 9)
        self.parquet = _boolean("parquet", self.parquet)
        if not isinstance(self.name, str) or not self.name.strip():
            raise SpecError("name", f"expected a non-empty text, got {self.name!r}")
        if not isinstance(self.description, str):
            raise SpecError("description", f"expected a text, got {self.description!r}")
        if self.base_dir is not None:
            self.base_dir = Path(self.base_dir)

        # identical images are not data: more than one image per cell needs something that varies
        if self.images_per_cell > 1 and not self.varies():
            raise SpecError(
                "images_per_cell",
                f"{self.images_per_cell} images per cell would be identical; give head_pose, gaze or augment "
                "ranges, or use images_per_cell: 1",
            )

    # -- reading ----------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str | Path | None = None) -> DatasetSpec:
        if not isinstance(data, Mapping):
            raise SpecError("(top level)", "expected a mapping of fields, e.g. `identities: portraits/`")
        allowed = [f.name for f in fields(cls) if f.name != "base_dir"]
        _no_unknown_keys("", data, allowed)
        if "identities" not in data:
            raise SpecError("identities", "missing; give image files or folders of portraits")
        return cls(**data, base_dir=base_dir)

    @classmethod
    def from_file(cls, path: str | Path) -> DatasetSpec:
        """Read a YAML or JSON spec. Relative identity paths are relative to the spec file's folder."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise InputFileError(path, "spec file not found" if not path.exists() else "is not a file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InputFileError(path, "not a text file (expected YAML or JSON)") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or "syntax error"
            raise InputFileError(path, f"not valid YAML or JSON{where}: {problem}") from None
        if data is None:
            raise InputFileError(path, "the spec is empty; it needs at least `identities:`")
        try:
            return cls.from_dict(data, base_dir=path.resolve().parent)
        except SpecError as error:
            raise SpecError(error.field, error.problem, source=path) from None
        except TypeError as error:  # e.g. a section given as a list
            raise InputFileError(path, str(error)) from None

    # -- using ------------------------------------------------------------------------------------------

    def varies(self) -> bool:
        """Whether images of one cell differ (head pose, gaze or an augmentation is drawn per image)."""
        ranges = [*vars(self.head_pose).values(), *vars(self.gaze).values()]
        return any(low < high for low, high in ranges) or self.augment.varies()

    def identity_paths(self) -> list[Path]:
        """The `identities` entries as paths, relative ones resolved against `base_dir`."""
        base = self.base_dir or Path.cwd()
        paths = (Path(s).expanduser() for s in self.identities)
        return [Path(os.path.normpath(p if p.is_absolute() else base / p)) for p in paths]

    def intensities_for(self, emotion: str) -> tuple[float, ...]:
        """The intensities of `emotion`'s cells: the spec's, but neutral has none (one cell at 0)."""
        return (0.0,) if emotion == "neutral" else tuple(self.intensities)

    def cells_per_identity(self) -> int:
        """Cells per identity: emotions × intensities × AU combinations."""
        return sum(len(self.intensities_for(e)) for e in self.emotions) * len(self.action_units)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable data that `from_dict` reads back (AU keys as `AU12`)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "base_dir"}
        data["identities"] = list(self.identities)
        data["emotions"] = list(self.emotions)
        data["intensities"] = list(self.intensities)
        data["action_units"] = [{f"AU{n:02d}": v for n, v in combo.items()} for combo in self.action_units]
        for name in ("head_pose", "gaze", "augment", "quality"):
            data[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(getattr(self, name)).items()}
        data["splits"] = dict(self.splits)
        return data

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def content_fingerprint(self) -> str:
        """sha256 of the fields that change what is rendered, scored or where it goes (not the name,
        description, identity paths or parquet switch: the pipeline adds the identities' content)."""
        data = self.to_dict()
        for name in COSMETIC_FIELDS:
            data.pop(name)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


# Fields that do not change what is rendered, scored or where it goes (outside the content fingerprint).
COSMETIC_FIELDS = ("name", "description", "identities", "parquet")


def combo_name(combo: Mapping[int, float]) -> str:
    """`{6: 0.5, 12: 0.8}` -> `'AU06:0.5+AU12:0.8'`; `{}` -> `'none'`."""
    return "+".join(f"AU{n:02d}:{v:g}" for n, v in sorted(combo.items())) or "none"
