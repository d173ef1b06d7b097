"""The exporter interface: one input object, one small class per file format, one registry.

Like Rhubarb Lip Sync's `exporters/`, every format implements the same small interface and receives the same
input, so adding a format is one new module in `rigs/export/` that decorates its class with `@register`; the
package discovers it on import and nothing else changes.

    data = ExportInput(motion, mouth_cues, audio_path="speech.wav", emotion="happy", name="take1")
    export_all(data, "out/", ["livelink", "gltf"])  # -> {"livelink": out/take1.csv, "gltf": out/take1.glb}

Every export is written whole or not at all (`rigs.atomic.atomic_write`): a temporary file beside the
target, renamed into place once complete.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np

from rigs.atomic import atomic_write, check_writable
from rigs.errors import AffectStudioError
from rigs.motion import FaceMotion
from rigs.visemes import MouthCue

# What `Exporter.render` may return: the whole file, or the file as a sequence of chunks (written in order).
Rendered = str | bytes | Iterable[str] | Iterable[bytes]


@dataclass
class ExportInput:
    """Everything an exporter may need; each format uses what it can carry.

    - `motion`: the face animation (ARKit weights, head and eye rotation in degrees, fps, metadata);
    - `mouth_cues`: Rhubarb-style mouth shapes with start/end seconds (may be empty);
    - `audio_path`: the speech the motion was made for, recorded in formats that have a place for it;
    - `emotion`: the emotion the motion expresses (e.g. "happy"), recorded as metadata;
    - `name`: the file stem `export_all` uses (`take1` -> `take1.csv`, `take1.glb`, ...).
    """

    motion: FaceMotion
    mouth_cues: list[MouthCue] = field(default_factory=list)
    audio_path: str | None = None
    emotion: str | None = None
    name: str = "face"

    def __post_init__(self) -> None:
        self.mouth_cues = list(self.mouth_cues)
        if self.audio_path is not None:
            self.audio_path = str(self.audio_path)

    def check(self) -> None:
        """Raise `AffectStudioError` if there is nothing sensible to export."""
        if self.motion.num_frames < 1:
            raise AffectStudioError(f"cannot export {self.name!r}: the motion has no frames")
        if not self.motion.fps > 0:
            raise AffectStudioError(f"cannot export {self.name!r}: fps must be positive, got {self.motion.fps}")


def format_cells(values: np.ndarray, format_value: Callable[[float], str]) -> np.ndarray:
    """`format_value(float(v))` for every element `v` of `values`, as an object array of the same shape.

    It is called once per distinct value (by bit pattern, so -0.0 and 0.0 stay apart): curves repeat values a
    lot (unused channels, held poses), and formatting Python floats one by one is most of a text exporter's
    time (a 60 s take at 60 fps has ~220,000 Live Link cells and ~20,000 distinct values).
    """
    values = np.ascontiguousarray(values)
    if values.dtype != np.float32:
        values = values.astype(np.float64)
    bits = values.view(np.uint32 if values.dtype == np.float32 else np.uint64).reshape(-1)
    distinct, inverse = np.unique(bits, return_inverse=True)
    texts = np.array([format_value(v) for v in distinct.view(values.dtype).tolist()], dtype=object)
    return texts[inverse.reshape(values.shape)]


class Exporter(ABC):
    """One file format. Subclasses set `name` (the format's key, e.g. "livelink"), `suffix` (the file name
    ending `export_all` gives it, unique across formats, e.g. ".csv" or ".metahuman.csv") and a one-line
    `description`, and implement `render`; `export` handles checking and atomic writing."""

    name: ClassVar[str]
    suffix: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def render(self, data: ExportInput) -> Rendered:
        """The file's content: `str` (text, UTF-8), `bytes`, or an iterable of chunks of either."""

    def export(self, data: ExportInput, path: str | Path) -> Path:
        """Write `data` to `path` atomically and return the path.

        Fails early (before rendering) if `path` cannot be written; on any failure nothing is left at
        `path` and no temporary file remains. Expected failures raise `AffectStudioError`.
        """
        data.check()
        path = check_writable(path)
        content = self.render(data)
        chunks: Iterable[str | bytes] = [content] if isinstance(content, (str, bytes)) else content
        # Text is encoded here rather than by a text-mode file, so every platform writes the same bytes
        # (UTF-8, "\n" line ends as rendered).
        with atomic_write(path, "wb") as f:
            for chunk in chunks:
                f.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        return path

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.suffix})>"


_REGISTRY: dict[str, type[Exporter]] = {}
E = TypeVar("E", bound=type[Exporter])


def register(cls: E) -> E:
    """Class decorator: make a format available under `cls.name`. Names and suffixes must be unique, so that
    `export_all` never writes two formats to the same file."""
    for attribute in ("name", "suffix", "description"):
        if not isinstance(getattr(cls, attribute, None), str) or not getattr(cls, attribute):
            raise TypeError(f"{cls.__name__} must set a non-empty class attribute {attribute!r}")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise ValueError(f"export format {cls.name!r} is registered twice ({existing.__name__}, {cls.__name__})")
    for other in _REGISTRY.values():
        if other.name != cls.name and other.suffix == cls.suffix:
            raise ValueError(f"export formats {other.name!r} and {cls.name!r} share the suffix {cls.suffix!r}")
    _REGISTRY[cls.name] = cls
    return cls


def available_formats() -> list[str]:
    """Registered format names, sorted."""
    return sorted(_REGISTRY)


def exporter_classes() -> dict[str, type[Exporter]]:
    """Registered exporter classes by format name (a copy)."""
    return dict(sorted(_REGISTRY.items()))


def get_exporter(name: str) -> Exporter:
    """An exporter by format name; `AffectStudioError` listing the valid names if there is none."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise AffectStudioError(
            f"unknown export format {name!r}; valid formats: {', '.join(available_formats())}"
        ) from None


def check_formats(names: Iterable[str]) -> list[str]:
    """The format names, without repeats, in order; `AffectStudioError` naming the unknown ones and
    listing the valid ones."""
    names = list(dict.fromkeys(names))
    unknown = [name for name in names if name not in _REGISTRY]
    if unknown:
        raise AffectStudioError(
            f"unknown export format{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"valid formats: {', '.join(available_formats())}"
        )
    return names


def export_all(
    data: ExportInput, out_dir: str | Path, formats: Sequence[str] | None = None, executor: Executor | None = None
) -> dict[str, Path]:
    """Write `data` in each of `formats` (all registered formats if `None`) as `out_dir/<name><suffix>`.

    Unknown format names and unwritable outputs are reported before anything is written. With an
    `executor` (a process pool: rendering text is Python work that holds the GIL) the formats are written
    in parallel, one task each. Returns `{format: path}` in the order asked for.
    """
    data.check()
    names = available_formats() if formats is None else check_formats(formats)
    if not data.name or Path(data.name).name != data.name or data.name in (".", ".."):
        raise AffectStudioError(f"export name {data.name!r} must be a plain file name (no folders)")
    out_dir = Path(out_dir)
    targets = [check_writable(out_dir / f"{data.name}{get_exporter(name).suffix}") for name in names]
    if executor is None:
        return {name: export_one(name, data, target) for name, target in zip(names, targets, strict=True)}
    futures = [executor.submit(export_one, name, data, target) for name, target in zip(names, targets, strict=True)]
    wait(futures)  # when one fails, the others still finish (or remove their partial files) before it is reported
    return {name: future.result() for name, future in zip(names, futures, strict=True)}


def export_one(name: str, data: ExportInput, path: Path) -> Path:
    """`get_exporter(name).export(data, path)`: a top-level function, so a process pool can run it."""
    return get_exporter(name).export(data, path)
