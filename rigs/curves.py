"""`Curves`: the timeline every stage speaks — named channels sampled at a fixed frame rate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rigs.atomic import atomic_write
from rigs.errors import InputFileError
from rigs.frames import FrameSeries


@dataclass
class Curves(FrameSeries):
    """`values` is `(frames, channels) float32` sampled at `fps`; column `j` is channel `channels[j]`.

    Frame `i` is at `i / fps` seconds. `metadata` holds JSON-serialisable facts (source audio, emotion...).
    """

    values: np.ndarray
    fps: float
    channels: tuple[str, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        self.channels = tuple(self.channels)
        if self.values.ndim != 2 or self.values.shape[1] != len(self.channels):
            raise ValueError(f"values of shape {self.values.shape} do not match {len(self.channels)} channel names")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channel names must be unique")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return self.values.shape[0]

    def __getitem__(self, channel: str) -> np.ndarray:
        """The `(frames,)` column of one channel, by name."""
        try:
            return self.values[:, self.channels.index(channel)]
        except ValueError:
            raise KeyError(channel) from None

    def select(self, channels: tuple[str, ...] | list[str]) -> Curves:
        """A copy holding only `channels`, in that order."""
        columns = [self.channels.index(name) for name in channels]
        return Curves(self.values[:, columns], self.fps, tuple(channels), dict(self.metadata))

    # --- persistence -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "fps": self.fps,
            "channels": list(self.channels),
            "values": self.values.tolist(),
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Curves:
        values = np.asarray(data["values"], dtype=np.float32).reshape(-1, len(data["channels"]))
        return cls(values, float(data["fps"]), tuple(data["channels"]), dict(data.get("metadata", {})))

    def save(self, path: str | Path) -> Path:
        """Write `.npz` (compact, exact) or `.json` (readable), chosen by the suffix; atomic."""
        path = Path(path)
        if path.suffix == ".json":
            with atomic_write(path, "w") as f:
                json.dump(self.to_dict(), f)
        elif path.suffix == ".npz":
            with atomic_write(path, "wb") as f:
                np.savez_compressed(
                    f,
                    values=self.values,
                    fps=np.float64(self.fps),
                    channels=np.array(self.channels),
                    metadata=np.array(json.dumps(self.metadata)),
                )
        else:
            raise ValueError(f"{path}: unknown curves format (use .npz or .json)")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Curves:
        path = Path(path)
        try:
            if path.suffix == ".json":
                return cls.from_dict(json.loads(path.read_text()))
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    return cls(
                        data["values"],
                        float(data["fps"]),
                        tuple(str(c) for c in data["channels"]),
                        json.loads(str(data["metadata"])),
                    )
        except FileNotFoundError:
            raise InputFileError(path, "file not found") from None
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
            raise InputFileError(path, f"not a valid curves file ({error})") from None
        raise InputFileError(path, "unknown curves format (use .npz or .json)")
