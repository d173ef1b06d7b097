"""Streaming MP4 writer (H.264, browser-playable yuv420p, optional AAC audio), one frame at a time,
atomically renamed.

Frames go straight to the encoder, so memory stays flat however long the video is; the file appears
under its final name only once it is complete. With an audio track, the audio is encoded alongside the
video as frames arrive (each frame pulls in the samples up to its end time), so the file is interleaved
the way browsers stream it, and `+faststart` puts the index at the front.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rigs.atomic import check_writable, describe_os_error, temporary_file
from rigs.errors import AffectStudioError, OutputFileError

AAC_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)


class VideoWriter:
    """`with VideoWriter("out.mp4", fps=25, audio=(samples, 16000)) as w: w.write(rgb_frame)`.

    Frames are `(H, W, 3) uint8` RGB; odd frame sizes are padded by one pixel (H.264 with 4:2:0 chroma
    needs even sizes). `audio` is optional: `(samples (n,) float32 mono in [-1, 1], sample_rate Hz)`,
    muxed as AAC; it is written in full even if it outlasts the frames.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        crf: int = 20,
        preset: str = "veryfast",
        audio: tuple[np.ndarray, int] | None = None,
        audio_bitrate: int = 96_000,
    ):
        self.path = check_writable(path)
        self.fps = fps
        self.crf, self.preset = crf, preset
        self._audio, self._sample_rate = self._check_audio(audio)
        self._tmp = temporary_file(self.path, suffix=".part.mp4")
        self._container = av.open(str(self._tmp), mode="w", format="mp4", options={"movflags": "+faststart"})
        self._stream = None
        self._frames = 0
        self._audio_stream = None
        self._audio_written = 0  # samples
        self._audio_bitrate = audio_bitrate

    @staticmethod
    def _check_audio(audio) -> tuple[np.ndarray | None, int]:
        if audio is None:
            return None, 0
        samples, sample_rate = audio
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim == 2:  # (n, channels) or (channels, n): mix down
            samples = samples.mean(axis=int(np.argmin(samples.shape)))
        if samples.ndim != 1:
            raise AffectStudioError(f"audio must be mono samples, got shape {samples.shape}")
        sample_rate = int(sample_rate)
        if sample_rate not in AAC_SAMPLE_RATES:
            raise AffectStudioError(f"audio sample rate {sample_rate} Hz is not one AAC supports; resample it first")
        return np.clip(samples, -1.0, 1.0), sample_rate

    def _open_stream(self, width: int, height: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._open_audio()  # after the video, so the video is stream 0 as players expect

    def _open_audio(self) -> None:
        if self._audio is not None and self._audio_stream is None:
            self._audio_stream = self._container.add_stream("aac", rate=self._sample_rate)
            self._audio_stream.layout = "mono"
            self._audio_stream.bit_rate = self._audio_bitrate

    def write(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        if self._stream is None:
            self._open_stream(width, height)
        if width % 2 or height % 2:
            frame = np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        try:
            for packet in self._stream.encode(video_frame):
                self._container.mux(packet)
            self._frames += 1
            self._write_audio_until(self._frames / self.fps)
        except OSError as error:
            self.abort()
            raise OutputFileError(self.path, describe_os_error(error)) from None

    def _write_audio_until(self, seconds: float | None) -> None:
        """Encode the audio up to `seconds` (all of it for None), keeping the two streams interleaved."""
        if self._audio is None:
            return
        end = len(self._audio) if seconds is None else min(len(self._audio), int(round(seconds * self._sample_rate)))
        if end <= self._audio_written:
            return
        chunk = self._audio[self._audio_written : end]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate = self._sample_rate
        frame.time_base = Fraction(1, self._sample_rate)
        frame.pts = self._audio_written
        for packet in self._audio_stream.encode(frame):
            self._container.mux(packet)
        self._audio_written = end

    def close(self) -> Path:
        """Flush the encoders and move the finished file into place."""
        try:
            if self._stream is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            self._open_audio()  # (an audio-only file when no frame came)
            if self._audio_stream is not None:
                self._write_audio_until(None)
                for packet in self._audio_stream.encode(None):
                    self._container.mux(packet)
            self._container.close()
            os.replace(self._tmp, self.path)
        except OSError as error:
            self.abort()
            raise OutputFileError(self.path, describe_os_error(error)) from None
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the container may already be broken; the file goes anyway
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
