"""Writing test audio in real container formats with PyAV (no external tools)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# suffix -> (container format, codec, sample format)
FORMATS = {
    ".wav": ("wav", "pcm_s16le", "s16"),
    ".flac": ("flac", "flac", "s16"),
    ".ogg": ("ogg", "libopus", "flt"),
    ".mp3": ("mp3", "libmp3lame", "fltp"),
    ".m4a": ("mp4", "aac", "fltp"),
}


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 220.0, level: float = 0.5) -> np.ndarray:
    """`(channels, n) float32` harmonic tone with a syllable-like 4 Hz envelope."""
    t = np.arange(int(seconds * rate)) / rate
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
    mono = (level * wave * envelope / 1.8).astype(np.float32)
    return np.stack([mono * (1 - 0.1 * c) for c in range(channels)])


def write_audio(path: Path, samples: np.ndarray, rate: int) -> Path:
    """Encode `(channels, n) float32` samples into `path`, the format chosen by its suffix."""
    fmt, codec, sample_fmt = FORMATS[path.suffix]
    channels = samples.shape[0]
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError("opus needs 8/12/16/24/48 kHz")
        frame_size = stream.codec_context.frame_size or 1024
        data = samples.astype(np.float32)
        for start in range(0, data.shape[1], frame_size):
            block = data[:, start : start + frame_size]
            if sample_fmt == "s16":
                planar = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            elif sample_fmt == "flt":
                planar = np.ascontiguousarray(block.T.reshape(1, -1))
            else:
                planar = np.ascontiguousarray(block)
            frame = av.AudioFrame.from_ndarray(planar, format=sample_fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
